"""`meltano run tap-jsonl target-hubspot-contacts` end to end, as the README demo runs it."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import typing as t

import pytest

from target_hubspot_contacts.emulator import HubSpotEmulator
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


@dataclasses.dataclass
class UserProject:
    """A new Meltano project that added the loader from `meltano-plugin.yml`."""

    path: pathlib.Path
    env: dict[str, str]
    hubspot: HubSpotEmulator


PEOPLE = "".join(
    json.dumps(message) + "\n"
    for message in [
        {
            "type": "SCHEMA",
            "stream": "people",
            "schema": {
                "properties": {"email": {"type": "string"}, "first_name": {"type": "string"}}
            },
            "key_properties": ["email"],
        },
        {"type": "RECORD", "stream": "people", "record": {"email": "ada@example.com"}},
        {"type": "STATE", "value": {"people": 1}},
    ]
)


@pytest.fixture(scope="module")
def user_project(tmp_path_factory) -> t.Iterator[UserProject]:
    """`meltano init`, then the README's steps: add the loader by its definition, set the token.

    The definition installs the package by name; a wheel of this checkout stands in for the
    package index's copy.
    """
    root = tmp_path_factory.mktemp("user")
    wheels = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), REPO],
        check=True,
        capture_output=True,
    )
    env = clean_env(
        PATH=f"{MELTANO.parent}:{os.environ['PATH']}",
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        PIP_FIND_LINKS=str(wheels),
        UV_FIND_LINKS=str(wheels),
    )
    created = meltano(root, "init", "my-project", "--no-usage-stats", env=env)
    assert created.returncode == 0, created.stderr[-3000:]
    project = root / "my-project"
    definition = str(REPO / "meltano-plugin.yml")
    added = meltano(project, "add", "target-hubspot-contacts", "--from-ref", definition, env=env)
    assert added.returncode == 0, added.stderr[-3000:]
    with local_hubspot(access_token=DEMO_TOKEN) as hubspot:
        for setting, value in (("access_token", DEMO_TOKEN), ("api_url", hubspot.url)):
            configured = meltano(
                project, "config", "set", "target-hubspot-contacts", setting, value, env=env
            )
            assert configured.returncode == 0, configured.stderr[-3000:]
        yield UserProject(project, env, hubspot)


def invoke_loader(project: UserProject) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MELTANO), "invoke", "target-hubspot-contacts"],
        cwd=project.path,
        env=project.env,
        input=PEOPLE,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_users_project_adds_the_loader_from_its_definition_and_loads_contacts(user_project):
    result = invoke_loader(user_project)

    assert result.returncode == 0, result.stderr[-3000:]
    assert user_project.hubspot.contact(email="ada@example.com") is not None
    assert json.loads(result.stdout.splitlines()[-1]) == {"people": 1}
    assert DEMO_TOKEN in (user_project.path / ".env").read_text()
    assert DEMO_TOKEN not in (user_project.path / "meltano.yml").read_text()


def test_a_setting_misspelled_through_meltano_stops_the_run_naming_the_right_one(user_project):
    def config(*args: str) -> None:
        done = meltano(user_project.path, "config", *args, env=user_project.env)
        assert done.returncode == 0, done.stderr[-3000:]

    config("set", "target-hubspot-contacts", "write_mod", "create_only")
    try:
        result = invoke_loader(user_project)
    finally:
        config("unset", "target-hubspot-contacts", "write_mod")

    assert result.returncode != 0
    assert "Unknown setting `write_mod`: did you mean `write_mode`?" in result.stderr


# --- the loader block the README tells users to paste -----------------------------------------

# The demo's extractor, for `meltano run` (the README's steps run `tap-postgres`).
TAP_JSONL = """\
  extractors:
  - name: tap-jsonl
    namespace: tap_jsonl
    pip_url: tap-jsonl==0.3.1
    executable: tap-jsonl
    capabilities: [catalog, discover, state]
    config: {path: people.jsonl, stream_name: people, primary_keys: [email]}
"""


def readme_code_after(marker: str) -> str:
    """The README's first code block after the text `marker`, dedented."""
    readme = (REPO / "README.md").read_text()
    found = re.search(re.escape(marker) + r".*?```\w*\n(.*?)\n\s*```", readme, re.DOTALL)
    assert found, f"no code block after {marker!r} in README.md"
    return textwrap.dedent(found[1])


def readme_steps() -> tuple[str, list[str], str, str]:
    """The README's Meltano steps: the loader block to paste, the `meltano config set`
    commands, the command of a run, and the one that turns the dry run off."""
    loader = readme_code_after("Or paste the loader in")
    settings = [
        line
        for line in readme_code_after("Set the token as a secret").splitlines()
        if line.startswith("meltano config set")
    ]
    readme = (REPO / "README.md").read_text()
    run = re.search(r"`(meltano run tap-postgres target-hubspot-contacts)`", readme)
    unset = re.search(r"`(meltano config unset target-hubspot-contacts dry_run)`", readme)
    assert run, "README.md no longer says how to run it"
    assert unset, "README.md no longer says how to turn the dry run off"
    return loader, settings, run[1], unset[1]


def run_step(project: pathlib.Path, command: str, env: dict) -> subprocess.CompletedProcess[str]:
    """One README command (`meltano ...`), with the test's extractor for `tap-postgres`."""
    args = shlex.split(command.replace("tap-postgres", "tap-jsonl"))
    assert args[0] == "meltano"
    done = meltano(project, *args[1:], env=env)
    assert done.returncode == 0, f"{command}:\n{done.stderr[-3000:]}"
    return done


def test_the_loader_block_in_the_readme_pasted_into_a_new_project_follows_its_steps(tmp_path):
    loader, settings, run, unset = readme_steps()
    git_url = "git+https://<git host>/<owner>/target-hubspot-contacts.git@<tag>"
    assert f"pip_url: {git_url}" in loader
    env = clean_env(
        PATH=f"{MELTANO.parent}:{os.environ['PATH']}", MELTANO_SEND_ANONYMOUS_USAGE_STATS="false"
    )
    created = meltano(tmp_path, "init", "my-project", "--no-usage-stats", env=env)
    assert created.returncode == 0, created.stderr[-3000:]
    project = tmp_path / "my-project"
    pasted = textwrap.indent(loader.replace(git_url, str(REPO)), "  ")
    with (project / "meltano.yml").open("a") as meltano_yml:
        meltano_yml.write(f"plugins:\n{TAP_JSONL}  loaders:\n{pasted}\n")
    people = [{"email": "ada@example.com", "first_name": "Ada"}, {"email": "bob@example.com"}]
    (project / "people.jsonl").write_text("".join(json.dumps(p) + "\n" for p in people))

    run_step(project, "meltano install", env)
    with local_hubspot(access_token=DEMO_TOKEN) as hubspot:
        for command in settings:
            run_step(project, command.replace("<service key or token>", DEMO_TOKEN), env)
        # Not a README step: the README leaves `api_url` at HubSpot's.
        run_step(project, f"meltano config set target-hubspot-contacts api_url {hubspot.url}", env)
        dry_run = run_step(project, run, env)
        contacts_after_dry_run = hubspot.contacts
        run_step(project, unset, env)
        real_run = run_step(project, run, env)
        contacts = hubspot.contacts

    assert "Dry run, nothing written. HubSpot contacts: 2 would be created" in dry_run.stderr
    assert contacts_after_dry_run == []
    assert "HubSpot contacts: 2 created" in real_run.stderr
    assert sorted(c["properties"]["email"] for c in contacts) == [p["email"] for p in people]
    assert hubspot.contact(email="ada@example.com")["properties"]["firstname"] == "Ada"
    assert DEMO_TOKEN in (project / ".env").read_text()
    assert DEMO_TOKEN not in (project / "meltano.yml").read_text()
