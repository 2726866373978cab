"""Building Singer input and running the target as a process, for the end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import subprocess
import sys
import time
import typing as t

import pytest

from target_hubspot_contacts.emulator import HubSpotEmulator

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
TOKEN = "pat-na1-00000000-test-secret-token"
CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN = "client-1", "oauth-client-secret-xyz", "refresh-abc-123"

CONTACT_SCHEMA = {
    "type": "object",
    "properties": {
        "email": {"type": ["string", "null"]},
        "first_name": {"type": ["string", "null"]},
        "last_name": {"type": ["string", "null"]},
        "company": {"type": ["string", "null"]},
    },
}


@contextlib.contextmanager
def local_hubspot(**options: t.Any) -> t.Iterator[HubSpotEmulator]:
    """A local HubSpot server answering only dated paths, as HubSpot will after the retirements.

    On leaving, it checks that no call went to a retired path (`/oauth/v1/`, `/crm/v3/`, ...).
    """
    options = {"access_token": TOKEN, "dated_only": True, **options}
    with HubSpotEmulator(**options) as emulator:
        yield emulator
        retired = [f"{call.method} {call.path}" for call in emulator.retired_path_calls()]
        assert retired == [], f"the target called retired paths: {retired}"


def oauth_config(hubspot: HubSpotEmulator, **extra: t.Any) -> dict:
    """Target settings for OAuth against the local server (register the app there first)."""
    return {
        "api_url": hubspot.url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "max_retry_seconds": 20,
        **extra,
    }


def schema(stream: str = "contacts", properties: dict | None = None, keys=("email",)) -> dict:
    """A SCHEMA message."""
    body = {"type": "object", "properties": properties or CONTACT_SCHEMA["properties"]}
    return {"type": "SCHEMA", "stream": stream, "schema": body, "key_properties": list(keys)}


def record(data: dict, stream: str = "contacts") -> dict:
    """A RECORD message."""
    return {"type": "RECORD", "stream": stream, "record": data}


def state(value: dict) -> dict:
    """A STATE message."""
    return {"type": "STATE", "value": value}


def contact(number: int, **extra: t.Any) -> dict:
    """A valid contact record numbered `number`."""
    return {"email": f"person{number}@example.com", "first_name": f"Person{number}", **extra}


def lines(messages: t.Iterable[dict]) -> str:
    """Singer messages as the text a tap would print."""
    return "".join(json.dumps(message) + "\n" for message in messages)


def fixture_text(name: str) -> str:
    """The text of a `.singer` fixture file."""
    return (FIXTURES / name).read_text()


def write_config(tmp_path: pathlib.Path, config: dict) -> pathlib.Path:
    """Write a config file for the target."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def target_command(config_path: pathlib.Path) -> list[str]:
    """The command line that runs the installed target."""
    return [sys.executable, "-m", "target_hubspot_contacts", "--config", str(config_path)]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any TARGET_HUBSPOT_CONTACTS_* settings leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_HUBSPOT_CONTACTS_")}
    env.update(extra)
    return env


def run_target(
    tmp_path: pathlib.Path,
    config: dict,
    input_text: str,
    *,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the target as a process on `input_text` and wait for it to finish."""
    return subprocess.run(
        target_command(write_config(tmp_path, config)),
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or clean_env(),
        cwd=tmp_path,  # a default sync store, if any, is the test's own
        check=False,
    )


def start_target(
    tmp_path: pathlib.Path, config: dict, *, stderr: int = subprocess.PIPE
) -> subprocess.Popen[str]:
    """Start the target as a process whose stdin the test feeds and whose stdout it reads."""
    return subprocess.Popen(
        target_command(write_config(tmp_path, config)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=clean_env(),
        cwd=tmp_path,
    )


def printed_states(stdout: str) -> list[dict]:
    """The STATE values the target printed, in order."""
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def wait_for(condition: t.Callable[[], object], what: str, timeout: float = 60) -> None:
    """Wait until `condition()` is true; fail the test naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)
