"""`meltano run tap-jsonl target-hubspot-contacts` end to end, as the README demo runs it."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from tests.helpers import clean_env, local_hubspot

REPO = pathlib.Path(__file__).resolve().parent.parent
MELTANO = pathlib.Path(sys.executable).parent / "meltano"
DEMO_TOKEN = "pat-demo-token"

pytestmark = pytest.mark.meltano


@pytest.fixture
def project(tmp_path) -> pathlib.Path:
    """A copy of the repo's Meltano project whose loader installs this checkout."""
    text = (REPO / "meltano.yml").read_text().replace("pip_url: -e .", f"pip_url: -e {REPO}")
    (tmp_path / "meltano.yml").write_text(text)
    shutil.copytree(REPO / "demo", tmp_path / "demo")
    return tmp_path


def meltano(project: pathlib.Path, *args: str, env: dict) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MELTANO), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_meltano_run_loads_the_demo_contacts_and_saves_state(project):
    with local_hubspot(access_token=DEMO_TOKEN) as hubspot:
        env = clean_env(
            PATH=f"{MELTANO.parent}:{os.environ['PATH']}",
            TARGET_HUBSPOT_CONTACTS_API_URL=hubspot.url,
            TARGET_HUBSPOT_CONTACTS_ACCESS_TOKEN=DEMO_TOKEN,
            MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        )
        installed = meltano(project, "install", env=env)
        assert installed.returncode == 0, installed.stderr[-3000:]

        run = meltano(project, "run", "tap-jsonl", "target-hubspot-contacts", env=env)

        assert run.returncode == 0, run.stderr[-3000:]
        contacts = hubspot.contacts
        ada = [c for c in contacts if c["properties"]["email"] == "frances.liskov1@example.com"]
        state = meltano(
            project, "state", "get", "demo:tap-jsonl-to-target-hubspot-contacts", env=env
        )

    assert len(contacts) == 240
    assert ada[0]["properties"]["firstname"] == "Frances"
    assert ada[0]["properties"]["signup_date"] == "2025-02-27"
    rejects = (project / "output" / "rejects.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in rejects] == ["not-an-email"]
    assert "240 created" in run.stderr
    assert state.returncode == 0, state.stderr
    assert "bookmarks" in json.loads(state.stdout)["singer_state"]
