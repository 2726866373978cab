"""Records sharing a contact id merge before sending, as if their upserts ran in turn."""

from __future__ import annotations

import itertools
import json

from tests.helpers import contact, fixture_text, lines, record, run_target, schema


def test_records_for_one_email_merge_later_fields_winning(hubspot, config, tmp_path):
    result = run_target(tmp_path, config, fixture_text("merge_by_email.singer"))

    assert result.returncode == 0, result.stderr
    ada = hubspot.contact(email="ada@example.com")
    assert ada["properties"]["firstname"] == "Ada"
    assert ada["properties"]["lastname"] == "Lovelace"
    assert ada["properties"]["company"] == "Analytical Engines"  # a later null does not clear
    assert len(hubspot.contacts) == 2


def test_a_call_never_carries_one_contact_twice(hubspot, config, tmp_path):
    result = run_target(tmp_path, config, fixture_text("merge_by_email.singer"))

    assert result.returncode == 0, result.stderr
    (call,) = hubspot.calls("/batch/upsert")
    ids = [item["id"].strip().lower() for item in call.body["inputs"]]
    assert sorted(ids) == ["ada@example.com", "grace@example.com"]


def test_each_call_carries_at_most_100_contacts_with_trace_ids(hubspot, config, tmp_path):
    messages = [schema(), *(record(contact(n)) for n in range(250))]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    sizes = sorted(len(call.body["inputs"]) for call in hubspot.calls("/batch/upsert"))
    assert sizes == [50, 100, 100]
    for call in hubspot.calls("/batch/upsert"):
        trace_ids = [item["objectWriteTraceId"] for item in call.body["inputs"]]
        assert len(set(trace_ids)) == len(trace_ids)
        assert {item["idProperty"] for item in call.body["inputs"]} == {"email"}
    assert len(hubspot.contacts) == 250


def test_batch_size_rows_above_100_is_refused(config, tmp_path):
    config["batch_size_rows"] = 500

    result = run_target(tmp_path, config, lines([schema()]))

    assert result.returncode != 0
    assert "batch_size_rows" in result.stderr


def test_calls_for_one_contact_are_never_in_flight_together(hubspot, config, tmp_path):
    hubspot.latency = 0.05
    config.update(batch_size_rows=2, max_concurrency=4)
    messages = [schema()]
    for version in range(12):
        messages.append(record({"email": "ada@example.com", "company": f"v{version}"}))
        messages.extend(record(contact(version * 3 + n)) for n in range(3))

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert hubspot.contact(email="ada@example.com")["properties"]["company"] == "v11"
    ada_calls = [
        call
        for call in hubspot.calls("/batch/upsert")
        if any(item["id"] == "ada@example.com" for item in call.body["inputs"])
    ]
    assert len(hubspot.calls("/batch/upsert")) > len(ada_calls) > 1
    for earlier, later in itertools.pairwise(ada_calls):
        assert later.at >= earlier.answered_at, "two calls for one contact were in flight at once"


def test_a_merged_contact_hubspot_refuses_is_replayed_record_by_record(hubspot, config, tmp_path):
    rejects = tmp_path / "rejects.jsonl"
    config.update(id_property="external_id", rejects_path=str(rejects), max_rejects=1)
    properties = {"external_id": {"type": "string"}, "email": {"type": "string"}}
    messages = [
        schema(properties=properties, keys=("external_id",)),
        record({"external_id": "x1", "email": "good@example.com"}),
        # Passes the target's own email check; HubSpot refuses the empty domain label.
        record({"external_id": "x1", "email": "bad@example..com"}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert hubspot.contact(external_id="x1")["properties"]["email"] == "good@example.com"
    (entry,) = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert entry["record"]["email"] == "bad@example..com"
    assert entry["reason"]["code"] == "INVALID_EMAIL"


def test_custom_ids_differing_only_by_case_are_two_contacts_in_two_calls(hubspot, config, tmp_path):
    config["id_property"] = "external_id"
    properties = {"external_id": {"type": "string"}, "first_name": {"type": "string"}}
    messages = [
        schema(properties=properties, keys=("external_id",)),
        record({"external_id": "abc-1", "first_name": "Lower"}),
        record({"external_id": "ABC-1", "first_name": "Upper"}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert hubspot.contact(external_id="abc-1")["properties"]["firstname"] == "Lower"
    assert hubspot.contact(external_id="ABC-1")["properties"]["firstname"] == "Upper"
    assert [len(call.body["inputs"]) for call in hubspot.calls("/batch/upsert")] == [1, 1]


def test_many_updates_of_few_contacts_go_out_every_thousand_records(hubspot, config, tmp_path):
    messages = [schema()]
    for version in range(2500):
        messages.append(record({"email": f"p{version % 2}@example.com", "company": f"v{version}"}))

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert [len(call.body["inputs"]) for call in hubspot.calls("/batch/upsert")] == [2, 2, 2]
    assert hubspot.contact(email="p1@example.com")["properties"]["company"] == "v2499"


def test_records_merged_into_another_records_call_are_counted_as_merged(config, tmp_path):
    result = run_target(tmp_path, config, fixture_text("merge_by_email.singer"))

    assert result.returncode == 0, result.stderr
    # Ada from 3 records counts once as created; her 2 later records count as merged.
    assert "HubSpot contacts: 2 created, 0 updated," in result.stderr
    assert "4 records read, 2 of them merged into another record's call." in result.stderr
