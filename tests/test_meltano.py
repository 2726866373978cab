"""`meltano run tap-jsonl target-hubspot-contacts` end to end, as the README demo runs it."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from tests.helpers import clean_env, local_hubspot

REPO = pathlib.Path(__file__).resolve().parent.parent
MELTANO = pathlib.Path(sys.executable).parent / "meltano"
DEMO_TOKEN = "pat-demo-token"
# Metrics the SDK logs itself, per stream.
SDK_METRICS = {"record_count", "batch_processing_time"}

pytestmark = pytest.mark.meltano


@dataclasses.dataclass
class DemoRun:
    """What one `meltano run` of the demo left behind."""

    project: pathlib.Path
    run: subprocess.CompletedProcess[str]
    state: subprocess.CompletedProcess[str]
    contacts: list[dict]


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


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> DemoRun:
    """The demo, run once through `meltano run` in a copy of the repo's Meltano project."""
    project = tmp_path_factory.mktemp("meltano")
    text = (REPO / "meltano.yml").read_text().replace("pip_url: -e .", f"pip_url: -e {REPO}")
    (project / "meltano.yml").write_text(text)
    shutil.copytree(REPO / "demo", project / "demo")
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
        state = meltano(
            project, "state", "get", "demo:tap-jsonl-to-target-hubspot-contacts", env=env
        )
        return DemoRun(project, run, state, hubspot.contacts)


def test_meltano_run_loads_the_demo_contacts_and_saves_state(demo):
    assert demo.run.returncode == 0, demo.run.stderr[-3000:]
    ada = [c for c in demo.contacts if c["properties"]["email"] == "frances.liskov1@example.com"]
    assert len(demo.contacts) == 240
    assert ada[0]["properties"]["firstname"] == "Frances"
    assert ada[0]["properties"]["signup_date"] == "2025-02-27"
    rejects = (demo.project / "output" / "rejects.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in rejects] == ["not-an-email"]
    assert "240 created" in demo.run.stderr
    assert demo.state.returncode == 0, demo.state.stderr
    assert "bookmarks" in json.loads(demo.state.stdout)["singer_state"]


def test_meltano_console_log_names_each_metric_for_what_it_counts(demo):
    # Meltano's console shows a metric's name and value, not its tags.
    shown = re.findall(r"metric_name=(\S+) metric_value=(\S+)", demo.run.stderr)
    ours = [(name, value) for name, value in shown if name not in SDK_METRICS]
    assert len(ours) == len(dict(ours)), "one line per metric, no name twice"
    assert {name: value for name, value in ours if name.startswith(("contacts", "records"))} == {
        "contacts_created": "240",
        "contacts_updated": "2",
        "records_rejected": "1",
    }
    assert "http_request_count" in dict(ours)
