"""The local HubSpot emulator, exercised over real HTTP the way the target talks to it."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from target_hubspot_contacts.emulator import HubSpotEmulator
from target_hubspot_contacts.emulator.__main__ import parse_fault

TOKEN = "pat-test"
CONTACTS = "/crm/objects/2026-03/contacts/batch/"
UPSERT = CONTACTS + "upsert"
READ = CONTACTS + "read"
CREATE = CONTACTS + "create"
UPDATE = CONTACTS + "update"
ARCHIVE = CONTACTS + "archive"
PROPERTIES = "/crm/properties/2026-03/contacts"
OAUTH_TOKEN = "/oauth/2026-03/token"


@pytest.fixture
def emu() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(access_token=TOKEN, dated_only=True) as server:
        yield server


def call(
    emu: HubSpotEmulator,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = TOKEN,
    timeout: float = 5,
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, emu.url + path, json=body, headers=headers, timeout=timeout)


def post(emu: HubSpotEmulator, path: str, body: Any, **kwargs: Any) -> requests.Response:
    return call(emu, "POST", path, body, **kwargs)


def upsert(emu: HubSpotEmulator, *inputs: dict[str, Any], **kwargs: Any) -> requests.Response:
    return post(emu, UPSERT, {"inputs": list(inputs)}, **kwargs)


def by_email(email: str, trace: str | None = None, /, **properties: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"id": email, "idProperty": "email", "properties": properties}
    if trace is not None:
        item["objectWriteTraceId"] = trace
    return item


def embedded(message: str) -> list[dict[str, Any]]:
    """The JSON list inside "Property values were not valid: [...]"."""
    return json.loads(message.split(": ", 1)[1])


def refresh(emu: HubSpotEmulator, refresh_token: str, secret: str = "s3cret") -> requests.Response:
    form = {
        "grant_type": "refresh_token",
        "client_id": "app",
        "client_secret": secret,
        "refresh_token": refresh_token,
    }
    return requests.post(emu.url + OAUTH_TOKEN, data=form, timeout=5)


# ----- batch upsert -----


def test_upsert_creates_then_updates_the_same_contact(emu: HubSpotEmulator) -> None:
    first = upsert(emu, by_email("Ada@Example.com", "1", firstname="Ada"))
    second = upsert(emu, by_email("ada@example.com", "1", lastname="Lovelace"))

    assert first.status_code == 200
    assert second.status_code == 200
    created, updated = first.json()["results"][0], second.json()["results"][0]
    assert created["new"] is True
    assert updated["new"] is False
    assert created["id"] == updated["id"]
    assert updated["properties"]["email"] == "ada@example.com"
    assert updated["properties"]["firstname"] == "Ada"
    assert emu.contact(email="ADA@example.com")["properties"]["lastname"] == "Lovelace"
    assert len(emu.contacts) == 1


def test_upsert_results_are_not_in_input_order_but_carry_trace_ids(emu: HubSpotEmulator) -> None:
    emails = [f"user{n}@example.com" for n in range(5)]
    response = upsert(emu, *(by_email(email, str(n)) for n, email in enumerate(emails)))

    results = response.json()["results"]
    assert [r["properties"]["email"] for r in results] != emails
    assert {r["objectWriteTraceId"]: r["properties"]["email"] for r in results} == {
        str(n): email for n, email in enumerate(emails)
    }


def test_upsert_with_trace_ids_writes_valid_inputs_and_reports_invalid_ones(
    emu: HubSpotEmulator,
) -> None:
    response = upsert(
        emu,
        by_email("good@example.com", "1", firstname="Good"),
        by_email("not-an-email", "2"),
        by_email("bad-plan@example.com", "3", plan="Pro Plan"),
    )

    assert response.status_code == 207
    body = response.json()
    assert body["numErrors"] == 2
    assert [r["objectWriteTraceId"] for r in body["results"]] == ["1"]
    errors = {e["context"]["objectWriteTraceId"][0]: e for e in body["errors"]}
    assert embedded(errors["2"]["message"]) == [
        {
            "isValid": False,
            "message": "Email address not-an-email is invalid",
            "error": "INVALID_EMAIL",
            "name": "email",
        }
    ]
    assert embedded(errors["3"]["message"])[0]["error"] == "INVALID_OPTION"
    assert emu.contact(email="good@example.com") is not None
    assert emu.contact(email="bad-plan@example.com") is None


def test_upsert_without_trace_ids_fails_the_whole_call_and_writes_nothing(
    emu: HubSpotEmulator,
) -> None:
    response = upsert(emu, by_email("good@example.com"), by_email("not-an-email", "2"))

    assert response.status_code == 400
    body = response.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert "not-an-email" in body["message"]
    assert body["errors"][0]["code"] == "INVALID_EMAIL"
    assert body["errors"][0]["context"] == {"propertyName": ["email"]}
    assert emu.contacts == []


def test_upsert_duplicate_ids_fail_the_whole_call_ignoring_case_and_space(
    emu: HubSpotEmulator,
) -> None:
    response = upsert(emu, by_email("ada@example.com", "1"), by_email(" ADA@example.com", "2"))

    assert response.status_code == 400
    body = response.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Duplicate IDs found in batch input: [")
    assert body["context"] == {"ids": [" ADA@example.com"]}
    assert emu.contacts == []


def test_upsert_of_101_inputs_is_refused(emu: HubSpotEmulator) -> None:
    response = upsert(emu, *(by_email(f"u{n}@example.com", str(n)) for n in range(101)))

    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert emu.contacts == []


@pytest.mark.parametrize("id_property", ["firstname", "hs_object_id", "no_such_property"])
def test_upsert_by_non_unique_property_is_refused(emu: HubSpotEmulator, id_property: str) -> None:
    item = {"id": "1001", "idProperty": id_property, "properties": {}}

    response = upsert(emu, item)

    assert response.status_code == 400
    assert response.json()["message"] == (
        f"Unable to perform update/upsert by non-unique 0-1 property {id_property}"
    )


def test_upsert_by_unique_custom_property_creates_then_updates(emu: HubSpotEmulator) -> None:
    item = {"id": "ext-1", "idProperty": "external_id", "properties": {"firstname": "Ada"}}

    created = upsert(emu, item).json()["results"][0]
    updated = upsert(emu, {**item, "properties": {"firstname": "Grace"}}).json()["results"][0]

    assert (created["new"], updated["new"]) == (True, False)
    assert emu.contact(external_id="ext-1")["properties"]["firstname"] == "Grace"


def test_upsert_giving_an_existing_email_to_another_contact_is_a_conflict(
    emu: HubSpotEmulator,
) -> None:
    upsert(emu, by_email("ada@example.com"))
    item = {"id": "ext-1", "idProperty": "external_id", "properties": {"email": "ada@example.com"}}

    response = upsert(emu, item)

    assert response.status_code == 409
    assert response.json()["message"].startswith("Contact already exists. Existing ID: ")


def test_upsert_without_inputs_wrapper_answers_complete_and_writes_nothing(
    emu: HubSpotEmulator,
) -> None:
    response = post(emu, UPSERT, by_email("ada@example.com"))

    assert response.status_code == 200
    assert response.json()["status"] == "COMPLETE"
    assert response.json()["results"] == []
    assert emu.contacts == []


# ----- property values -----


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [
        ("email", "ada@example.com", None),
        ("email", "ada@example", "INVALID_EMAIL"),
        ("signup_date", "2024-01-15", None),
        ("signup_date", "1704067200000", None),
        ("signup_date", "2024-02-30", "INVALID_DATE"),
        ("signup_date", "15/01/2024", "INVALID_DATE"),
        ("signup_date", "1521829889103", "INVALID_DATE"),
        ("last_login_at", "2024-01-15T10:00:00Z", None),
        ("last_login_at", "2024-01-15T10:00:00.123+02:00", None),
        ("last_login_at", "1705312800000", None),
        ("last_login_at", "2024-01-15T10:00:00", "INVALID_DATETIME"),
        ("last_login_at", "yesterday", "INVALID_DATETIME"),
        ("lifetime_value", "17", None),
        ("lifetime_value", "-3.5", None),
        ("lifetime_value", "1e5", "INVALID_INTEGER"),
        ("lifetime_value", "12 EUR", "INVALID_INTEGER"),
        ("is_customer", "true", None),
        ("is_customer", "yes", "INVALID_BOOLEAN"),
        ("plan", "pro", None),
        ("plan", "Pro Plan", "INVALID_OPTION"),
        ("interests", "analytics;marketing_hub", None),
        ("interests", "analytics;Marketing Hub", "INVALID_OPTION"),
        ("lifecyclestage", "salesqualifiedlead", None),
        ("lifecyclestage", "Sales Qualified Lead", "INVALID_OPTION"),
        ("notes_text", "x" * 65_536, None),
        ("notes_text", "x" * 65_537, "INVALID_LONG_STRING"),
        ("firstname", "x" * 65_537, "INVALID_LONG_STRING"),
        ("favorite_color", "blue", "PROPERTY_DOESNT_EXIST"),
        ("lifetime_value", 17, "INVALID_PROPERTY_VALUE"),
        ("is_customer", True, "INVALID_PROPERTY_VALUE"),
        ("firstname", None, "INVALID_PROPERTY_VALUE"),
        ("signup_date", "", None),
    ],
)
def test_property_value_format(
    emu: HubSpotEmulator, name: str, value: Any, code: str | None
) -> None:
    response = upsert(emu, by_email("ada@example.com", "1", **{name: value}))

    if code is None:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 207
        assert [e["error"] for e in embedded(response.json()["errors"][0]["message"])] == [code]


def test_date_not_at_midnight_names_the_time(emu: HubSpotEmulator) -> None:
    response = upsert(emu, by_email("ada@example.com", "1", signup_date="1521829889103"))

    [error] = embedded(response.json()["errors"][0]["message"])
    assert error["message"] == "1521829889103 is at 18:31:29.103 UTC, not midnight!"


@pytest.mark.parametrize("name", ["createdate", "hs_object_id", "hs_email_domain", "num_notes"])
def test_read_only_or_calculated_property_is_refused(emu: HubSpotEmulator, name: str) -> None:
    response = upsert(emu, by_email("ada@example.com", "1", **{name: "1"}))

    assert response.status_code == 207
    assert embedded(response.json()["errors"][0]["message"])[0]["error"] == "READ_ONLY_VALUE"


def test_values_are_stored_the_way_hubspot_normalizes_them(emu: HubSpotEmulator) -> None:
    upsert(
        emu,
        by_email(
            "Ada@Example.COM",
            "1",
            signup_date="1704067200000",
            last_login_at="2024-01-15T10:00:00+02:00",
        ),
    )

    properties = emu.contact(email="ada@example.com")["properties"]
    assert properties["email"] == "ada@example.com"
    assert properties["hs_email_domain"] == "example.com"
    assert properties["signup_date"] == "2024-01-01"
    assert properties["last_login_at"] == "2024-01-15T08:00:00.000Z"
    assert properties["hs_object_id"] == emu.contact(email="ada@example.com")["id"]


def test_empty_string_clears_a_value(emu: HubSpotEmulator) -> None:
    upsert(emu, by_email("ada@example.com", "1", firstname="Ada"))
    upsert(emu, by_email("ada@example.com", "1", firstname=""))

    assert "firstname" not in emu.contact(email="ada@example.com")["properties"]


def test_multi_select_value_with_leading_semicolon_appends(emu: HubSpotEmulator) -> None:
    upsert(emu, by_email("ada@example.com", "1", interests="crm"))
    upsert(emu, by_email("ada@example.com", "1", interests=";analytics"))

    assert emu.contact(email="ada@example.com")["properties"]["interests"] == "crm;analytics"


# ----- malformed requests -----


def test_invalid_json_body_is_a_400_naming_the_position(emu: HubSpotEmulator) -> None:
    response = requests.post(
        emu.url + UPSERT,
        data=b'{"inputs": [',
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json()["message"].startswith("Invalid input JSON on line 1, column ")
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_unknown_path_is_a_json_404(emu: HubSpotEmulator) -> None:
    response = call(emu, "GET", "/crm/objects/2026-03/deals")

    assert response.status_code == 404
    assert response.json()["status"] == "error"
    assert response.json()["message"].startswith("Unable to route")


def test_every_response_carries_a_correlation_id_that_error_bodies_repeat(
    emu: HubSpotEmulator,
) -> None:
    ok = call(emu, "GET", PROPERTIES)
    failed = call(emu, "GET", PROPERTIES, token="pat-wrong")

    assert len(ok.headers["x-hubspot-correlation-id"]) == 36
    assert failed.json()["correlationId"] == failed.headers["x-hubspot-correlation-id"]


# ----- authentication and scopes -----


@pytest.mark.parametrize("token", [None, "pat-wrong"])
def test_missing_or_unknown_token_is_401(emu: HubSpotEmulator, token: str | None) -> None:
    response = call(emu, "GET", PROPERTIES, token=token)

    assert response.status_code == 401
    assert response.json()["category"] == "INVALID_AUTHENTICATION"
    assert response.json()["message"].startswith("Authentication credentials not found.")


def test_expired_oauth_token_is_401_expired_authentication(emu: HubSpotEmulator) -> None:
    emu.add_oauth_client("app", "s3cret", "refresh-1")
    access_token = refresh(emu, "refresh-1").json()["access_token"]
    assert call(emu, "GET", PROPERTIES, token=access_token).status_code == 200

    emu.expire_access_tokens()
    response = call(emu, "GET", PROPERTIES, token=access_token)

    assert response.status_code == 401
    assert response.json()["category"] == "EXPIRED_AUTHENTICATION"
    assert response.json()["message"].startswith("The OAuth token used to make this call expired")


def test_missing_scope_is_403_naming_the_scope() -> None:
    read_only = ["crm.objects.contacts.read", "crm.schemas.contacts.read"]
    with HubSpotEmulator(access_token=TOKEN, dated_only=True, scopes=read_only) as emu:
        response = upsert(emu, by_email("ada@example.com"))
        allowed = call(emu, "GET", PROPERTIES)

    assert response.status_code == 403
    body = response.json()
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.contacts.write"]
    assert body["context"]["missingScopes"] == ["crm.objects.contacts.write"]
    assert allowed.status_code == 200


@pytest.mark.parametrize("path", ["/account-info/v3/details", "/account-info/2026-03/details"])
def test_account_details_name_the_portal_to_any_valid_token_without_scopes(path: str) -> None:
    with HubSpotEmulator(access_token=TOKEN, scopes=[], portal_id=4242) as emu:
        response = call(emu, "GET", path)
        anonymous = call(emu, "GET", path, token=None)

    assert response.status_code == 200
    assert response.json()["portalId"] == 4242
    assert response.json()["accountType"] == "STANDARD"
    assert anonymous.status_code == 401


def test_account_details_can_require_a_scope_as_hubspot_documents() -> None:
    path = "/account-info/2026-03/details"
    with HubSpotEmulator(
        access_token=TOKEN, dated_only=True, account_details_scope="oauth"
    ) as strict:
        refused = call(strict, "GET", path)
    with HubSpotEmulator(
        access_token=TOKEN, dated_only=True, account_details_scope="oauth", scopes=["oauth"]
    ) as ok:
        allowed = call(ok, "GET", path)

    assert refused.status_code == 403
    assert refused.json()["category"] == "MISSING_SCOPES"
    assert refused.json()["context"]["missingScopes"] == ["oauth"]
    assert allowed.status_code == 200


def test_dated_token_answers_name_the_portal_unless_told_not_to() -> None:
    answers = {}
    for token_hub_id in (True, False):
        with HubSpotEmulator(access_token=TOKEN, portal_id=4242, token_hub_id=token_hub_id) as emu:
            emu.add_oauth_client("app", "s3cret", "refresh-1")
            answers[token_hub_id] = refresh(emu, "refresh-1").json()
            v1 = requests.post(
                emu.url + "/oauth/v1/token",
                data={
                    "grant_type": "refresh_token",
                    "client_id": "app",
                    "client_secret": "s3cret",
                    "refresh_token": "refresh-1",
                },
                timeout=5,
            ).json()
            assert "hub_id" not in v1

    assert answers[True]["hub_id"] == 4242
    assert "hub_id" not in answers[False]


def test_oauth_refresh_returns_a_bearer_token_that_works(emu: HubSpotEmulator) -> None:
    emu.add_oauth_client("app", "s3cret", "refresh-1")

    body = refresh(emu, "refresh-1").json()

    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 1800
    assert body["refresh_token"] == "refresh-1"
    assert not body["access_token"].startswith("pat-")
    assert upsert(emu, by_email("ada@example.com"), token=body["access_token"]).status_code == 200


def test_oauth_refresh_with_rotation_invalidates_the_old_refresh_token(
    emu: HubSpotEmulator,
) -> None:
    emu.add_oauth_client("app", "s3cret", "refresh-1", rotate=True)

    first = refresh(emu, "refresh-1").json()
    reused = refresh(emu, "refresh-1")
    second = refresh(emu, first["refresh_token"])

    assert first["refresh_token"] != "refresh-1"
    assert reused.status_code == 400
    assert reused.json()["status"] == "BAD_REFRESH_TOKEN"
    assert second.status_code == 200


def test_oauth_refresh_with_wrong_secret_is_refused(emu: HubSpotEmulator) -> None:
    emu.add_oauth_client("app", "s3cret", "refresh-1")

    response = refresh(emu, "refresh-1", secret="guess")

    assert response.status_code == 400
    assert response.json()["status"] == "BAD_CLIENT_SECRET"


# ----- rate limits -----


def test_private_app_calls_carry_rate_limit_headers(emu: HubSpotEmulator) -> None:
    headers = call(emu, "GET", PROPERTIES).headers

    assert headers["X-HubSpot-RateLimit-Max"] == "190"
    assert headers["X-HubSpot-RateLimit-Remaining"] == "189"
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert headers["X-HubSpot-RateLimit-Daily"] == "1000000"
    assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == "999999"


def test_oauth_calls_carry_no_daily_headers(emu: HubSpotEmulator) -> None:
    emu.add_oauth_client("app", "s3cret", "refresh-1")
    access_token = refresh(emu, "refresh-1").json()["access_token"]

    headers = call(emu, "GET", PROPERTIES, token=access_token).headers

    assert headers["X-HubSpot-RateLimit-Max"] == "190"
    assert "X-HubSpot-RateLimit-Daily" not in headers


def test_rolling_window_refuses_with_429_then_recovers() -> None:
    with HubSpotEmulator(
        access_token=TOKEN, dated_only=True, rate_limit=2, interval_ms=2000
    ) as emu:
        statuses = [call(emu, "GET", PROPERTIES).status_code for _ in range(4)]
        refused = call(emu, "GET", PROPERTIES)
        time.sleep(2.05)  # the window of the first two calls has passed
        recovered = call(emu, "GET", PROPERTIES)

    assert statuses == [200, 200, 429, 429]
    assert refused.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert refused.json()["errorType"] == "RATE_LIMIT"
    assert refused.json()["message"] == "You have reached your ten_secondly_rolling limit."
    assert refused.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert "Retry-After" not in refused.headers
    assert recovered.status_code == 200
    assert recovered.headers["X-HubSpot-RateLimit-Remaining"] == "1"


def overlapping_calls(emu: HubSpotEmulator) -> tuple[Any, Any]:
    """A slow call, and a second one sent while the first is in flight: their log entries."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(call, emu, "GET", PROPERTIES)
        deadline = time.monotonic() + 10
        while not emu.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        call(emu, "GET", PROPERTIES)
        first.result()
    return tuple(emu.requests)


def test_a_call_counts_against_the_window_as_it_arrives() -> None:
    with HubSpotEmulator(access_token=TOKEN, dated_only=True, rate_limit=1, latency=1.0) as emu:
        first, second = overlapping_calls(emu)

    assert (first.status, second.status) == (200, 429)
    assert second.answered_at < first.answered_at  # refused at once, without doing the work


def test_counting_once_the_latency_has_passed_shows_the_other_reading() -> None:
    with HubSpotEmulator(
        access_token=TOKEN, dated_only=True, rate_limit=1, latency=1.0, count_at="answer"
    ) as emu:
        first, second = overlapping_calls(emu)

    assert (first.status, second.status) == (200, 429)
    assert second.answered_at > first.answered_at  # counted only once its latency had passed


def test_spent_daily_budget_is_429_daily() -> None:
    with HubSpotEmulator(access_token=TOKEN, dated_only=True, daily_limit=2) as emu:
        statuses = [call(emu, "GET", PROPERTIES).status_code for _ in range(2)]
        refused = call(emu, "GET", PROPERTIES)

    assert statuses == [200, 200]
    assert refused.status_code == 429
    assert refused.json()["policyName"] == "DAILY"
    assert refused.json()["message"] == "You have reached your daily limit."
    assert refused.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"


# ----- fault injection -----


def test_injected_status_answers_once_with_a_realistic_body_and_extra_headers(
    emu: HubSpotEmulator,
) -> None:
    emu.inject("/batch/upsert", status=429, headers={"Retry-After": "1"})

    faulted = upsert(emu, by_email("ada@example.com"))
    normal = upsert(emu, by_email("ada@example.com"))

    assert faulted.status_code == 429
    assert faulted.headers["Retry-After"] == "1"
    assert faulted.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert normal.status_code == 200
    assert [r.status for r in emu.calls("/batch/upsert")] == [429, 200]


def test_injected_status_with_custom_body_repeats_times(emu: HubSpotEmulator) -> None:
    emu.inject("/batch/upsert", status=502, body={"oops": True}, times=2)

    statuses = [upsert(emu, by_email("ada@example.com")).status_code for _ in range(3)]

    assert statuses == [502, 502, 200]
    assert emu.calls("/batch/upsert")[0].response == {"oops": True}


def test_injected_drop_closes_the_connection_without_answering(emu: HubSpotEmulator) -> None:
    emu.inject("/batch/upsert", drop_connection=True)

    with pytest.raises(requests.ConnectionError):
        upsert(emu, by_email("ada@example.com"))

    assert emu.contacts == []
    assert [r.status for r in emu.calls("/batch/upsert")] == [0]


def test_injected_delay_times_the_client_out_but_the_write_still_happens(
    emu: HubSpotEmulator,
) -> None:
    emu.inject("/batch/upsert", delay=0.5)

    with pytest.raises(requests.Timeout):
        upsert(emu, by_email("ada@example.com"), timeout=0.1)

    deadline = time.monotonic() + 3
    while emu.calls("/batch/upsert")[0].status == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert emu.contact(email="ada@example.com") is not None


# ----- other batch endpoints -----


def test_batch_read_by_email_reports_missing_ids_with_207(emu: HubSpotEmulator) -> None:
    upsert(emu, by_email("ada@example.com", "1", firstname="Ada"))
    body = {
        "idProperty": "email",
        "inputs": [{"id": "ADA@example.com"}, {"id": "nobody@example.com"}],
        "properties": ["firstname", "plan"],
    }

    response = post(emu, READ, body)

    assert response.status_code == 207
    [result] = response.json()["results"]
    assert result["properties"] == {
        "firstname": "Ada",
        "plan": None,
        "hs_object_id": result["id"],
    }
    [error] = response.json()["errors"]
    assert error["category"] == "OBJECT_NOT_FOUND"
    assert error["context"] == {"ids": ["nobody@example.com"]}
    assert response.json()["numErrors"] == 1


def test_batch_read_without_id_property_uses_record_ids(emu: HubSpotEmulator) -> None:
    contact_id = upsert(emu, by_email("ada@example.com")).json()["results"][0]["id"]

    response = post(emu, READ, {"inputs": [{"id": contact_id}], "properties": ["email"]})

    assert response.status_code == 200
    assert response.json()["results"][0]["properties"]["email"] == "ada@example.com"


def test_batch_create_returns_201(emu: HubSpotEmulator) -> None:
    inputs = [{"properties": {"email": "ada@example.com"}, "objectWriteTraceId": "1"}]

    response = post(emu, CREATE, {"inputs": inputs})

    assert response.status_code == 201
    assert response.json()["results"][0]["objectWriteTraceId"] == "1"
    assert emu.contact(email="ada@example.com") is not None


def test_batch_create_of_an_existing_email_is_409_and_writes_nothing(
    emu: HubSpotEmulator,
) -> None:
    existing = upsert(emu, by_email("ada@example.com")).json()["results"][0]["id"]
    inputs = [
        {"properties": {"email": "new@example.com"}},
        {"properties": {"email": "ADA@example.com"}},
    ]

    response = post(emu, CREATE, {"inputs": inputs})

    assert response.status_code == 409
    assert response.json()["message"] == f"Contact already exists. Existing ID: {existing}"
    assert response.json()["category"] == "CONFLICT"
    assert emu.contact(email="new@example.com") is None


def test_batch_update_by_record_id_changes_the_contact(emu: HubSpotEmulator) -> None:
    contact_id = upsert(emu, by_email("ada@example.com")).json()["results"][0]["id"]

    response = post(emu, UPDATE, {"inputs": [{"id": contact_id, "properties": {"plan": "pro"}}]})

    assert response.status_code == 200
    assert "new" not in response.json()["results"][0]
    assert emu.contact(email="ada@example.com")["properties"]["plan"] == "pro"


def test_batch_update_of_unknown_id_is_a_per_input_error_with_trace_ids(
    emu: HubSpotEmulator,
) -> None:
    inputs = [{"id": "999999", "properties": {"plan": "pro"}, "objectWriteTraceId": "7"}]

    response = post(emu, UPDATE, {"inputs": inputs})

    assert response.status_code == 207
    [error] = response.json()["errors"]
    assert error["category"] == "OBJECT_NOT_FOUND"
    assert error["context"]["objectWriteTraceId"] == ["7"]
    assert emu.contacts == []


def test_batch_update_of_unknown_id_fails_the_call_without_trace_ids(
    emu: HubSpotEmulator,
) -> None:
    response = post(emu, UPDATE, {"inputs": [{"id": "999999", "properties": {}}]})

    assert response.status_code == 400
    assert response.json()["context"] == {"ids": ["999999"]}


def test_archived_contact_is_unreadable_and_an_upsert_creates_a_new_one(
    emu: HubSpotEmulator,
) -> None:
    old_id = upsert(emu, by_email("ada@example.com")).json()["results"][0]["id"]

    archived = post(emu, ARCHIVE, {"inputs": [{"id": old_id}, {"id": "424242"}]})
    read = post(emu, READ, {"inputs": [{"id": old_id}]})
    recreated = upsert(emu, by_email("ada@example.com")).json()["results"][0]

    assert archived.status_code == 204
    assert archived.content == b""
    assert read.status_code == 207
    assert recreated["new"] is True
    assert recreated["id"] != old_id
    assert [c["archived"] for c in emu.contacts] == [True, False]


# ----- property definitions -----


def test_properties_list_holds_standard_and_custom_definitions(emu: HubSpotEmulator) -> None:
    properties = {p["name"]: p for p in call(emu, "GET", PROPERTIES).json()["results"]}

    assert {"email", "lifecyclestage", "external_id", "interests"} <= properties.keys()
    assert properties["external_id"]["hasUniqueValue"] is True
    assert properties["createdate"]["modificationMetadata"]["readOnlyValue"] is True
    assert properties["interests"]["fieldType"] == "checkbox"
    assert {"label": "Pro Plan", "value": "pro", "hidden": False, "displayOrder": 1} in (
        properties["plan"]["options"]
    )


def test_created_property_is_listed_and_writable(emu: HubSpotEmulator) -> None:
    definition = {
        "name": "favorite_color",
        "label": "Favorite color",
        "type": "string",
        "fieldType": "text",
        "groupName": "contactinformation",
    }

    created = post(emu, PROPERTIES, definition)
    again = post(emu, PROPERTIES, definition)
    written = upsert(emu, by_email("ada@example.com", "1", favorite_color="blue"))

    assert created.status_code == 201
    assert created.json()["modificationMetadata"]["readOnlyValue"] is False
    assert again.status_code == 409
    assert written.status_code == 200


@pytest.mark.parametrize("change", [{"type": "colour"}, {"fieldType": "slider"}, {"label": None}])
def test_property_creation_with_bad_definition_is_400(
    emu: HubSpotEmulator, change: dict[str, Any]
) -> None:
    definition = {
        "name": "favorite_color",
        "label": "Favorite color",
        "type": "string",
        "fieldType": "text",
        "groupName": "contactinformation",
        **change,
    }

    assert post(emu, PROPERTIES, definition).status_code == 400


def test_add_property_at_run_time_makes_it_an_id_property(emu: HubSpotEmulator) -> None:
    emu.add_property(
        {
            "name": "crm_key",
            "label": "CRM key",
            "type": "string",
            "fieldType": "text",
            "groupName": "contactinformation",
            "hasUniqueValue": True,
        }
    )

    response = upsert(emu, {"id": "k-1", "idProperty": "crm_key", "properties": {}})

    assert response.status_code == 200
    assert emu.contact(crm_key="k-1") is not None


# ----- the server itself -----


def test_keep_alive_connection_serves_several_requests(emu: HubSpotEmulator) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=5)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    statuses = []
    for n in range(3):
        body = json.dumps({"inputs": [by_email(f"u{n}@example.com")]})
        connection.request("POST", UPSERT, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
    connection.close()

    assert statuses == [200, 200, 200]


def test_concurrent_upserts_all_land(emu: HubSpotEmulator) -> None:
    def worker(n: int) -> int:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {TOKEN}"
            for m in range(5):
                body = {"inputs": [by_email(f"w{n}-{m}@example.com")]}
                session.post(emu.url + UPSERT, json=body, timeout=5).raise_for_status()
        return n

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(worker, range(8)))

    assert len(emu.contacts) == 40


def test_requests_are_recorded_with_parsed_parts(emu: HubSpotEmulator) -> None:
    call(emu, "GET", PROPERTIES + "?archived=false")
    upsert(emu, by_email("ada@example.com"))

    listing, written = emu.requests
    assert (listing.method, listing.path, listing.query) == (
        "GET",
        PROPERTIES,
        {"archived": "false"},
    )
    assert listing.headers["authorization"] == f"Bearer {TOKEN}"
    assert written.body == {"inputs": [by_email("ada@example.com")]}
    assert written.status == 200
    assert written.response["results"][0]["properties"]["email"] == "ada@example.com"
    assert emu.calls("/batch/upsert") == [written]


def test_latency_is_added_to_every_api_call() -> None:
    with HubSpotEmulator(access_token=TOKEN, dated_only=True, latency=0.15) as emu:
        started = time.monotonic()
        call(emu, "GET", PROPERTIES)
        elapsed = time.monotonic() - started

    assert elapsed >= 0.15


def test_introspection_shows_contacts_and_stats_without_auth(emu: HubSpotEmulator) -> None:
    upsert(emu, by_email("ada@example.com"))
    emu.inject(PROPERTIES, status=429)
    call(emu, "GET", PROPERTIES)

    contacts = requests.get(emu.url + "/_emulator/contacts", timeout=5).json()["results"]
    stats = requests.get(emu.url + "/_emulator/stats", timeout=5).json()

    assert [c["properties"]["email"] for c in contacts] == ["ada@example.com"]
    assert stats["contacts"] == 1
    assert stats["requestsByPath"] == {UPSERT: 1, PROPERTIES: 1}
    assert stats["rateLimited"] == 1


def test_reset_forgets_contacts_requests_and_added_properties(emu: HubSpotEmulator) -> None:
    emu.add_property(
        {"name": "x1", "label": "X", "type": "string", "fieldType": "text", "groupName": "g"}
    )
    upsert(emu, by_email("ada@example.com"))

    emu.reset()

    names = {p["name"] for p in call(emu, "GET", PROPERTIES).json()["results"]}
    assert emu.contacts == []
    assert len(emu.requests) == 1
    assert "x1" not in names


def test_cli_serves_on_a_free_port_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    command = [sys.executable, "-m", "target_hubspot_contacts.emulator", "--port", "0"]
    command += ["--port-file", str(port_file), "--token", "pat-cli", "--rate-limit", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        port = int(port_file.read_text())
        line = process.stdout.readline()
        response = requests.get(
            f"http://127.0.0.1:{port}{PROPERTIES}",
            headers={"Authorization": "Bearer pat-cli"},
            timeout=5,
        )
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()

    assert line == f"HubSpot emulator listening on http://127.0.0.1:{port}\n"
    assert response.status_code == 200
    assert "X-HubSpot-RateLimit-Max" not in response.headers
    assert code == 0


def test_latency_can_be_changed_while_running(emu: HubSpotEmulator) -> None:
    emu.latency = 0.15
    started = time.monotonic()
    call(emu, "GET", PROPERTIES)

    assert time.monotonic() - started >= 0.15


def test_without_partial_upserts_one_bad_input_fails_the_whole_call() -> None:
    with HubSpotEmulator(access_token=TOKEN, dated_only=True, partial_upserts=False) as emu:
        response = upsert(emu, by_email("good@example.com", "1"), by_email("bad@example..com", "2"))

        assert response.status_code == 400
        assert response.json()["category"] == "VALIDATION_ERROR"
        assert emu.contacts == []


def test_faults_can_be_queued_over_http(emu: HubSpotEmulator) -> None:
    queued = requests.post(
        f"{emu.url}/_emulator/faults",
        json={"path_suffix": "/batch/upsert", "status": 503, "times": 2},
        timeout=5,
    )

    statuses = [upsert(emu, by_email("a@example.com", "1")).status_code for _ in range(3)]

    assert queued.status_code == 201
    assert statuses == [503, 503, 200]


def test_a_raw_fault_answers_a_page_without_hubspot_marks(emu: HubSpotEmulator) -> None:
    page = "<!DOCTYPE html><title>api.hubapi.com | 521: Web server is down</title>"
    emu.inject(
        PROPERTIES, status=521, raw_body=page, content_type="text/html; charset=UTF-8", times=1
    )

    edge = call(emu, "GET", PROPERTIES)
    hubspot = call(emu, "GET", PROPERTIES)

    assert edge.status_code == 521
    assert edge.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert edge.text == page
    assert "x-hubspot-correlation-id" not in edge.headers
    assert hubspot.status_code == 200
    assert "x-hubspot-correlation-id" in hubspot.headers


def test_the_cli_fault_spec_page_means_an_error_page_without_hubspot_marks() -> None:
    fault = parse_fault("/crm/properties/2026-03/contacts:521pagex2")

    assert (fault.status, fault.times, fault.content_type) == (521, 2, "text/html")
    assert fault.raw_body.startswith("<!DOCTYPE html>")


def test_a_fault_without_a_failure_is_refused_over_http(emu: HubSpotEmulator) -> None:
    response = requests.post(
        f"{emu.url}/_emulator/faults", json={"path_suffix": "/batch/upsert"}, timeout=5
    )

    assert response.status_code == 400


def test_cli_fault_option_fails_the_matching_calls(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    command = [sys.executable, "-m", "target_hubspot_contacts.emulator", "--port", "0"]
    command += ["--port-file", str(port_file), "--token", TOKEN, "--fault", "/batch/upsert:502x1"]
    command += ["--dated-only"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{int(port_file.read_text())}{UPSERT}"
        body = {"inputs": [by_email("a@example.com", "1")]}
        headers = {"Authorization": f"Bearer {TOKEN}"}
        statuses = [
            requests.post(url, json=body, headers=headers, timeout=5).status_code for _ in range(2)
        ]
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert statuses == [502, 200]
