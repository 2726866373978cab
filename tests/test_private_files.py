"""The files the target creates for records (rejects, outcomes, the sync store and its side
files) are private to their owner, whatever the umask; a file or directory that exists keeps
the mode its owner gave it."""

from __future__ import annotations

import json
import stat
import subprocess

import pytest

from tests.helpers import (
    clean_env,
    contact,
    lines,
    record,
    run_target,
    schema,
    state,
    target_command,
    write_config,
)


def contacts_input(*records: dict) -> str:
    return lines([schema(), *(record(data) for data in records)])


def read_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run_with_umask(tmp_path, config: dict, input_text: str, umask: int):
    """Run the target as a process whose umask is `umask`."""
    return subprocess.run(
        target_command(write_config(tmp_path, config)),
        input=input_text,
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
        check=False,
        umask=umask,
    )


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o000, 0o277], ids=["permissive-umask", "restrictive-umask"])
def test_the_files_and_directories_the_target_creates_are_its_owners_only(config, tmp_path, umask):
    private = tmp_path / "private" / "run"
    config.update(
        rejects_path=str(private / "rejects.jsonl"),
        outcomes_path=str(private / "outcomes" / "outcomes.jsonl"),
        max_rejects=1,
    )

    result = run_with_umask(
        tmp_path, config, contacts_input(contact(1), {"email": "not-an-email"}), umask
    )

    assert result.returncode == 0, result.stderr
    assert mode(private / "rejects.jsonl") == 0o600
    assert mode(private / "outcomes" / "outcomes.jsonl") == 0o600
    for directory in (tmp_path / "private", private, private / "outcomes"):
        assert mode(directory) == 0o700, directory


def test_an_existing_file_keeps_the_mode_its_owner_gave_it(config, tmp_path):
    rejects, outcomes = tmp_path / "rejects.jsonl", tmp_path / "outcomes.jsonl"
    for path, owner_mode in ((rejects, 0o640), (outcomes, 0o644)):
        path.write_text("")
        path.chmod(owner_mode)
    config.update(rejects_path=str(rejects), outcomes_path=str(outcomes), max_rejects=1)

    result = run_target(tmp_path, config, contacts_input(contact(1), {"email": "not-an-email"}))

    assert result.returncode == 0, result.stderr
    assert (mode(rejects), mode(outcomes)) == (0o640, 0o644)
    assert len(read_lines(rejects)) == 1
    assert len(read_lines(outcomes)) == 2


def test_an_existing_directory_keeps_its_mode(config, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    config["outcomes_path"] = str(shared / "outcomes.jsonl")

    result = run_target(tmp_path, config, contacts_input(contact(1)))

    assert result.returncode == 0, result.stderr
    assert mode(shared) == 0o755
    assert mode(shared / "outcomes.jsonl") == 0o600


@pytest.mark.parametrize("umask", [0o000, 0o277], ids=["permissive-umask", "restrictive-umask"])
def test_the_sync_store_and_its_side_files_are_its_owners_only(config, tmp_path, umask):
    store = tmp_path / "memory" / "of-runs"
    config.update(skip_unchanged=True, sync_store=str(store / "sync.db"))
    process = subprocess.Popen(
        target_command(write_config(tmp_path, config)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        umask=umask,
    )
    try:
        process.stdin.write(lines([schema(), record(contact(1)), state({"at": 1})]))
        process.stdin.flush()
        # STATE follows once HubSpot confirmed the contact and the store remembered it.
        assert json.loads(process.stdout.readline()) == {"at": 1}
        # SQLite's side files exist while the run holds the store open.
        files = {path.name: mode(path) for path in store.iterdir()}
    finally:
        process.stdin.close()
        process.wait(timeout=60)
    assert process.returncode == 0, process.stderr.read()
    assert {"sync.db", "sync.db-wal", "sync.db-shm"} <= files.keys()
    assert files == dict.fromkeys(files, 0o600)
    for directory in (tmp_path / "memory", store):
        assert mode(directory) == 0o700, directory
