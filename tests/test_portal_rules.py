"""From API version 2026-09 HubSpot enforces a portal's required properties on writes.

A record that breaks such a rule is rejected alone, naming the property, whichever shape
HubSpot's answer takes; the run goes on and STATE moves past it.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import TOKEN, lines, local_hubspot, printed_states, record, run_target, schema

FIELDS = {
    "email": {"type": "string"},
    "company": {"type": ["string", "null"]},
    "lifecyclestage": {"type": ["string", "null"]},
}


def rules_config(hubspot, tmp_path) -> dict:
    return {
        "access_token": TOKEN,
        "api_url": hubspot.url,
        "api_version": "2026-09",
        "rejects_path": str(tmp_path / "rejects.jsonl"),
        "max_rejects": 1,
    }


def read_rejects(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("error_shape", ["embedded", "listed"])
def test_a_record_missing_a_required_property_is_rejected_alone_naming_it(tmp_path, error_shape):
    with local_hubspot(error_shape=error_shape) as hubspot:
        hubspot.require_property("company")
        messages = [
            schema(properties=FIELDS),
            record({"email": "ada@example.com", "company": "Analytical Engines"}),
            record({"email": "bob@example.com"}),
            record({"email": "cy@example.com", "company": "Cy Corp"}),
            {"type": "STATE", "value": {"n": 3}},
        ]

        result = run_target(tmp_path, rules_config(hubspot, tmp_path), lines(messages))

        assert result.returncode == 0, result.stderr
        written = {contact["properties"]["email"] for contact in hubspot.contacts}
    assert written == {"ada@example.com", "cy@example.com"}
    (entry,) = read_rejects(tmp_path)
    assert entry["id"] == "bob@example.com"
    assert entry["reason"]["code"] == "MISSING_REQUIRED_PROPERTY"
    assert entry["reason"]["property"] == "company"
    assert "company" in entry["reason"]["message"]
    assert "property 'company'" in result.stderr
    assert printed_states(result.stdout) == [{"n": 3}]


def test_a_whole_call_refusal_for_a_conditional_rule_is_split_to_the_record(tmp_path):
    with local_hubspot(partial_upserts=False) as hubspot:
        hubspot.require_property("company", when={"lifecyclestage": "customer"})
        messages = [schema(properties=FIELDS)]
        messages += [
            record({"email": f"lead{n}@example.com", "lifecyclestage": "lead"}) for n in range(6)
        ]
        messages.insert(4, record({"email": "cust@example.com", "lifecyclestage": "customer"}))

        result = run_target(tmp_path, rules_config(hubspot, tmp_path), lines(messages))

        assert result.returncode == 0, result.stderr
        assert len(hubspot.contacts) == 6
        assert hubspot.contact("cust@example.com") is None
    (entry,) = read_rejects(tmp_path)
    assert entry["id"] == "cust@example.com"
    assert entry["reason"]["code"] == "MISSING_CONDITIONAL_REQUIRED_PROPERTY"
    assert entry["reason"]["property"] == "company"
