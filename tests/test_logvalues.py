"""Unit tests for how record values and ids appear in the log (logvalues.py)."""

from __future__ import annotations

import pytest

from target_hubspot_contacts import logvalues
from target_hubspot_contacts.logvalues import reason_text, record_ref, skipped_text
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
    assert record_ref("zq@example.org", 3) == "id 'zq@example.org'"


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
