"""`stream_maps`: a map expression that fails on a record rejects that record alone, from the
stream the map feeds; the rejects file keeps it as the tap sent it."""

from __future__ import annotations

import json

from tests.helpers import lines, printed_states, record, run_target, schema, state

PEOPLE = {
    "email": {"type": ["string", "null"]},
    "work_email": {"type": ["string", "null"]},
    "first_name": {"type": ["string", "null"]},
}
# The tap's `first_name` becomes HubSpot's `firstname`, in capitals, in stream `contacts`.
UPPER_FIRST_NAME = {
    "people": {
        "__alias__": "contacts",
        "firstname": "first_name.upper()",
        "first_name": "__NULL__",
        "work_email": "__NULL__",
    }
}
# Each person is also a lead, keyed by the work email.
LEADS_TOO = {
    "people": {"firstname": "first_name.upper()", "first_name": "__NULL__", "work_email": None},
    "leads": {
        "__source__": "people",
        "email": "work_email",
        "firstname": "first_name",
        "first_name": "__NULL__",
        "work_email": "__NULL__",
    },
}


def people(*records: dict) -> str:
    """A tap's stream `people`, then a STATE."""
    return lines(
        [schema("people", PEOPLE), *(record(r, "people") for r in records), state({"n": 1})]
    )


def rejects_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_map_failing_on_one_record_rejects_that_record_alone(hubspot, config, tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    config.update(stream_maps=UPPER_FIRST_NAME, rejects_path=str(rejects), max_rejects=10)
    nameless = {"email": "bob@example.com", "first_name": None}

    result = run_target(
        tmp_path,
        config,
        people(
            {"email": "ada@example.com", "first_name": "Ada"},
            nameless,
            {"email": "cy@example.com", "first_name": "Cy"},
        ),
    )

    assert result.returncode == 0, result.stderr
    assert hubspot.contact(email="ada@example.com")["properties"]["firstname"] == "ADA"
    assert hubspot.contact(email="cy@example.com")["properties"]["firstname"] == "CY"
    assert hubspot.contact(email="bob@example.com") is None
    assert printed_states(result.stdout) == [{"n": 1}]
    (line,) = rejects_lines(rejects)
    assert (line["stream"], line["mapped_stream"], line["record"]) == (
        "people",
        "contacts",
        nameless,
    )
    assert line["reason"]["code"] == "STREAM_MAP_FAILED"
    message = line["reason"]["message"]
    assert message.startswith(
        "`stream_maps` failed on this record of stream 'people' (mapped to stream 'contacts'): "
        "MapExpressionError: Failed to evaluate simpleeval expressions first_name.upper()."
    )
    assert "Attribute 'upper' does not exist" in message
    assert "Traceback" not in result.stderr


def test_a_map_failing_on_every_record_ends_the_run_non_zero_with_a_tally(
    hubspot, config, tmp_path
):
    typo = {"firstname": "frist_name.upper()", "first_name": None, "work_email": None}
    config.update(stream_maps={"people": typo})

    result = run_target(
        tmp_path,
        config,
        people(*({"email": f"p{n}@example.com", "first_name": "Ada"} for n in range(3))),
    )

    assert result.returncode == 1
    assert hubspot.contacts == []
    assert printed_states(result.stdout) == []
    assert (
        "3 STREAM_MAP_FAILED: `stream_maps` failed on this record of stream 'people': "
        "MapExpressionError: Failed to evaluate simpleeval expressions frist_name.upper()."
    ) in result.stderr
    assert "Stopped by an unexpected error" not in result.stderr
    assert "Traceback" not in result.stderr
    last_line = result.stderr.rstrip().splitlines()[-1]
    assert "3 record(s) were neither written to HubSpot nor kept in a rejects file" in last_line


def test_a_record_one_map_fails_on_still_reaches_the_streams_of_the_other_maps(
    hubspot, config, tmp_path
):
    rejects = tmp_path / "rejects.jsonl"
    config.update(stream_maps=LEADS_TOO, rejects_path=str(rejects), max_rejects=10)
    nameless = {"email": "bob@example.com", "work_email": "bob@work.example", "first_name": None}

    result = run_target(tmp_path, config, people(nameless))

    assert result.returncode == 0, result.stderr
    assert hubspot.contact(email="bob@example.com") is None  # `people` failed on it
    assert hubspot.contact(email="bob@work.example") is not None  # `leads` did not
    (line,) = rejects_lines(rejects)
    assert (line["stream"], line["record"]) == ("people", nameless)
    assert "mapped_stream" not in line  # rejected from the tap's own stream name
