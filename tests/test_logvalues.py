"""Unit tests for how record values and ids appear in the log (logvalues.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from target_hubspot_contacts import logvalues
from target_hubspot_contacts.logvalues import (
    SHOWN_CHARS,
    reason_text,
    record_ref,
    shown,
    skipped_text,
)
from target_hubspot_contacts.outcomes import Problem, Reason, Skipped

LOCAL = Reason(
    source="local",
    message="field 'email' (HubSpot property 'email'): 'zq@x' is not a valid email address; ...",
    code="INVALID_EMAIL",
    property="email",
    field="email",
    problems=(
        Problem(
            "INVALID_EMAIL",
            "email",
            "'zq@x' is not a valid email address",
            field="email",
            value="zq@x",
            summary="the value is not a valid email address",
        ),
        Problem(
            "INVALID_DATE",
            "signup_date",
            "'zq' is not a date",
            field="joined",
            value="zq",
            summary="the value is not a date",
        ),
    ),
)
HUBSPOT = Reason(
    source="hubspot",
    message="Email address zq@x..com is invalid",
    code="INVALID_EMAIL",
    property="email",
    problems=(Problem("INVALID_EMAIL", "email", "Email address zq@x..com is invalid"),),
)
CONFLICT = Reason(
    source="hubspot", message="Contact already exists. Existing ID: 1001", category="CONFLICT"
)


@pytest.fixture
def values_hidden():
    logvalues.show_values(False)
    yield
    logvalues.show_values(True)


def test_a_record_is_named_by_its_id_while_values_are_shown():
    assert record_ref("zq@example.org", 3) == 'id "zq@example.org"'


def test_a_record_without_an_id_is_named_by_its_position():
    assert record_ref(None, 3) == "record 3 of the stream"


@pytest.mark.usefixtures("values_hidden")
def test_a_record_is_named_by_its_position_when_values_are_hidden():
    assert record_ref("zq@example.org", 3) == "record 3 of the stream"


@pytest.mark.usefixtures("values_hidden")
def test_a_local_rejection_names_each_field_property_and_code_without_values():
    assert reason_text(LOCAL) == (
        "field 'email' (HubSpot property 'email'): the value is not a valid email address "
        "[INVALID_EMAIL]; field 'joined' (HubSpot property 'signup_date'): the value is not a "
        "date [INVALID_DATE]"
    )


@pytest.mark.usefixtures("values_hidden")
def test_a_hubspot_rejection_leaves_hubspots_message_out():
    assert reason_text(HUBSPOT) == "property 'email': HubSpot refused the value [INVALID_EMAIL]"


@pytest.mark.usefixtures("values_hidden")
def test_a_rejection_naming_no_value_gives_its_category():
    assert reason_text(CONFLICT) == "HubSpot refused the record [CONFLICT]"


@pytest.mark.usefixtures("values_hidden")
def test_a_skipped_contact_is_named_by_its_records_position():
    skipped = Skipped("no contact with email 'zq@x'; ...", summary="no contact with its email")

    assert skipped_text("zq@x", "contacts", 7, skipped) == (
        "Skipped contact of record 7 of stream 'contacts': no contact with its email."
    )


def test_while_values_are_shown_a_rejection_quotes_them():
    assert reason_text(HUBSPOT) == (
        "property 'email': Email address zq@x..com is invalid [INVALID_EMAIL]"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param("ada@example.com", '"ada@example.com"', id="text-quoted"),
        pytest.param(Decimal("1E+20"), "1E+20", id="number-as-sent"),
        pytest.param(Decimal("1.0"), "1.0", id="trailing-zero-kept"),
        pytest.param(True, "true", id="boolean"),
        pytest.param(None, "null", id="null"),
        pytest.param({"a": [1, None]}, '{"a":[1,null]}', id="object"),
        pytest.param("Ren\udce9", '"Ren\\udce9"', id="lone-surrogate-escaped"),
        pytest.param(dt.date(2024, 5, 1), '"2024-05-01"', id="date-as-text"),
    ],
)
def test_a_value_is_shown_as_json_text_as_the_tap_sent_it(value: object, text: str) -> None:
    assert shown(value) == text


def test_a_long_value_is_shortened() -> None:
    text = shown("x" * 500)
    assert (len(text), text[:2], text[-3:]) == (SHOWN_CHARS, '"x', "...")


def test_a_value_nested_deeper_than_the_stack_goes_is_shown_shortened() -> None:
    value: object = "x"
    for _ in range(3000):
        value = [value]
    assert shown(value) == "[" * (SHOWN_CHARS - 3) + "..."
