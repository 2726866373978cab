"""A refusal about one record rejects that record alone, whatever answer carries it."""

from __future__ import annotations

import json

import pytest

from target_hubspot_contacts.mapping import infer_property_definition
from tests.helpers import contact, lines, printed_states, record, run_target, schema, state

PROPERTIES = "/crm/properties/2026-03/contacts"  # the path of the default api_version
# Passes the target's own email check, but HubSpot refuses an empty domain label.
EMAIL_ONLY_HUBSPOT_REFUSES = "grace@example..com"
WITH_EXTERNAL_ID = {
    "email": {"type": "string"},
    "first_name": {"type": ["string", "null"]},
    "external_id": {"type": ["string", "null"]},
}


def read_rejects(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def with_rejects(config: dict, tmp_path, max_rejects: int = 1):
    rejects = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects), max_rejects=max_rejects)
    return rejects


def test_a_409_for_a_unique_value_taken_rejects_that_record_alone(hubspot, config, tmp_path):
    first = [
        schema(properties=WITH_EXTERNAL_ID),
        record({"email": "ada@example.com", "external_id": "X1"}),
    ]
    assert run_target(tmp_path, config, lines(first)).returncode == 0
    rejects = with_rejects(config, tmp_path)
    messages = [
        schema(properties=WITH_EXTERNAL_ID),
        *(record(contact(n, external_id=f"E{n}")) for n in range(1, 6)),
        record({"email": "grace@example.com", "external_id": "X1"}),  # Ada's already
        *(record(contact(n, external_id=f"E{n}")) for n in range(6, 10)),
        state({"n": 10}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert hubspot.contact("grace@example.com") is None
    assert all(hubspot.contact(f"person{n}@example.com") for n in range(1, 10))
    (entry,) = read_rejects(rejects)
    assert entry["id"] == "grace@example.com"
    assert entry["reason"]["category"] == "CONFLICT"
    assert "already exists" in entry["reason"]["message"]
    assert printed_states(result.stdout) == [{"n": 10}]


def test_a_207_whose_errors_carry_no_trace_id_rejects_the_bad_record_alone(
    hubspot, config, tmp_path
):
    hubspot.traced_errors = False
    rejects = with_rejects(config, tmp_path)
    messages = [
        schema(),
        *(record(contact(n)) for n in range(1, 8)),
        record({"email": EMAIL_ONLY_HUBSPOT_REFUSES, "first_name": "Grace"}),
        *(record(contact(n)) for n in range(8, 12)),
        state({"n": 12}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert len(hubspot.contacts) == 11
    (entry,) = read_rejects(rejects)
    assert entry["id"] == EMAIL_ONLY_HUBSPOT_REFUSES
    assert entry["reason"]["code"] == "INVALID_EMAIL"
    assert printed_states(result.stdout) == [{"n": 12}]


def test_a_413_splits_the_call_and_rejects_a_record_too_large_alone(hubspot, config, tmp_path):
    hubspot.max_request_bytes = 20_000
    rejects = with_rejects(config, tmp_path)
    notes = {**WITH_EXTERNAL_ID, "notes_text": {"type": ["string", "null"]}}
    messages = [
        schema(properties=notes),
        *(record(contact(n, notes_text="n" * 1_000)) for n in range(1, 30)),
        record({"email": "huge@example.com", "notes_text": "h" * 30_000}),
        state({"n": 30}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert len(hubspot.contacts) == 29
    assert any(call.status == 413 for call in hubspot.calls("/batch/upsert"))
    (entry,) = read_rejects(rejects)
    assert entry["id"] == "huge@example.com"
    assert entry["reason"]["code"] == "PAYLOAD_TOO_LARGE"
    assert printed_states(result.stdout) == [{"n": 30}]


@pytest.mark.parametrize("retry_after", ["-1", "nan", "soon"])
def test_a_nonsense_retry_after_is_ignored_and_the_call_retried(
    hubspot, config, tmp_path, retry_after
):
    hubspot.inject("/batch/upsert", status=503, headers={"Retry-After": retry_after})

    result = run_target(tmp_path, config, lines([schema(), record(contact(1))]))

    assert result.returncode == 0, result.stderr
    assert len(hubspot.calls("/batch/upsert")) == 2
    assert hubspot.contact("person1@example.com") is not None


def test_create_only_counts_a_create_whose_answer_was_lost_as_created_unconfirmed(
    hubspot, config, tmp_path
):
    config.update(write_mode="create_only", request_timeout=1)
    hubspot.inject("/batch/create", delay=1.5)  # done by HubSpot after the target gave up
    hubspot.inject("/batch/create", status=503, delay=1.0)  # the retry comes after that
    messages = [schema(), record(contact(1)), record(contact(2)), state({"n": 2})]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert len(hubspot.contacts) == 2
    assert "0 created (2 more created unconfirmed: their answer was lost)" in result.stderr
    assert "0 skipped" in result.stderr
    assert "another writer could have" in result.stderr
    assert printed_states(result.stdout) == [{"n": 2}]


def test_create_only_still_skips_a_contact_another_writer_created_meanwhile(
    hubspot, config, tmp_path
):
    config.update(write_mode="create_only")
    messages = [schema(), record(contact(1)), record(contact(2))]
    seeded = run_target(tmp_path, {**config, "write_mode": "upsert"}, lines(messages[:2]))
    assert seeded.returncode == 0
    # The look-up sees no contact: person1 is created by "another writer" right after it.
    hubspot.inject(
        "/batch/read", status=200, body={"status": "COMPLETE", "results": [], "errors": []}
    )

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert "1 created" in result.stderr
    assert "1 skipped" in result.stderr
    assert "created unconfirmed" not in result.stderr


def test_created_property_names_are_unique_and_readable_for_any_script(hubspot, config, tmp_path):
    config["create_missing_properties"] = True
    fields = {"email": {"type": "string"}, "Prénom": {"type": "string"}}
    fields |= {"名前": {"type": "string"}, "Имя": {"type": "string"}, "Prenom!": {"type": "string"}}
    row = {"email": "ada@example.com", "Prénom": "Adèle", "名前": "エイダ", "Имя": "Ада"}
    row["Prenom!"] = "Ada"

    result = run_target(tmp_path, config, lines([schema(properties=fields), record(row)]))

    assert result.returncode == 0, result.stderr
    posts = [r for r in hubspot.calls(PROPERTIES) if r.method == "POST"]
    names = {post.body["label"]: post.body["name"] for post in posts}
    assert len(set(names.values())) == 4
    assert names["Prénom"].startswith("prenom_")
    assert names["名前"].startswith("mingqian_")
    assert names["Имя"].startswith("imya_")
    stored = hubspot.contact("ada@example.com")["properties"]
    assert {field: stored[names[field]] for field in names} == {k: row[k] for k in names}


def test_a_property_that_already_exists_under_the_planned_name_is_used(hubspot, config, tmp_path):
    config["create_missing_properties"] = True
    planned = infer_property_definition("Prénom", {"type": "string"})
    hubspot.add_property({**planned, "label": "First name (French)"})  # relabelled in HubSpot
    fields = {"email": {"type": "string"}, "Prénom": {"type": "string"}}

    result = run_target(
        tmp_path,
        config,
        lines([schema(properties=fields), record({"email": "a@b.co", "Prénom": "Adèle"})]),
    )

    assert result.returncode == 0, result.stderr
    assert [r for r in hubspot.calls(PROPERTIES) if r.method == "POST"] == []
    assert hubspot.contact("a@b.co")["properties"][planned["name"]] == "Adèle"
