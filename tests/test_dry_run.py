"""A dry run changes nothing anywhere, and its counts and exit status are the real run's."""

from __future__ import annotations

import re

import pytest

from tests.helpers import lines, printed_states, record, run_target, schema

OUTCOMES = ("created", "updated", "archived", "skipped", "rejected")
FIELDS = {
    "email": {"type": ["string", "null"]},
    "first_name": {"type": ["string", "null"]},
    "loyalty_points": {"type": ["integer", "null"]},
}


def counts(stderr: str) -> dict[str, int]:
    """The outcome counts of the run's summary line (a dry run's says `1 would be created`)."""
    return {
        name: int(re.search(rf"(\d+) (?:would be )?{name}\b", stderr).group(1)) for name in OUTCOMES
    }


def changes(hubspot) -> list[str]:
    """Every request that could change the portal: anything but reading and token refresh."""
    return [
        f"{call.method} {call.path}"
        for call in hubspot.requests
        if call.method != "GET"
        and not call.path.endswith("/batch/read")
        and "/oauth/" not in call.path
    ]


def mixed_input() -> str:
    """A new contact, an update of ada (written before), a bad email, and an unmapped field."""
    return lines(
        [
            schema(properties=FIELDS),
            record({"email": "ada@example.com", "first_name": "Ada L.", "loyalty_points": 3}),
            record({"email": "bob@example.com", "first_name": "Bob", "loyalty_points": 5}),
            record({"email": "not-an-email", "first_name": "Nobody"}),
            {"type": "STATE", "value": {"n": 3}},
        ]
    )


@pytest.fixture
def portal_with_ada(hubspot, config, tmp_path):
    """A portal holding ada@example.com, written by a first (real) run."""
    seed = lines([schema(), record({"email": "ada@example.com", "first_name": "Ada"})])
    result = run_target(tmp_path, config, seed)
    assert result.returncode == 0, result.stderr
    return hubspot


@pytest.mark.parametrize("max_rejects", [1, 0])
def test_a_dry_run_counts_and_exits_as_the_real_run_then_does(
    max_rejects, portal_with_ada, config, tmp_path
):
    hubspot = portal_with_ada
    writes_before = changes(hubspot)
    config.update(
        create_missing_properties=True,
        rejects_path=str(tmp_path / "rejects.jsonl"),
        max_rejects=max_rejects,
    )

    dry = run_target(tmp_path, {**config, "dry_run": True}, mixed_input())
    assert changes(hubspot) == writes_before
    real = run_target(tmp_path, config, mixed_input())

    assert counts(dry.stderr) == counts(real.stderr)
    expected = {"created": 1, "updated": 1, "archived": 0, "skipped": 0, "rejected": 1}
    assert counts(real.stderr) == expected
    assert dry.returncode == real.returncode == (0 if max_rejects else 1)
    assert hubspot.contact(email="bob@example.com")["properties"]["loyalty_points"] == "5"


def test_a_dry_run_creates_no_property_and_says_which_it_would(hubspot, config, tmp_path):
    config.update(dry_run=True, create_missing_properties=True)

    result = run_target(tmp_path, config, mixed_input())

    assert result.returncode == 1, result.stderr  # the bad email, with no max_rejects
    assert (
        "Dry run: would create custom contact property 'loyalty_points' (number) "
        "for field 'loyalty_points'" in result.stderr
    )
    assert changes(hubspot) == []
    assert hubspot.contacts == []
    assert counts(result.stderr)["created"] == 2


def test_a_dry_run_leaves_the_rejects_file_alone_and_logs_the_rejects(hubspot, config, tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    rejects.write_text('{"id": "from a real run"}\n')
    config.update(dry_run=True, rejects_path=str(rejects), max_rejects=1)

    result = run_target(tmp_path, config, mixed_input())

    assert result.returncode == 0, result.stderr
    assert rejects.read_text() == '{"id": "from a real run"}\n'
    assert "Would reject record from stream 'contacts' (id \"not-an-email\")" in result.stderr
    assert "Rejected record from stream" not in result.stderr
    assert counts(result.stderr)["rejected"] == 1
    assert changes(hubspot) == []
    assert printed_states(result.stdout) == []


def test_a_dry_run_creates_no_rejects_file_or_directory(hubspot, config, tmp_path):
    rejects = tmp_path / "output" / "rejects.jsonl"
    config.update(dry_run=True, rejects_path=str(rejects), max_rejects=1)

    result = run_target(tmp_path, config, mixed_input())

    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "output").exists()
    assert changes(hubspot) == []


def test_a_dry_run_of_many_rejects_says_it_wrote_no_file(config, tmp_path):
    config.update(dry_run=True, rejects_path=str(tmp_path / "rejects.jsonl"), max_rejects=20)
    bad = [record({"email": f"bad-{n}"}) for n in range(12)]

    result = run_target(tmp_path, config, lines([schema(), *bad]))

    assert result.returncode == 0, result.stderr
    assert "... and 2 more rejected record(s) (a dry run writes no rejects file)" in result.stderr
    assert not (tmp_path / "rejects.jsonl").exists()
