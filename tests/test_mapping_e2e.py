"""Field matching and value coercion, end to end: the target as a process, the local server.

Each record field finds its HubSpot contact property by explicit `property_mapping` or by
name/label (ignoring case, spaces, `_` and `-`); each value is rendered in the format its
property's type expects, or the record is rejected before any call.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from target_hubspot_contacts.mapping import plan_new_properties
from tests.helpers import (
    TOKEN,
    fixture_text,
    lines,
    printed_states,
    record,
    run_target,
    schema,
    state,
)

# Properties the server keeps itself on every contact; never sent by the target.
PROPERTIES = "/crm/properties/2026-03/contacts"  # the path of the default api_version
SERVER_MANAGED = {"hs_object_id", "createdate", "lastmodifieddate", "hs_email_domain"}

TEXT = {"type": ["string", "null"]}
DATE = {"type": ["string", "null"], "format": "date"}
DATE_TIME = {"type": ["string", "null"], "format": "date-time"}
INTEGER = {"type": ["integer", "null"]}
NUMBER = {"type": ["number", "null"]}
BOOLEAN = {"type": ["boolean", "null"]}

IGNORED_WARNING = "ignoring fields that match no HubSpot contact property"


def stored(hubspot, **by_property: str) -> dict[str, str]:
    """The properties the server holds for one contact, without the ones it manages itself."""
    found = hubspot.contact(**by_property)
    assert found is not None, f"no contact with {by_property}"
    return {k: v for k, v in found["properties"].items() if k not in SERVER_MANAGED}


def sent_inputs(hubspot) -> list[dict]:
    """Every input of every batch upsert call the server received, in order."""
    return [item for call in hubspot.calls("/batch/upsert") for item in call.body["inputs"]]


def sent_properties(hubspot) -> dict[str, dict[str, str]]:
    """The properties sent for each contact id, over every upsert call."""
    return {item["id"]: item["properties"] for item in sent_inputs(hubspot)}


def request_text(hubspot) -> str:
    """Every request body the server received, as one string to search."""
    return "\n".join(json.dumps(r.body, ensure_ascii=False) for r in hubspot.requests)


def portal_properties(hubspot) -> dict[str, dict]:
    """The contact property definitions the server now has, read over its API."""
    request = urllib.request.Request(
        f"{hubspot.url}{PROPERTIES}",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return {prop["name"]: prop for prop in json.load(response)["results"]}


def warnings(stderr: str, text: str) -> list[str]:
    """The WARNING lines of the target's log that contain `text`."""
    return [line for line in stderr.splitlines() if "WARNING" in line and text in line]


def read_rejects(path) -> list[dict]:
    """The entries of a rejects JSONL file."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def stream(fields: dict[str, dict], *records: dict, keys=("email",)) -> str:
    """Singer input: one `contacts` SCHEMA with these fields, then these records."""
    return lines([schema(properties=fields, keys=keys), *(record(data) for data in records)])


# --- every JSON-schema type ------------------------------------------------------------


def test_a_stream_with_every_json_schema_type_lands_with_exactly_the_expected_values(
    hubspot, config, tmp_path
):
    result = run_target(tmp_path, config, fixture_text("every_type.singer"))

    assert result.returncode == 0, result.stderr
    assert stored(hubspot, email="ada@example.com") == {
        "email": "ada@example.com",
        "firstname": "Ada",
        "lastname": "Lovelace",  # NUL removed
        # "company": null and "website" (type null) are skipped
        "signup_date": "2024-02-29",
        "last_login_at": "2024-05-01T11:45:30.123Z",  # +02:00 to UTC, microseconds truncated
        "zip": "12345",  # integer into text
        "lifetime_value": "0.1",
        "is_customer": "true",
        "plan": "pro",  # by label "Pro Plan"
        "lifecyclestage": "marketingqualifiedlead",  # radio, by label
        "interests": "analytics;crm;marketing_hub",  # array into multi-select, labels and values
        "jobtitle": '["Countess","Mathematician"]',  # array into text: compact JSON
        "notes_text": (
            '{"source":"import","score":0.1,"tags":["a","b"],'
            '"nested":{"ok":true,"none":null},"note":"café"}'
        ),
    }
    assert stored(hubspot, email="grace@example.com") == {
        "email": "grace@example.com",
        "firstname": "Grace",
        "company": "US Navy",
        "signup_date": "1906-12-09",
        "last_login_at": "2024-05-01T13:45:30.000Z",  # naive is taken as UTC
        "zip": "90210",
        "lifetime_value": "1000",  # 1E+3
        "is_customer": "false",
        "plan": "enterprise",  # value matched case-insensitively
        "lifecyclestage": "customer",
        "interests": "crm;sales_hub",  # from a ;-joined string
        "jobtitle": '["Rear Admiral"]',
        "notes_text": '{"answer":42}',
    }
    assert stored(hubspot, email="alan@example.com") == {
        "email": "alan@example.com",
        "firstname": "Alan",
        "last_login_at": "2025-01-01T03:30:00.000Z",  # -05:00 crosses into the next UTC year
        "lifetime_value": "1234.5",
        "plan": "free",
        "interests": "analytics",
    }
    assert len(hubspot.contacts) == 3
    assert printed_states(result.stdout) == [{"bookmarks": {"people": {"position": 3}}}]


def test_every_value_is_sent_as_a_string_in_its_final_form(hubspot, config, tmp_path):
    result = run_target(tmp_path, config, fixture_text("every_type.singer"))

    assert result.returncode == 0, result.stderr
    (call,) = hubspot.calls("/batch/upsert")
    for item in call.body["inputs"]:
        assert all(isinstance(value, str) for value in item["properties"].values())
    sent = sent_properties(hubspot)
    assert sent["GRACE@Example.com"]["email"] == "GRACE@Example.com"  # trimmed, case kept
    assert sent["GRACE@Example.com"]["lifetime_value"] == "1000"
    assert "company" not in sent["ada@example.com"]  # a null is not sent at all
    assert "is_customer" not in sent["alan@example.com"]


def test_a_date_time_lands_in_a_date_property_as_its_utc_date_and_a_date_as_utc_midnight(
    hubspot, config, tmp_path
):
    fields = {"email": TEXT, "signup_date": DATE_TIME, "last_login_at": DATE}
    data = {
        "email": "ada@example.com",
        "signup_date": "2024-03-01T23:30:00-05:00",
        "last_login_at": "2024-05-01",
    }

    result = run_target(tmp_path, config, stream(fields, data))

    assert result.returncode == 0, result.stderr
    assert stored(hubspot, email="ada@example.com") == {
        "email": "ada@example.com",
        "signup_date": "2024-03-02",
        "last_login_at": "2024-05-01T00:00:00.000Z",
    }


# --- name matching --------------------------------------------------------------------


@pytest.mark.parametrize("field", ["first_name", "firstName", "First Name", "FIRST-NAME"])
def test_a_field_matches_a_property_ignoring_case_spaces_underscores_and_dashes(
    hubspot, config, tmp_path, field
):
    data = {"email": "ada@example.com", field: "Ada"}

    result = run_target(tmp_path, config, stream({"email": TEXT, field: TEXT}, data))

    assert result.returncode == 0, result.stderr
    assert stored(hubspot, email="ada@example.com") == {
        "email": "ada@example.com",
        "firstname": "Ada",
    }
    assert not warnings(result.stderr, IGNORED_WARNING)


def test_a_field_matches_a_property_by_its_label(hubspot, config, tmp_path):
    fields = {
        "email": TEXT,
        "Company Name": TEXT,
        "postal-code": TEXT,
        "Job Title": TEXT,
        "Pro plan": TEXT,  # the label of an option, not of a property: matches nothing
    }
    data = {
        "email": "ada@example.com",
        "Company Name": "Analytical Engines",
        "postal-code": "W1",
        "Job Title": "Countess",
        "Pro plan": "x",
    }

    result = run_target(tmp_path, config, stream(fields, data))

    assert result.returncode == 0, result.stderr
    assert stored(hubspot, email="ada@example.com") == {
        "email": "ada@example.com",
        "company": "Analytical Engines",
        "zip": "W1",
        "jobtitle": "Countess",
    }


def test_property_mapping_wins_over_a_name_match(hubspot, config, tmp_path):
    config["property_mapping"] = {"phone": "mobilephone", "nickname": "firstname"}
    fields = {"email": TEXT, "phone": TEXT, "nickname": TEXT}
    data = {"email": "ada@example.com", "phone": "+44 20 7946 0000", "nickname": "Ada"}

    result = run_target(tmp_path, config, stream(fields, data))

    assert result.returncode == 0, result.stderr
    assert stored(hubspot, email="ada@example.com") == {
        "email": "ada@example.com",
        "mobilephone": "+44 20 7946 0000",  # not "phone", which the name matches
        "firstname": "Ada",
    }


def test_property_mapping_to_a_property_that_does_not_exist_fails_before_any_upsert(
    hubspot, config, tmp_path
):
    config["property_mapping"] = {"nickname": "first_name"}
    data = {"email": "ada@example.com", "nickname": "Ada"}

    result = run_target(tmp_path, config, stream({"email": TEXT, "nickname": TEXT}, data))

    assert result.returncode != 0
    assert "'first_name', which does not exist" in result.stderr
    assert "Did you mean firstname?" in result.stderr
    assert hubspot.calls("/batch/upsert") == []


@pytest.mark.parametrize(
    ("field", "extra_property", "candidates"),
    [
        ("First Name", {"name": "first_name", "label": "Legacy"}, "first_name, firstname"),
        ("PLAN", {"name": "tier", "label": "Plan"}, "plan, tier"),
    ],
    ids=["two-names", "name-and-label"],
)
def test_an_ambiguous_match_fails_naming_the_candidates_before_any_upsert(
    hubspot, config, tmp_path, field, extra_property, candidates
):
    hubspot.add_property(
        {**extra_property, "type": "string", "fieldType": "text", "groupName": "contactinformation"}
    )
    data = {"email": "ada@example.com", field: "x"}

    result = run_target(tmp_path, config, stream({"email": TEXT, field: TEXT}, data))

    assert result.returncode != 0
    assert f"field '{field}' matches several HubSpot properties: {candidates}." in result.stderr
    assert "property_mapping" in result.stderr
    assert "Traceback" not in result.stderr
    assert hubspot.calls("/batch/upsert") == []


def test_two_fields_matching_one_property_fail_before_any_upsert(hubspot, config, tmp_path):
    fields = {"email": TEXT, "first_name": TEXT, "First Name": TEXT}
    data = {"email": "ada@example.com", "first_name": "Ada", "First Name": "Augusta"}

    result = run_target(tmp_path, config, stream(fields, data))

    assert result.returncode != 0
    assert "both map to HubSpot property 'firstname'" in result.stderr
    assert hubspot.calls("/batch/upsert") == []


# --- fields matching no property ------------------------------------------------------


def test_unmapped_fields_are_ignored_with_one_warning_naming_them(hubspot, config, tmp_path):
    result = run_target(tmp_path, config, fixture_text("unmapped_fields.singer"))

    assert result.returncode == 0, result.stderr
    (warning,) = warnings(result.stderr, IGNORED_WARNING)  # one, despite 5 records, 2 SCHEMAs
    assert warning.endswith(f"Stream 'members': {IGNORED_WARNING}: favourite_color, shoe_size")
    assert len(hubspot.contacts) == 5
    for properties in sent_properties(hubspot).values():
        assert set(properties) <= {"email", "firstname", "lastname"}
    assert stored(hubspot, email="edsger@example.com") == {
        "email": "edsger@example.com",
        "firstname": "Edsger",
        "lastname": "Dijkstra",
    }
    assert printed_states(result.stdout)[-1] == {"bookmarks": {"members": {"position": 5}}}


def test_unmapped_fields_fail_fails_naming_the_fields_before_any_upsert(hubspot, config, tmp_path):
    config["unmapped_fields"] = "fail"

    result = run_target(tmp_path, config, fixture_text("unmapped_fields.singer"))

    assert result.returncode != 0
    assert (
        "Stream 'members': fields favourite_color, shoe_size match no HubSpot contact property"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert hubspot.calls("/batch/upsert") == []
    assert printed_states(result.stdout) == []


def test_property_definitions_are_read_once_per_run(hubspot, config, tmp_path):
    result = run_target(tmp_path, config, fixture_text("unmapped_fields.singer"))

    assert result.returncode == 0, result.stderr
    reads = [r for r in hubspot.calls(PROPERTIES) if r.method == "GET"]
    assert len(reads) == 1  # not once per SCHEMA message


def test_singer_metadata_columns_are_neither_sent_nor_warned_about(hubspot, config, tmp_path):
    fields = {"email": TEXT, "_sdc_extracted_at": DATE_TIME, "_sdc_deleted_at": DATE_TIME}
    data = {"email": "ada@example.com", "_sdc_extracted_at": "2024-05-01T00:00:00Z"}

    result = run_target(tmp_path, config, stream(fields, data))

    assert result.returncode == 0, result.stderr
    assert not warnings(result.stderr, IGNORED_WARNING)
    assert sent_properties(hubspot) == {"ada@example.com": {"email": "ada@example.com"}}


# --- creating missing properties ------------------------------------------------------

CUSTOM_FIELDS = {
    "email": TEXT,
    "Loyalty Points": INTEGER,
    "balance": NUMBER,
    "vip": BOOLEAN,
    "first_order_on": DATE,
    "last_seen": DATE_TIME,
    "referrer": TEXT,
    "preferences": {"type": ["object", "null"]},
    "tags": {"type": ["array", "null"], "items": {"type": "string"}},
}
CUSTOM_RECORD = {
    "email": "ada@example.com",
    "Loyalty Points": 1200,
    "balance": 0.1,
    "vip": True,
    "first_order_on": "2023-07-14",
    "last_seen": "2024-05-01T13:45:30+02:00",
    "referrer": "newsletter",
    "preferences": {"lang": "en", "digest": False},
    "tags": ["a", "b"],
}


def test_create_missing_properties_creates_custom_properties_typed_from_the_schema(
    hubspot, config, tmp_path
):
    config["create_missing_properties"] = True

    result = run_target(tmp_path, config, stream(CUSTOM_FIELDS, CUSTOM_RECORD))

    assert result.returncode == 0, result.stderr
    definitions = portal_properties(hubspot)
    created = {
        name: (
            definitions[name]["label"],
            definitions[name]["type"],
            definitions[name]["fieldType"],
        )
        for name in (
            "loyalty_points",
            "balance",
            "vip",
            "first_order_on",
            "last_seen",
            "referrer",
            "preferences",
            "tags",
        )
    }
    assert created == {
        "loyalty_points": ("Loyalty Points", "number", "number"),
        "balance": ("balance", "number", "number"),
        "vip": ("vip", "bool", "booleancheckbox"),
        "first_order_on": ("first_order_on", "date", "date"),
        "last_seen": ("last_seen", "datetime", "date"),
        "referrer": ("referrer", "string", "text"),
        "preferences": ("preferences", "string", "textarea"),
        "tags": ("tags", "string", "textarea"),
    }
    assert len(warnings(result.stderr, "Created custom contact property")) == 8
    assert not warnings(result.stderr, IGNORED_WARNING)


def test_create_missing_properties_then_writes_the_values_coerced_to_the_new_types(
    hubspot, config, tmp_path
):
    config["create_missing_properties"] = True

    result = run_target(tmp_path, config, stream(CUSTOM_FIELDS, CUSTOM_RECORD))

    assert result.returncode == 0, result.stderr
    assert stored(hubspot, email="ada@example.com") == {
        "email": "ada@example.com",
        "loyalty_points": "1200",
        "balance": "0.1",
        "vip": "true",
        "first_order_on": "2023-07-14",
        "last_seen": "2024-05-01T11:45:30.000Z",
        "referrer": "newsletter",
        "preferences": '{"lang":"en","digest":false}',
        "tags": '["a","b"]',
    }
    (call,) = hubspot.calls("/batch/upsert")
    creations = [r for r in hubspot.calls(PROPERTIES) if r.method == "POST"]
    assert all(r.at < call.at for r in creations)  # created before the first upsert


def test_properties_created_by_one_run_are_matched_by_the_next(hubspot, config, tmp_path):
    config["create_missing_properties"] = True
    first = run_target(tmp_path, config, stream(CUSTOM_FIELDS, CUSTOM_RECORD))
    assert first.returncode == 0, first.stderr
    posts_after_first = len([r for r in hubspot.calls(PROPERTIES) if r.method == "POST"])

    second = run_target(
        tmp_path, config, stream(CUSTOM_FIELDS, {**CUSTOM_RECORD, "Loyalty Points": 1300})
    )

    assert second.returncode == 0, second.stderr
    posts = [r for r in hubspot.calls(PROPERTIES) if r.method == "POST"]
    assert len(posts) == posts_after_first == 8
    assert not warnings(second.stderr, "Created custom contact property")
    assert stored(hubspot, email="ada@example.com")["loyalty_points"] == "1300"


def test_without_create_missing_properties_no_property_is_created(hubspot, config, tmp_path):
    result = run_target(tmp_path, config, stream(CUSTOM_FIELDS, CUSTOM_RECORD))

    assert result.returncode == 0, result.stderr
    assert [r for r in hubspot.calls(PROPERTIES) if r.method == "POST"] == []
    assert stored(hubspot, email="ada@example.com") == {"email": "ada@example.com"}


LOOK_ALIKES = {"email": TEXT, "Loyalty Tier": TEXT, "loyalty_tier": TEXT}


def created_names(hubspot) -> dict[str, str]:
    """Label -> name of each property the target created."""
    posts = [r for r in hubspot.calls(PROPERTIES) if r.method == "POST"]
    return {post.body["label"]: post.body["name"] for post in posts}


def test_fields_that_read_alike_get_a_property_each_and_keep_it_in_later_runs(
    hubspot, config, tmp_path
):
    config["create_missing_properties"] = True
    row = {"email": "ada@example.com", "Loyalty Tier": "Gold", "loyalty_tier": "g"}

    first = run_target(tmp_path, config, stream(LOOK_ALIKES, row))

    assert first.returncode == 0, first.stderr
    names = created_names(hubspot)
    assert names["loyalty_tier"] == "loyalty_tier"  # the field written exactly so keeps it
    assert names["Loyalty Tier"].startswith("loyalty_tier_")  # the other gets its own
    assert stored(hubspot, email="ada@example.com") == {
        "email": "ada@example.com",
        "loyalty_tier": "g",
        names["Loyalty Tier"]: "Gold",
    }
    second = run_target(
        tmp_path,
        config,
        stream(LOOK_ALIKES, {**row, "Loyalty Tier": "Silver", "loyalty_tier": "s"}),
    )
    assert second.returncode == 0, second.stderr
    assert len(created_names(hubspot)) == 2  # nothing created again
    assert stored(hubspot, email="ada@example.com")[names["Loyalty Tier"]] == "Silver"
    assert stored(hubspot, email="ada@example.com")["loyalty_tier"] == "s"


def test_planned_names_that_still_clash_stop_the_run_before_any_property_is_created(
    hubspot, config, tmp_path
):
    config["create_missing_properties"] = True
    # Two fields that would share `loyalty_tier_x` each get a hashed name; a third field is
    # called what one of them gets.
    twins = plan_new_properties(["loyalty tier x", "Loyalty Tier x"], {})
    hashed = twins["Loyalty Tier x"]["name"]
    fields = {"email": TEXT, "loyalty tier x": TEXT, "Loyalty Tier x": TEXT, hashed: TEXT}

    result = run_target(tmp_path, config, stream(fields, {"email": "ada@example.com"}))

    assert result.returncode == 1
    assert created_names(hubspot) == {}
    last_line = result.stderr.rstrip().splitlines()[-1]
    assert "Stream 'contacts' (no property was created): " in last_line
    assert f"fields 'Loyalty Tier x' and '{hashed}' both map to HubSpot property" in last_line


# --- read-only and calculated properties ----------------------------------------------


def test_read_only_and_calculated_properties_are_never_sent_with_one_warning_each(
    hubspot, config, tmp_path
):
    fields = {
        "email": TEXT,
        "first_name": TEXT,
        "hs_object_id": INTEGER,
        "createdate": DATE_TIME,
        "Email Domain": TEXT,  # read-only, by label
        "Number of Sales Activities": INTEGER,  # calculated num_notes, by label
    }
    records = [
        {
            "email": f"person{n}@example.com",
            "first_name": f"Person{n}",
            "hs_object_id": 42 + n,
            "createdate": "2001-01-01T00:00:00Z",
            "Email Domain": "elsewhere.example",
            "Number of Sales Activities": 7,
        }
        for n in range(3)
    ]

    result = run_target(tmp_path, config, stream(fields, *records))

    assert result.returncode == 0, result.stderr
    for properties in sent_properties(hubspot).values():
        assert set(properties) == {"email", "firstname"}
    for field in ("hs_object_id", "createdate", "Email Domain", "Number of Sales Activities"):
        expected = f"field '{field}' matches a read-only HubSpot property; it is never sent."
        assert len(warnings(result.stderr, expected)) == 1, field
    person = hubspot.contact(email="person0@example.com")
    assert person["properties"]["hs_object_id"] != "42"
    assert person["properties"]["hs_email_domain"] == "example.com"
    assert not person["properties"]["createdate"].startswith("2001")
    assert "num_notes" not in person["properties"]


# --- nulls ----------------------------------------------------------------------------

NULLS_FIELDS = {
    "email": TEXT,
    "first_name": TEXT,
    "last_name": TEXT,
    "company": TEXT,
    "lifetime_value": NUMBER,
    "plan": TEXT,
    "signup_date": DATE,
}
KNOWN = {
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "company": "Analytical Engines",
    "lifetime_value": 5,
    "plan": "pro",
    "signup_date": "2024-02-29",
}
NULLED = {
    "email": "ada@example.com",
    "first_name": "Augusta",
    "company": None,
    "lifetime_value": None,
    "plan": None,
    "signup_date": None,
}  # last_name is absent, not null


def load_known_contact(hubspot, config, tmp_path) -> None:
    """A first run that puts Ada, with every property set, into the CRM."""
    result = run_target(tmp_path, config, stream(NULLS_FIELDS, KNOWN))
    assert result.returncode == 0, result.stderr
    assert len(stored(hubspot, email="ada@example.com")) == 7


def test_a_null_never_overwrites_crm_data_by_default(hubspot, config, tmp_path):
    load_known_contact(hubspot, config, tmp_path)

    result = run_target(tmp_path, config, stream(NULLS_FIELDS, NULLED))

    assert result.returncode == 0, result.stderr
    last_call = hubspot.calls("/batch/upsert")[-1]
    assert last_call.body["inputs"][0]["properties"] == {
        "email": "ada@example.com",
        "firstname": "Augusta",
    }
    assert stored(hubspot, email="ada@example.com") == {
        "email": "ada@example.com",
        "firstname": "Augusta",
        "lastname": "Lovelace",
        "company": "Analytical Engines",
        "lifetime_value": "5",
        "plan": "pro",
        "signup_date": "2024-02-29",
    }


def test_null_values_clear_empties_the_property_in_the_crm(hubspot, config, tmp_path):
    load_known_contact(hubspot, config, tmp_path)
    config["null_values"] = "clear"

    result = run_target(tmp_path, config, stream(NULLS_FIELDS, NULLED))

    assert result.returncode == 0, result.stderr
    last_call = hubspot.calls("/batch/upsert")[-1]
    assert last_call.body["inputs"][0]["properties"] == {
        "email": "ada@example.com",
        "firstname": "Augusta",
        "company": "",
        "lifetime_value": "",
        "plan": "",
        "signup_date": "",
    }
    assert stored(hubspot, email="ada@example.com") == {
        "email": "ada@example.com",
        "firstname": "Augusta",
        "lastname": "Lovelace",  # absent from the record: untouched
    }


# --- local rejections -----------------------------------------------------------------

REJECTS_FIELDS = {
    "email": TEXT,
    "first_name": TEXT,
    "plan": TEXT,
    "signup_date": TEXT,  # a plain string in the stream, a date property in HubSpot
    "notes_text": TEXT,
}
TOO_LONG = "x" * 70_000
BAD_RECORDS = [
    {"email": "not-an-email", "first_name": "Nobody"},
    {"email": "opt@example.com", "plan": "platinum"},
    {"email": "date@example.com", "signup_date": "yesterday"},
    {"email": "long@example.com", "notes_text": TOO_LONG},
]
GOOD_BEFORE = {"email": "ada@example.com", "first_name": "Ada", "plan": "Pro Plan"}
GOOD_AFTER = {"email": "grace@example.com", "signup_date": "1906-12-09", "notes_text": "ok"}


def batch_with_bad_values() -> str:
    """Two good records around four with values HubSpot would refuse, all in one batch."""
    messages = [
        schema(properties=REJECTS_FIELDS),
        record(GOOD_BEFORE),
        *(record(bad) for bad in BAD_RECORDS),
        record(GOOD_AFTER),
        state({"bookmarks": {"contacts": {"position": 6}}}),
    ]
    return lines(messages)


def test_values_that_cannot_be_coerced_are_rejected_with_field_value_and_reason(config, tmp_path):
    rejects_path = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects_path), max_rejects=4)

    result = run_target(tmp_path, config, batch_with_bad_values())

    assert result.returncode == 0, result.stderr
    entries = read_rejects(rejects_path)
    assert [entry["record"] for entry in entries] == BAD_RECORDS
    assert [(e["stream"], e["id"]) for e in entries] == [
        ("contacts", "not-an-email"),
        ("contacts", "opt@example.com"),
        ("contacts", "date@example.com"),
        ("contacts", "long@example.com"),
    ]
    reasons = [
        (e["reason"]["source"], e["reason"]["code"], e["reason"]["field"], e["reason"]["property"])
        for e in entries
    ]
    assert reasons == [
        ("local", "INVALID_EMAIL", "email", "email"),
        ("local", "INVALID_OPTION", "plan", "plan"),
        ("local", "INVALID_DATE", "signup_date", "signup_date"),
        ("local", "INVALID_LONG_STRING", "notes_text", "notes_text"),
    ]
    messages = [entry["reason"]["message"] for entry in entries]
    assert '"not-an-email" is not a valid email address' in messages[0]
    assert '"platinum" is not an option' in messages[1]
    assert "free, pro, enterprise" in messages[1]
    assert '"yesterday" is not a date' in messages[2]
    assert "70,000 characters long" in messages[3]
    assert "65,536" in messages[3]


def test_rejected_values_never_reach_hubspot_while_the_good_records_land(hubspot, config, tmp_path):
    config.update(rejects_path=str(tmp_path / "rejects.jsonl"), max_rejects=4)

    result = run_target(tmp_path, config, batch_with_bad_values())

    assert result.returncode == 0, result.stderr
    (call,) = hubspot.calls("/batch/upsert")  # one call, and HubSpot refused nothing in it
    assert call.status == 200
    assert [item["id"] for item in call.body["inputs"]] == ["ada@example.com", "grace@example.com"]
    sent = request_text(hubspot)
    for value in ("not-an-email", "platinum", "yesterday", "x" * 100):
        assert value not in sent
    assert stored(hubspot, email="ada@example.com") == {
        "email": "ada@example.com",
        "firstname": "Ada",
        "plan": "pro",
    }
    assert stored(hubspot, email="grace@example.com") == {
        "email": "grace@example.com",
        "signup_date": "1906-12-09",
        "notes_text": "ok",
    }
    assert len(hubspot.contacts) == 2
    assert printed_states(result.stdout) == [{"bookmarks": {"contacts": {"position": 6}}}]


@pytest.mark.parametrize(("max_rejects", "succeeds"), [(3, False), (4, True)])
def test_the_run_fails_only_when_rejects_exceed_max_rejects(
    hubspot, config, tmp_path, max_rejects, succeeds
):
    config.update(rejects_path=str(tmp_path / "rejects.jsonl"), max_rejects=max_rejects)

    result = run_target(tmp_path, config, batch_with_bad_values())

    assert (result.returncode == 0) is succeeds, result.stderr
    if not succeeds:
        assert "4 record(s) were rejected" in result.stderr
        assert f"more than `max_rejects` ({max_rejects})" in result.stderr
    assert len(hubspot.contacts) == 2  # every valid record is written either way


def test_without_a_rejects_file_a_rejection_is_logged_and_fails_the_run(hubspot, config, tmp_path):
    messages = [
        schema(properties=REJECTS_FIELDS),
        record(GOOD_BEFORE),
        state({"position": 1}),
        record({"email": "opt@example.com", "plan": "platinum"}),
        record(GOOD_AFTER),
        state({"position": 3}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode != 0
    assert "field 'plan' (HubSpot property 'plan'): \"platinum\" is not an option" in result.stderr
    assert "INVALID_OPTION" in result.stderr
    assert "platinum" not in request_text(hubspot)
    assert len(hubspot.contacts) == 2
    assert printed_states(result.stdout) == [{"position": 1}]  # STATE stops before the reject


@pytest.mark.parametrize("field_schema", [DATE, DATE_TIME], ids=["date", "date-time"])
def test_an_unparseable_value_in_a_date_formatted_field_is_rejected_locally(
    hubspot, config, tmp_path, field_schema
):
    rejects_path = tmp_path / "rejects.jsonl"
    config.update(rejects_path=str(rejects_path), max_rejects=1)
    fields = {"email": TEXT, "last_login_at": field_schema}
    records = [
        {"email": "ada@example.com", "last_login_at": "2024-05-01"},
        {"email": "bad@example.com", "last_login_at": "not a date"},
    ]

    result = run_target(tmp_path, config, stream(fields, *records))

    assert result.returncode == 0, result.stderr
    (entry,) = read_rejects(rejects_path)
    assert (entry["id"], entry["reason"]["source"]) == ("bad@example.com", "local")
    assert "'not a date'" in entry["reason"]["message"]
    assert "field 'last_login_at'" in entry["reason"]["message"]
    assert "not a date" not in request_text(hubspot)
    assert stored(hubspot, email="ada@example.com") == {
        "email": "ada@example.com",
        "last_login_at": "2024-05-01T00:00:00.000Z",
    }


# --- the id property ------------------------------------------------------------------


@pytest.mark.parametrize("field", ["Email", "E-mail"])
def test_the_id_field_is_found_by_normalized_name(hubspot, config, tmp_path, field):
    data = {field: "Ada@Example.com", "first_name": "Ada"}

    result = run_target(
        tmp_path, config, stream({field: TEXT, "first_name": TEXT}, data, keys=(field,))
    )

    assert result.returncode == 0, result.stderr
    (item,) = sent_inputs(hubspot)
    assert (item["idProperty"], item["id"]) == ("email", "Ada@Example.com")
    assert stored(hubspot, email="ada@example.com") == {
        "email": "ada@example.com",
        "firstname": "Ada",
    }


def test_a_unique_id_property_is_found_by_its_label(hubspot, config, tmp_path):
    config["id_property"] = "external_id"
    data = {"External ID": "crm-7", "first_name": "Ada"}

    result = run_target(
        tmp_path,
        config,
        stream({"External ID": TEXT, "first_name": TEXT}, data, keys=("External ID",)),
    )

    assert result.returncode == 0, result.stderr
    (item,) = sent_inputs(hubspot)
    assert (item["idProperty"], item["id"]) == ("external_id", "crm-7")
    assert stored(hubspot, external_id="crm-7") == {"external_id": "crm-7", "firstname": "Ada"}


def test_a_stream_without_an_id_field_fails_clearly_before_any_upsert(hubspot, config, tmp_path):
    fields = {"first_name": TEXT, "last_name": TEXT}
    data = {"first_name": "Ada", "last_name": "Lovelace"}

    result = run_target(tmp_path, config, stream(fields, data, keys=()))

    assert result.returncode != 0
    assert (
        "Stream 'contacts': the stream has no field for HubSpot property 'email'" in result.stderr
    )
    assert "property_mapping" in result.stderr
    assert "Traceback" not in result.stderr
    assert hubspot.calls("/batch/upsert") == []


def test_a_flattened_list_reaches_a_multi_select_as_its_options(hubspot, config, tmp_path):
    config.update(flattening_enabled=True, flattening_max_depth=1)
    fields = {"email": TEXT, "interests": {"type": ["array", "null"], "items": {"type": "string"}}}
    messages = [
        schema(properties=fields),
        record({"email": "ada@example.com", "interests": ["crm", "Analytics"]}),
        record({"email": "bob@example.com", "interests": []}),
    ]

    result = run_target(tmp_path, config, lines(messages))

    assert result.returncode == 0, result.stderr
    assert stored(hubspot, email="ada@example.com")["interests"] == "crm;analytics"
    assert "interests" not in sent_properties(hubspot)["bob@example.com"]  # empty: a missing value
