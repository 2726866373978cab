"""Unit tests for field matching and value coercion (target_hubspot_contacts.mapping)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import pytest

from target_hubspot_contacts.errors import ConfigurationError
from target_hubspot_contacts.mapping import (
    CoercionError,
    FieldPlan,
    FieldProblem,
    PropertyDefinition,
    PropertyOption,
    RecordMapper,
    RecordRejected,
    closest_properties,
    coerce_value,
    infer_property_definition,
    normalize_name,
    plan_fields,
    plan_new_properties,
)

UTC = dt.timezone.utc
PLUS_2 = dt.timezone(dt.timedelta(hours=2))
MINUS_5 = dt.timezone(dt.timedelta(hours=-5))


def api_property(
    name: str,
    type_: str = "string",
    field_type: str = "text",
    *,
    label: str | None = None,
    options: Sequence[tuple[str, str]] = (),
    unique: bool = False,
    calculated: bool = False,
    read_only: bool = False,
) -> dict:
    """A property shaped like one item of HubSpot's `GET /crm/v3/properties/contacts`."""
    return {
        "name": name,
        "label": label if label is not None else name.replace("_", " ").title(),
        "type": type_,
        "fieldType": field_type,
        "groupName": "contactinformation",
        "options": [
            {"label": opt_label, "value": value, "hidden": False, "displayOrder": i}
            for i, (value, opt_label) in enumerate(options)
        ],
        "hasUniqueValue": unique,
        "calculated": calculated,
        "modificationMetadata": {
            "archivable": True,
            "readOnlyDefinition": True,
            "readOnlyValue": read_only,
        },
    }


def definition(type_: str, field_type: str = "text", **kwargs: object) -> PropertyDefinition:
    return PropertyDefinition.from_api(api_property("prop", type_, field_type, **kwargs))


PORTAL_API = [
    api_property("email", label="Email"),
    api_property("firstname", label="First Name"),
    api_property("lastname", label="Last Name"),
    api_property("phone", "string", "phonenumber", label="Phone Number"),
    api_property("date_of_birth", "date", "date", label="Date of birth"),
    api_property("signup_date", "date", "date", label="Signup"),
    api_property("external_id", label="External ID", unique=True),
    api_property("favorite_color", label="Favourite colour"),
    api_property("favourite_color", label="Favorite color"),
    api_property("hs_object_id", "number", "number", label="Record ID", read_only=True),
    api_property("num_notes", "number", "number", label="Number of notes", calculated=True),
    api_property("score", "number", "number", label="Score"),
]
PORTAL = {item["name"]: PropertyDefinition.from_api(item) for item in PORTAL_API}

STATUS = [("new", "New lead"), ("open_deal", "Open deal"), ("lost", "Lost")]
SINGLE = definition("enumeration", "select", options=STATUS)
MULTI = definition("enumeration", "checkbox", options=STATUS)


# --- PropertyDefinition.from_api ------------------------------------------------------------


def test_from_api_reads_all_fields() -> None:
    item = api_property("status", "enumeration", "radio", label="Status", options=STATUS)
    assert PropertyDefinition.from_api(item) == PropertyDefinition(
        name="status",
        label="Status",
        type="enumeration",
        field_type="radio",
        options=(
            PropertyOption("new", "New lead"),
            PropertyOption("open_deal", "Open deal"),
            PropertyOption("lost", "Lost"),
        ),
    )


@pytest.mark.parametrize(
    ("payload", "read_only", "unique"),
    [
        pytest.param(api_property("x", read_only=True), True, False, id="readOnlyValue"),
        pytest.param(api_property("x", calculated=True), True, False, id="calculated"),
        pytest.param(api_property("x", unique=True), False, True, id="hasUniqueValue"),
        pytest.param({"name": "x"}, False, False, id="bare-payload"),
    ],
)
def test_from_api_flags(payload: dict, read_only: bool, unique: bool) -> None:
    parsed = PropertyDefinition.from_api(payload)
    assert (parsed.read_only, parsed.unique) == (read_only, unique)


def test_from_api_tolerates_missing_keys() -> None:
    parsed = PropertyDefinition.from_api({"name": "x", "options": [{"value": 1}, "junk"]})
    assert parsed == PropertyDefinition("x", "x", "string", "text", (PropertyOption("1", ""),))


# --- coercion: accepted values ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(dt.date(2024, 5, 1), "2024-05-01", id="date"),
        pytest.param(dt.datetime(2024, 5, 1, 13, 45), "2024-05-01", id="naive-datetime-as-utc"),
        pytest.param(dt.datetime(2024, 5, 1, 23, 30, tzinfo=MINUS_5), "2024-05-02", id="aware-utc"),
        pytest.param(dt.datetime(2024, 5, 1, 1, 0, tzinfo=PLUS_2), "2024-04-30", id="aware-east"),
        pytest.param("2024-05-01", "2024-05-01", id="iso-date"),
        pytest.param(" 2024-05-01 ", "2024-05-01", id="iso-date-trimmed"),
        pytest.param("2024-05-01T13:45:00Z", "2024-05-01", id="iso-datetime-z"),
        pytest.param("2024-05-01T22:00:00-05:00", "2024-05-02", id="iso-datetime-offset"),
        pytest.param(1714521600000, "2024-05-01", id="epoch-ms-int"),
        pytest.param("1714521600000", "2024-05-01", id="epoch-ms-string"),
        pytest.param(1714571100000, "2024-05-01", id="epoch-ms-not-midnight"),
        pytest.param("20240501", "2024-05-01", id="iso-basic-date-string"),
        pytest.param(20240501, "2024-05-01", id="yyyymmdd-int"),
        pytest.param(1714521600, "2024-05-01", id="epoch-seconds-10-digits"),
        pytest.param(100000000, "1973-03-03", id="epoch-seconds-9-digits"),
        pytest.param(100000000000, "1973-03-03", id="epoch-ms-12-digits"),
    ],
)
def test_date_accepts(value: object, expected: str) -> None:
    assert coerce_value(definition("date", "date"), value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            dt.datetime(2024, 5, 1, 13, 45, tzinfo=UTC), "2024-05-01T13:45:00.000Z", id="utc"
        ),
        pytest.param(
            dt.datetime(2024, 5, 1, 15, 45, 0, 123456, tzinfo=PLUS_2),
            "2024-05-01T13:45:00.123Z",
            id="offset-ms-truncated",
        ),
        pytest.param(
            dt.datetime(2024, 5, 1, 13, 45), "2024-05-01T13:45:00.000Z", id="naive-as-utc"
        ),
        pytest.param(dt.date(2024, 5, 1), "2024-05-01T00:00:00.000Z", id="date-midnight"),
        pytest.param("2024-05-01T13:45:00Z", "2024-05-01T13:45:00.000Z", id="iso-z"),
        pytest.param("2024-05-01T08:45:00.5-05:00", "2024-05-01T13:45:00.500Z", id="iso-offset"),
        pytest.param("2024-05-01T15:45+0200", "2024-05-01T13:45:00.000Z", id="iso-compact-offset"),
        pytest.param("2024-05-01 13:45:00", "2024-05-01T13:45:00.000Z", id="iso-space-naive"),
        pytest.param("2024-05-01", "2024-05-01T00:00:00.000Z", id="iso-date"),
        pytest.param(1714571100, "2024-05-01T13:45:00.000Z", id="epoch-seconds"),
        pytest.param(1714571100123, "2024-05-01T13:45:00.123Z", id="epoch-ms"),
        pytest.param("1714571100", "2024-05-01T13:45:00.000Z", id="epoch-seconds-string"),
        pytest.param("1714571100123", "2024-05-01T13:45:00.123Z", id="epoch-ms-string"),
        pytest.param("20240501", "2024-05-01T00:00:00.000Z", id="iso-basic-date-string"),
        pytest.param(20240501, "2024-05-01T00:00:00.000Z", id="yyyymmdd-int"),
        pytest.param(9999999999, "2286-11-20T17:46:39.000Z", id="epoch-seconds-largest"),
        pytest.param(9999999999999, "2286-11-20T17:46:39.999Z", id="epoch-ms-largest"),
    ],
)
def test_datetime_accepts(value: object, expected: str) -> None:
    assert coerce_value(definition("datetime", "date"), value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(True, "true", id="True"),
        pytest.param(False, "false", id="False"),
        pytest.param(1, "true", id="int-1"),
        pytest.param(0, "false", id="int-0"),
        *(
            pytest.param(word, "true", id=f"word-{word.strip()}")
            for word in ("true", "TRUE", "yes", "Y", "t", "1", "on", " On ")
        ),
        *(
            pytest.param(word, "false", id=f"word-{word.strip()}")
            for word in ("false", "False", "no", "N", "f", "0", "off", " OFF ")
        ),
    ],
)
def test_bool_accepts(value: object, expected: str) -> None:
    assert coerce_value(definition("bool", "booleancheckbox"), value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(17, "17", id="int"),
        pytest.param(-3, "-3", id="negative-int"),
        pytest.param(10**20, "100000000000000000000", id="big-int"),
        pytest.param(Decimal("0.1"), "0.1", id="decimal"),
        pytest.param(Decimal("1E+3"), "1000", id="decimal-exponent"),
        pytest.param(Decimal("1.50"), "1.5", id="decimal-trailing-zero-dropped"),
        pytest.param(Decimal("100"), "100", id="decimal-integral-zeros-kept"),
        pytest.param(Decimal("1.5E-7"), "0.00000015", id="decimal-small"),
        pytest.param(Decimal("-0.00"), "0", id="negative-zero"),
        pytest.param(0.1, "0.1", id="float-no-noise"),
        pytest.param(1e20, "100000000000000000000", id="float-exponent"),
        pytest.param("3.5", "3.5", id="string"),
        pytest.param(" -2 ", "-2", id="string-trimmed"),
        pytest.param("+1e3", "1000", id="string-exponent"),
        pytest.param(".5", "0.5", id="string-leading-dot"),
    ],
)
def test_number_accepts(value: object, expected: str) -> None:
    assert coerce_value(definition("number", "number"), value) == expected


@pytest.mark.parametrize(
    ("prop", "value", "expected"),
    [
        pytest.param(SINGLE, "open_deal", "open_deal", id="single-by-value"),
        pytest.param(SINGLE, "OPEN_DEAL", "open_deal", id="single-value-any-case"),
        pytest.param(SINGLE, " open deal ", "open_deal", id="single-by-label-trimmed"),
        pytest.param(SINGLE, "New Lead", "new", id="single-by-label"),
        pytest.param(MULTI, ["new", "Lost"], "new;lost", id="multi-list"),
        pytest.param(MULTI, "lost;New lead", "lost;new", id="multi-string"),
        pytest.param(MULTI, ["new", "New lead", "new"], "new", id="multi-dedupe"),
        pytest.param(MULTI, "lost; ;new;", "lost;new", id="multi-skips-blanks"),
        pytest.param(MULTI, [], "", id="multi-empty-clears"),
        pytest.param(MULTI, "open_deal", "open_deal", id="multi-single-value"),
        pytest.param(MULTI, '["new","Lost"]', "new;lost", id="multi-json-array-text"),
        pytest.param(MULTI, "[]", "", id="multi-json-empty-array-text"),
        pytest.param(MULTI, " [ ] ", "", id="multi-json-empty-array-spaced"),
        pytest.param(
            definition(
                "enumeration", "booleancheckbox", options=[("true", "Yes"), ("false", "No")]
            ),
            True,
            "true",
            id="bool-to-enum",
        ),
        pytest.param(
            definition("enumeration", "select", options=[("1", "One"), ("2", "Two")]),
            2,
            "2",
            id="int-to-enum",
        ),
        pytest.param(definition("enumeration", "select"), "owner-17", "owner-17", id="no-options"),
    ],
)
def test_enumeration_accepts(prop: PropertyDefinition, value: object, expected: str) -> None:
    assert coerce_value(prop, value) == expected


@pytest.mark.parametrize(
    ("prop", "value", "expected"),
    [
        pytest.param(definition("string"), "Ada", "Ada", id="text"),
        pytest.param(definition("string"), "  Ada ", "  Ada ", id="not-trimmed"),
        pytest.param(definition("string"), "A\x00da\x00", "Ada", id="nul-removed"),
        pytest.param(definition("string"), 42, "42", id="int"),
        pytest.param(definition("string"), Decimal("1E+3"), "1000", id="decimal-plain"),
        pytest.param(definition("string"), True, "true", id="bool"),
        pytest.param(definition("string"), dt.date(2024, 5, 1), "2024-05-01", id="date"),
        pytest.param(
            definition("string"),
            dt.datetime(2024, 5, 1, 13, 45, tzinfo=PLUS_2),
            "2024-05-01T13:45:00+02:00",
            id="datetime",
        ),
        pytest.param(definition("string"), dt.time(13, 45), "13:45:00", id="time"),
        pytest.param(
            definition("string"),
            ["a", 1, Decimal("0.10"), None, True],
            '["a",1,0.1,null,true]',
            id="list-json",
        ),
        pytest.param(
            definition("string"), {"city": "Zürich", "n": 2}, '{"city":"Zürich","n":2}', id="dict"
        ),
        pytest.param(definition("string"), "x" * 65_536, "x" * 65_536, id="at-limit"),
        pytest.param(
            definition("phone_number", "phonenumber"), "+41 44 123", "+41 44 123", id="phone"
        ),
        pytest.param(definition("mystery", "weird"), 7, "7", id="unknown-type"),
        pytest.param(PORTAL["email"], " Ada@Example.com ", "Ada@Example.com", id="email-trimmed"),
        pytest.param(PORTAL["email"], "a.b+c@mail.example.co", "a.b+c@mail.example.co", id="email"),
    ],
)
def test_text_accepts(prop: PropertyDefinition, value: object, expected: str) -> None:
    assert coerce_value(prop, value) == expected


# --- coercion: rejected values ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("prop", "value", "code"),
    [
        pytest.param(definition("date", "date"), "2024-13-45", "INVALID_DATE", id="date-bad-month"),
        pytest.param(definition("date", "date"), "01/05/2024", "INVALID_DATE", id="date-us-format"),
        pytest.param(definition("date", "date"), "20241345", "INVALID_DATE", id="date-basic-bad"),
        pytest.param(definition("date", "date"), "", "INVALID_DATE", id="date-empty"),
        pytest.param(definition("date", "date"), True, "INVALID_DATE", id="date-bool"),
        pytest.param(definition("date", "date"), 1.5, "INVALID_DATE", id="date-float"),
        pytest.param(definition("date", "date"), dt.time(1, 2), "INVALID_DATE", id="date-time"),
        pytest.param(definition("date", "date"), 10**30, "INVALID_DATE", id="date-overflow"),
        pytest.param(definition("datetime", "date"), "soon", "INVALID_DATETIME", id="dt-word"),
        pytest.param(
            definition("datetime", "date"), "2024-05-01T25:00Z", "INVALID_DATETIME", id="dt-hour"
        ),
        pytest.param(definition("datetime", "date"), False, "INVALID_DATETIME", id="dt-bool"),
        pytest.param(definition("datetime", "date"), 10**30, "INVALID_DATETIME", id="dt-overflow"),
        pytest.param(definition("date", "date"), 20241345, "INVALID_DATE", id="yyyymmdd-int-bad"),
        pytest.param(definition("date", "date"), 1234567, "INVALID_DATE", id="int-7-digits"),
        pytest.param(definition("date", "date"), 0, "INVALID_DATE", id="int-zero"),
        pytest.param(definition("date", "date"), -86400000, "INVALID_DATE", id="int-negative"),
        pytest.param(
            definition("datetime", "date"), 17145711001, "INVALID_DATETIME", id="int-11-digits"
        ),
        pytest.param(
            definition("datetime", "date"), 10**13, "INVALID_DATETIME", id="int-14-digits"
        ),
        pytest.param(definition("string"), "a\ud800b", "INVALID_TEXT", id="lone-surrogate"),
        pytest.param(
            PropertyDefinition.from_api(api_property("email")),
            "\udfffa@b.co",
            "INVALID_TEXT",
            id="email-surrogate",
        ),
        pytest.param(definition("bool"), 2, "INVALID_BOOLEAN", id="bool-2"),
        pytest.param(definition("bool"), "maybe", "INVALID_BOOLEAN", id="bool-word"),
        pytest.param(definition("bool"), "", "INVALID_BOOLEAN", id="bool-empty"),
        pytest.param(definition("bool"), Decimal("0.5"), "INVALID_BOOLEAN", id="bool-decimal"),
        pytest.param(definition("number"), Decimal("NaN"), "INVALID_NUMBER", id="num-nan"),
        pytest.param(definition("number"), Decimal("Infinity"), "INVALID_NUMBER", id="num-inf"),
        pytest.param(definition("number"), float("inf"), "INVALID_NUMBER", id="num-float-inf"),
        pytest.param(definition("number"), "NaN", "INVALID_NUMBER", id="num-nan-string"),
        pytest.param(definition("number"), True, "INVALID_NUMBER", id="num-bool"),
        pytest.param(definition("number"), "12abc", "INVALID_NUMBER", id="num-junk"),
        pytest.param(definition("number"), "1_000", "INVALID_NUMBER", id="num-underscore"),
        pytest.param(definition("number"), "1,5", "INVALID_NUMBER", id="num-comma"),
        pytest.param(definition("number"), [1], "INVALID_NUMBER", id="num-list"),
        pytest.param(SINGLE, "won", "INVALID_OPTION", id="enum-unknown"),
        pytest.param(SINGLE, ["new"], "INVALID_OPTION", id="enum-single-given-list"),
        pytest.param(MULTI, ["new", "won"], "INVALID_OPTION", id="enum-multi-unknown"),
        pytest.param(MULTI, "new;won", "INVALID_OPTION", id="enum-multi-string-unknown"),
        pytest.param(MULTI, '["new","won"]', "INVALID_OPTION", id="enum-multi-json-unknown"),
        pytest.param(MULTI, '[["new"]]', "INVALID_OPTION", id="enum-multi-json-nested"),
        pytest.param(definition("string"), "x" * 65_537, "INVALID_LONG_STRING", id="long-string"),
        pytest.param(definition("string"), ["x" * 65_536], "INVALID_LONG_STRING", id="long-json"),
        pytest.param(PORTAL["email"], "ada.example.com", "INVALID_EMAIL", id="email-no-at"),
        pytest.param(PORTAL["email"], "ada@@example.com", "INVALID_EMAIL", id="email-two-ats"),
        pytest.param(PORTAL["email"], "@example.com", "INVALID_EMAIL", id="email-no-local"),
        pytest.param(PORTAL["email"], "ada@localhost", "INVALID_EMAIL", id="email-no-dot"),
        pytest.param(PORTAL["email"], "a da@example.com", "INVALID_EMAIL", id="email-space"),
        pytest.param(PORTAL["email"], 12, "INVALID_EMAIL", id="email-int"),
    ],
)
def test_rejects(prop: PropertyDefinition, value: object, code: str) -> None:
    with pytest.raises(CoercionError) as caught:
        coerce_value(prop, value)
    assert caught.value.code == code
    assert caught.value.reason == str(caught.value)
    # The summary is the reason without the value it starts with, for a log that must not show it.
    predicate = caught.value.summary.removeprefix("the value ")
    assert predicate != caught.value.summary
    assert caught.value.reason.endswith(f" {predicate}")


def test_unknown_option_names_allowed_values() -> None:
    with pytest.raises(CoercionError, match=r"allowed values: new, open_deal, lost"):
        coerce_value(SINGLE, "won")


def test_rejected_str_is_one_sentence() -> None:
    problem = FieldProblem(
        "signup",
        "signup_date",
        "2024-13-45",
        "INVALID_DATE",
        '"2024-13-45" is not a date (expected YYYY-MM-DD)',
    )
    assert str(RecordRejected([problem])) == (
        "field 'signup' (HubSpot property 'signup_date'): "
        '"2024-13-45" is not a date (expected YYYY-MM-DD)'
    )


# --- name matching ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("first_name", "firstname", id="snake"),
        pytest.param("firstName", "firstname", id="camel"),
        pytest.param("First Name", "firstname", id="label"),
        pytest.param("first-name", "firstname", id="kebab"),
        pytest.param(" FIRST__NAME ", "firstname", id="noisy"),
    ],
)
def test_normalize_name(text: str, expected: str) -> None:
    assert normalize_name(text) == expected


def test_plan_matches_by_name_and_label() -> None:
    plan = plan_fields(["E-Mail", "first_name", "Last Name", "Signup", "shoe_size"], PORTAL)
    assert plan == FieldPlan(
        targets={
            "E-Mail": "email",
            "first_name": "firstname",
            "Last Name": "lastname",
            "Signup": "signup_date",
        },
        id_field="E-Mail",
        id_property="email",
        unmatched=("shoe_size",),
        read_only=(),
        matched_by={"E-Mail": "name", "first_name": "name", "Last Name": "name", "Signup": "label"},
        read_only_targets={},
    )


def test_plan_says_a_field_mapped_by_property_mapping_was_matched_so() -> None:
    plan = plan_fields(["email", "nick"], PORTAL, explicit_mapping={"nick": "firstname"})
    assert plan.matched_by == {"email": "name", "nick": "property_mapping"}


def test_plan_names_every_problem_at_once() -> None:
    with pytest.raises(ConfigurationError) as caught:
        plan_fields(
            ["first_name", "FirstName", "Favorite Color", "nick"],
            PORTAL,
            explicit_mapping={"nick": "nick_name"},
        )
    message = str(caught.value)
    assert message.startswith("4 mapping problems:")
    assert "'nick_name', which does not exist" in message
    assert "'Favorite Color' matches several HubSpot properties" in message
    assert "'first_name' and 'FirstName' both map" in message
    assert "the stream has no field for HubSpot property 'email'" in message


@pytest.mark.parametrize(
    ("name", "closest"),
    [
        pytest.param("first_name", ["firstname"], id="same-once-normalized"),
        pytest.param("mobile", ["mobilephone"], id="prefix"),
        pytest.param("Phone No", ["phone"], id="label"),
        pytest.param("birthday", [], id="nothing-close"),
    ],
)
def test_closest_properties(name: str, closest: list[str]) -> None:
    portal = {
        **PORTAL,
        "mobilephone": PropertyDefinition.from_api(
            api_property("mobilephone", label="Mobile Phone Number")
        ),
    }
    assert closest_properties(name, portal) == closest


def test_closest_properties_leaves_out_read_only_ones() -> None:
    assert closest_properties("Record ID", PORTAL) == []


def test_plan_explicit_mapping_wins() -> None:
    plan = plan_fields(
        ["email", "first_name", "Signup"],
        PORTAL,
        explicit_mapping={"first_name": "lastname", "Signup": "date_of_birth", "other": "phone"},
    )
    assert plan.targets == {
        "email": "email",
        "first_name": "lastname",
        "Signup": "date_of_birth",
    }


def test_plan_ambiguous_match_names_field_and_candidates() -> None:
    with pytest.raises(ConfigurationError) as caught:
        plan_fields(["email", "Favorite Color"], PORTAL)
    message = str(caught.value)
    assert "'Favorite Color'" in message
    assert "favorite_color" in message
    assert "favourite_color" in message
    assert "property_mapping" in message


def test_plan_exact_internal_name_beats_normalized_match() -> None:
    plan = plan_fields(["email", "favorite_color"], PORTAL)
    assert plan.targets["favorite_color"] == "favorite_color"


def test_plan_explicit_mapping_resolves_ambiguity() -> None:
    plan = plan_fields(
        ["email", "Favorite Color"],
        PORTAL,
        explicit_mapping={"Favorite Color": "favourite_color"},
    )
    assert plan.targets["Favorite Color"] == "favourite_color"


def test_plan_explicit_mapping_to_unknown_property() -> None:
    with pytest.raises(ConfigurationError, match=r"'first_name'.*does not exist"):
        plan_fields(["email"], PORTAL, explicit_mapping={"fname": "first_name"})


def test_plan_two_fields_on_one_property() -> None:
    with pytest.raises(ConfigurationError, match=r"'first_name' and 'FirstName' both map"):
        plan_fields(["email", "first_name", "FirstName"], PORTAL)


def test_plan_read_only_properties_are_not_sent() -> None:
    plan = plan_fields(["email", "hs_object_id", "Number of notes", "score"], PORTAL)
    assert plan.targets == {"email": "email", "score": "score"}
    assert plan.read_only == ("hs_object_id", "Number of notes")
    assert plan.read_only_targets == {
        "hs_object_id": "hs_object_id",
        "Number of notes": "num_notes",
    }


@pytest.mark.parametrize(
    ("fields", "mapping", "id_field"),
    [
        pytest.param(["Email", "firstname"], None, "Email", id="label-case"),
        pytest.param(["e_mail"], None, "e_mail", id="normalized"),
        pytest.param(
            ["work_address", "firstname"], {"work_address": "email"}, "work_address", id="explicit"
        ),
    ],
)
def test_plan_finds_id_field(fields: list[str], mapping: dict | None, id_field: str) -> None:
    plan = plan_fields(fields, PORTAL, explicit_mapping=mapping)
    assert (plan.id_field, plan.id_property) == (id_field, "email")


def test_plan_unique_custom_id_property() -> None:
    plan = plan_fields(["External ID", "email"], PORTAL, id_property="external_id")
    assert (plan.id_field, plan.id_property) == ("External ID", "external_id")


@pytest.mark.parametrize(
    "id_property",
    [
        pytest.param("firstname", id="not-unique"),
        pytest.param("customer_number", id="missing"),
        pytest.param("hs_object_id", id="read-only"),
    ],
)
def test_plan_rejects_id_property_hubspot_cannot_upsert_by(id_property: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        plan_fields(["email", "firstname"], PORTAL, id_property=id_property)
    message = str(caught.value)
    assert repr(id_property) in message
    assert "unique" in message
    assert "external_id" in message  # lists the portal's unique properties


def test_plan_without_id_field_says_how_to_map_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        plan_fields(["firstname", "lastname"], PORTAL)
    message = str(caught.value)
    assert "'email'" in message
    assert "property_mapping" in message


# --- RecordMapper -----------------------------------------------------------------------------


def mapper(null_values: str = "skip", id_property: str = "email") -> RecordMapper:
    fields = ["Email", "first_name", "score", "Signup", "external_id", "hs_object_id", "extra"]
    plan = plan_fields(fields, PORTAL, id_property=id_property)
    return RecordMapper(plan, PORTAL, null_values=null_values)


def test_map_coerces_every_field() -> None:
    record = {
        "Email": " Ada@Example.com ",
        "first_name": "Ada",
        "score": Decimal("9.50"),
        "Signup": dt.date(2024, 5, 1),
        "external_id": "A-1",
        "hs_object_id": 17,
        "extra": "ignored",
    }
    assert mapper().map(record) == (
        "Ada@Example.com",
        {
            "email": "Ada@Example.com",
            "firstname": "Ada",
            "score": "9.5",
            "signup_date": "2024-05-01",
            "external_id": "A-1",
        },
    )


@pytest.mark.parametrize(
    ("null_values", "expected"),
    [
        pytest.param("skip", {"email": "a@b.co", "firstname": "Ada"}, id="skip"),
        pytest.param(
            "clear",
            {"email": "a@b.co", "firstname": "Ada", "score": "", "signup_date": ""},
            id="clear",
        ),
    ],
)
def test_map_nulls(null_values: str, expected: dict[str, str]) -> None:
    # A blank string in a typed (non-text) property counts as null; an absent field is left out.
    record = {"Email": "a@b.co", "first_name": "Ada", "score": None, "Signup": " "}
    assert mapper(null_values).map(record) == ("a@b.co", expected)


def test_map_skips_an_empty_string_in_text_like_a_null() -> None:
    assert "firstname" not in mapper().map({"Email": "a@b.co", "first_name": ""})[1]


def test_map_clears_with_an_empty_string_when_null_values_is_clear() -> None:
    assert mapper("clear").map({"Email": "a@b.co", "first_name": ""})[1]["firstname"] == ""


def test_an_integer_date_that_fits_no_reading_says_which_integers_are_read() -> None:
    with pytest.raises(CoercionError) as raised:
        coerce_value(definition("date", "date"), 17145711001)
    assert "epoch seconds (9 or 10 digits)" in raised.value.reason
    assert "ISO 8601" in raised.value.reason


@pytest.mark.parametrize(
    "record",
    [
        pytest.param({"first_name": "Ada"}, id="missing"),
        pytest.param({"Email": None}, id="null"),
        pytest.param({"Email": "   "}, id="blank"),
    ],
)
def test_map_missing_id(record: dict) -> None:
    with pytest.raises(RecordRejected) as caught:
        mapper("clear").map(record)
    assert (caught.value.code, caught.value.field, caught.value.property) == (
        "MISSING_ID",
        "Email",
        "email",
    )


def test_map_id_of_only_nul_characters_is_missing() -> None:
    with pytest.raises(RecordRejected) as caught:
        mapper(id_property="external_id").map({"Email": "a@b.co", "external_id": "\x00 "})
    assert (caught.value.code, caught.value.value) == ("MISSING_ID", "\x00 ")


def test_map_rejects_invalid_id() -> None:
    with pytest.raises(RecordRejected) as caught:
        mapper().map({"Email": "not-an-email"})
    assert caught.value.code == "INVALID_EMAIL"
    assert str(caught.value) == (
        "field 'Email' (HubSpot property 'email'): \"not-an-email\" is not a valid email address"
    )


def test_map_rejection_carries_original_value() -> None:
    with pytest.raises(RecordRejected) as caught:
        mapper().map({"Email": "a@b.co", "Signup": "2024-13-45"})
    error = caught.value
    assert (error.field, error.property, error.value, error.code) == (
        "Signup",
        "signup_date",
        "2024-13-45",
        "INVALID_DATE",
    )
    assert str(error) == (
        "field 'Signup' (HubSpot property 'signup_date'): "
        '"2024-13-45" is not a date (expected YYYY-MM-DD)'
    )


def test_map_rejection_names_every_bad_value_in_field_order() -> None:
    record = {"Email": "a@b.co", "score": "lots", "Signup": "23/10/2024", "first_name": "Ada"}
    with pytest.raises(RecordRejected) as caught:
        mapper().map(record)
    problems = [(p.field, p.property, p.value, p.code) for p in caught.value.problems]
    assert problems == [
        ("score", "score", "lots", "INVALID_NUMBER"),
        ("Signup", "signup_date", "23/10/2024", "INVALID_DATE"),
    ]
    assert str(caught.value) == (
        "field 'score' (HubSpot property 'score'): \"lots\" is not a number; "
        "field 'Signup' (HubSpot property 'signup_date'): "
        '"23/10/2024" is not a date (expected YYYY-MM-DD)'
    )


def test_map_rejection_of_a_missing_id_also_names_the_other_bad_values() -> None:
    with pytest.raises(RecordRejected) as caught:
        mapper().map({"score": "lots"})
    assert [p.code for p in caught.value.problems] == ["MISSING_ID", "INVALID_NUMBER"]


def test_map_custom_id_property_is_trimmed() -> None:
    record = {"Email": "a@b.co", "external_id": " A-1 "}
    assert mapper(id_property="external_id").map(record) == (
        "A-1",
        {"external_id": "A-1", "email": "a@b.co"},
    )


def test_map_still_validates_email_when_not_the_id() -> None:
    with pytest.raises(RecordRejected) as caught:
        mapper(id_property="external_id").map({"external_id": "A-1", "Email": "nope"})
    assert (caught.value.code, caught.value.property) == ("INVALID_EMAIL", "email")


def test_mapper_exposes_id_field_and_property() -> None:
    custom = mapper(id_property="external_id")
    assert (custom.id_field, custom.id_property) == ("external_id", "external_id")


def test_mapper_rejects_unknown_null_values() -> None:
    with pytest.raises(ConfigurationError, match="null_values"):
        mapper("drop")


# --- infer_property_definition ----------------------------------------------------------------

BOOL_OPTIONS = [{"label": "True", "value": "true"}, {"label": "False", "value": "false"}]


@pytest.mark.parametrize(
    ("schema", "type_", "field_type"),
    [
        pytest.param({"type": "string"}, "string", "text", id="string"),
        pytest.param({"type": ["string", "null"]}, "string", "text", id="nullable-string"),
        pytest.param({"type": "string", "format": "email"}, "string", "text", id="string-email"),
        pytest.param({"type": "string", "format": "date"}, "date", "date", id="date"),
        pytest.param(
            {"type": ["null", "string"], "format": "date-time"}, "datetime", "date", id="date-time"
        ),
        pytest.param(
            {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
            "datetime",
            "date",
            id="anyof-date-time",
        ),
        pytest.param({"type": "integer"}, "number", "number", id="integer"),
        pytest.param({"type": ["number", "null"]}, "number", "number", id="number"),
        pytest.param(
            {"anyOf": [{"type": "integer"}, {"type": "number"}]}, "number", "number", id="anyof-num"
        ),
        pytest.param({"type": ["boolean", "null"]}, "bool", "booleancheckbox", id="boolean"),
        pytest.param({"type": "array", "items": {}}, "string", "textarea", id="array"),
        pytest.param({"type": "object"}, "string", "textarea", id="object"),
        pytest.param({"type": ["string", "integer"]}, "string", "textarea", id="mixed"),
        pytest.param({}, "string", "textarea", id="untyped"),
    ],
)
def test_infer_type(schema: dict, type_: str, field_type: str) -> None:
    body = infer_property_definition("Shoe Size", schema)
    assert (body["type"], body["fieldType"]) == (type_, field_type)
    assert body["groupName"] == "contactinformation"
    assert body["label"] == "Shoe Size"
    assert body.get("options") == (BOOL_OPTIONS if type_ == "bool" else None)


@pytest.mark.parametrize(
    ("field", "name"),
    [
        pytest.param("Shoe Size", "shoe_size", id="spaces"),
        pytest.param("shoeSize", "shoesize", id="camel"),
        pytest.param("--Shoe--Size (EU)!", "shoe_size_eu_2a0f3b", id="collapse-and-strip"),
        pytest.param("2fa_enabled", "p_2fa_enabled_fdbd9a", id="leading-digit"),
        pytest.param("_private", "private_6a739a", id="leading-underscore"),
        pytest.param("Prénom", "prenom_24d2c7", id="accents"),
        pytest.param("名前", "mingqian_2ab6ba", id="cjk"),
        pytest.param("Имя", "imya_0b8520", id="cyrillic"),
    ],
)
def test_infer_internal_name(field: str, name: str) -> None:
    # A name that is not the field as written carries a hash of the field name.
    assert infer_property_definition(field, {"type": "string"})["name"] == name


def test_internal_names_are_unique_for_fields_that_read_alike() -> None:
    fields = ["Prénom", "prenom", "Prenom!", "名前", "名字", "Имя", "имя", "", "_"]
    names = [infer_property_definition(f, {"type": "string"})["name"] for f in fields]
    assert len(set(names)) == len(names)


# --- odd values: the ends of the calendar, huge numbers, deep nesting, JSON text in reasons ----

END_OF_TIME_EST = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=MINUS_5)
START_OF_TIME_CET = dt.datetime(1, 1, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))


@pytest.mark.parametrize("prop", [definition("datetime", "date"), definition("date", "date")])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param(END_OF_TIME_EST, id="datetime-past-9999"),
        pytest.param(START_OF_TIME_CET, id="datetime-before-0001"),
        pytest.param("9999-12-31T23:59:59-05:00", id="text-past-9999"),
        pytest.param("0001-01-01T00:00:00+01:00", id="text-before-0001"),
    ],
)
def test_a_moment_an_offset_carries_outside_four_digit_years_is_refused_saying_so(
    prop: PropertyDefinition, value: object
) -> None:
    with pytest.raises(CoercionError) as caught:
        coerce_value(prop, value)
    assert caught.value.code == ("INVALID_DATE" if prop.type == "date" else "INVALID_DATETIME")
    assert "outside the years 0001 to 9999 once converted to UTC" in caught.value.reason
    assert "9999-12-31T23:59:59Z" in caught.value.reason  # what to send instead


@pytest.mark.parametrize(
    ("prop", "value", "expected"),
    [
        pytest.param(
            definition("datetime", "date"),
            dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
            "9999-12-31T23:59:59.000Z",
            id="datetime-last-second",
        ),
        pytest.param(
            definition("datetime", "date"),
            "0001-01-01T01:00:00+01:00",
            "0001-01-01T00:00:00.000Z",
            id="datetime-first-instant",
        ),
        pytest.param(definition("date", "date"), "9999-12-31", "9999-12-31", id="date-last-day"),
        pytest.param(
            definition("date", "date"), "9999-12-31T23:59:59Z", "9999-12-31", id="date-from-utc"
        ),
    ],
)
def test_the_ends_of_the_calendar_in_utc_are_written(
    prop: PropertyDefinition, value: object, expected: str
) -> None:
    assert coerce_value(prop, value) == expected


@pytest.mark.parametrize("prop", [definition("datetime", "date"), definition("date", "date")])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("9" * 5000, id="digits-beyond-int-conversion"),
        pytest.param("0" * 30 + "9" * 20, id="twenty-digits-after-zeros"),
        pytest.param(10**5000, id="int-beyond-its-text-limit"),
        pytest.param(-(10**20), id="large-negative"),
    ],
)
def test_an_integer_of_any_size_that_fits_no_date_reading_is_refused(
    prop: PropertyDefinition, value: object
) -> None:
    with pytest.raises(CoercionError) as caught:
        coerce_value(prop, value)
    assert "cannot be read as a date with certainty" in caught.value.reason


def test_leading_zeros_do_not_hide_an_epoch() -> None:
    assert coerce_value(definition("datetime", "date"), "0001714571100") == (
        "2024-05-01T13:45:00.000Z"
    )


@pytest.mark.parametrize(
    "prop",
    [definition("string"), definition("number", "number"), SINGLE, MULTI],
    ids=["text", "number", "option", "options"],
)
def test_a_number_of_thousands_of_digits_is_refused_as_out_of_range(
    prop: PropertyDefinition,
) -> None:
    with pytest.raises(CoercionError) as caught:
        coerce_value(prop, Decimal("9" * 5000))
    assert caught.value.code == "INVALID_NUMBER"
    assert "over 1,000 digits" in caught.value.reason


def nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = {"a": [value]}
    return value


@pytest.mark.parametrize(
    "prop", [definition("string"), SINGLE, MULTI], ids=["text", "option", "options"]
)
def test_a_value_nested_too_deep_for_text_is_refused_not_a_crash(prop: PropertyDefinition) -> None:
    with pytest.raises(CoercionError) as caught:
        coerce_value(prop, nested(400))  # 800 levels: deeper than Python's recursion goes
    assert caught.value.code == "INVALID_TEXT"
    assert "more than 100 levels deep" in caught.value.reason


def test_a_value_nested_within_the_limit_is_written_as_json_text() -> None:
    assert coerce_value(definition("string"), nested(2)) == '{"a":[{"a":["x"]}]}'


@pytest.mark.parametrize(
    ("prop", "value", "reason"),
    [
        pytest.param(
            definition("date", "date"),
            Decimal("1E+20"),
            "1E+20 is not a date (expected YYYY-MM-DD)",
            id="decimal-as-sent",
        ),
        pytest.param(
            definition("date", "date"),
            True,
            "true is not a date (expected YYYY-MM-DD)",
            id="boolean-as-json",
        ),
        pytest.param(
            SINGLE,
            Decimal("1.0"),
            "1.0 is not an option of this property (allowed values: new, open_deal, lost)",
            id="number-option",
        ),
        pytest.param(
            SINGLE,
            "1.0",
            '"1.0" is not an option of this property (allowed values: new, open_deal, lost)',
            id="text-option-quoted",
        ),
        pytest.param(
            definition("datetime", "date"),
            {"at": None},
            '{"at":null} is not a date-time',
            id="object",
        ),
    ],
)
def test_a_reason_quotes_the_value_as_json_text_as_the_tap_sent_it(
    prop: PropertyDefinition, value: object, reason: str
) -> None:
    with pytest.raises(CoercionError) as caught:
        coerce_value(prop, value)
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"address": "ada@example.com"}, id="object"),
        pytest.param(["ada@example.com"], id="array"),
    ],
)
def test_an_id_that_is_an_object_or_array_is_refused(value: object) -> None:
    with pytest.raises(RecordRejected) as caught:
        mapper().map({"Email": value})
    assert caught.value.code == "INVALID_ID"
    assert "a contact's id is one value" in caught.value.reason


def test_an_email_that_is_an_array_is_not_an_email_address() -> None:
    with pytest.raises(CoercionError) as caught:
        coerce_value(PORTAL["email"], ["ada@example.com"])
    assert caught.value.code == "INVALID_EMAIL"


# --- properties created for unmatched fields: one name per field, stable across runs ---------


def test_fields_that_would_share_a_name_get_one_each_the_exact_one_keeping_it() -> None:
    fields = ["Loyalty Tier", "loyalty_tier", "LOYALTY-TIER"]
    bodies = plan_new_properties(fields, {})
    names = {field: body["name"] for field, body in bodies.items()}
    assert names["loyalty_tier"] == "loyalty_tier"
    assert names["Loyalty Tier"].startswith("loyalty_tier_")
    assert names["LOYALTY-TIER"].startswith("loyalty_tier_")
    assert len(set(names.values())) == 3
    assert plan_new_properties(reversed(fields), {}) == bodies  # whatever the order


def test_a_field_alone_keeps_its_readable_name() -> None:
    (body,) = plan_new_properties(["Loyalty Tier"], {}).values()
    assert body["name"] == "loyalty_tier"


def test_a_name_another_field_already_writes_is_not_given_again() -> None:
    (body,) = plan_new_properties(["Loyalty Tier"], {}, claimed={"loyalty_tier"}).values()
    assert body["name"].startswith("loyalty_tier_")


def test_each_field_finds_the_property_made_for_it_in_later_runs() -> None:
    bodies = plan_new_properties(["Loyalty Tier", "loyalty_tier"], {})
    portal = dict(PORTAL)
    for body in bodies.values():
        portal[body["name"]] = PropertyDefinition.from_api(body)

    plan = plan_fields(["email", "Loyalty Tier", "loyalty_tier"], portal)

    assert plan.targets["loyalty_tier"] == "loyalty_tier"
    assert plan.targets["Loyalty Tier"] == bodies["Loyalty Tier"]["name"]


def test_an_integer_past_the_text_limit_of_python_ints_is_refused_as_out_of_range() -> None:
    with pytest.raises(CoercionError) as caught:
        coerce_value(definition("number", "number"), 10**5000)  # e.g. made by a stream map
    assert caught.value.code == "INVALID_NUMBER"
    assert caught.value.reason.startswith("1" + "0" * 20)


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param(True, id="true"),
        pytest.param({"type": 5}, id="number-type"),
        pytest.param({"anyOf": 3}, id="any-of-not-a-list"),
    ],
)
def test_a_field_schema_of_another_shape_gets_a_text_property(schema: object) -> None:
    body = infer_property_definition("Nickname", schema)
    assert (body["type"], body["fieldType"]) == ("string", "textarea")
