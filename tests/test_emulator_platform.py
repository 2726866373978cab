"""The local HubSpot server on HubSpot's 2026 platform: dated paths, retired ones, portal rules."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from target_hubspot_contacts.emulator import HubSpotEmulator

TOKEN = "pat-test"
V3_UPSERT = "/crm/v3/objects/contacts/batch/upsert"
RULED_UPSERT = "/crm/objects/2026-09/contacts/batch/upsert"
RULED_CREATE = "/crm/objects/2026-09/contacts/batch/create"


@pytest.fixture
def both() -> Iterator[HubSpotEmulator]:
    """A server that still serves the numeric-version paths beside the dated ones."""
    with HubSpotEmulator(access_token=TOKEN) as server:
        yield server


@pytest.fixture
def dated() -> Iterator[HubSpotEmulator]:
    """A server that answers only the dated paths, as HubSpot will after the retirements."""
    with HubSpotEmulator(access_token=TOKEN, dated_only=True) as server:
        yield server


def post(emu: HubSpotEmulator, path: str, body: Any, token: str | None = TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(emu.url + path, json=body, headers=headers, timeout=5)


def upsert(emu: HubSpotEmulator, path: str, *inputs: dict[str, Any]) -> requests.Response:
    return post(emu, path, {"inputs": list(inputs)})


def by_email(email: str, trace: str | None = "1", **properties: str) -> dict[str, Any]:
    item: dict[str, Any] = {"id": email, "idProperty": "email", "properties": properties}
    if trace is not None:
        item["objectWriteTraceId"] = trace
    return item


def refresh(emu: HubSpotEmulator, path: str, **form: str) -> requests.Response:
    fields = {"grant_type": "refresh_token", "client_id": "app", "client_secret": "s3cret"}
    return requests.post(emu.url + path, data={**fields, **form}, timeout=5)


# ----- dated and retired paths -----


@pytest.mark.parametrize("version", ["v3", "2026-03", "2026-09"])
def test_contacts_and_properties_are_served_under_every_version(both, version) -> None:
    objects, properties = (
        ("/crm/v3/objects/contacts", "/crm/v3/properties/contacts")
        if version == "v3"
        else (f"/crm/objects/{version}/contacts", f"/crm/properties/{version}/contacts")
    )
    headers = {"Authorization": f"Bearer {TOKEN}"}

    listed = requests.get(both.url + properties, headers=headers, timeout=5)
    written = upsert(both, f"{objects}/batch/upsert", by_email("ada@example.com"))
    read = post(
        both,
        f"{objects}/batch/read",
        {"idProperty": "email", "inputs": [{"id": "ada@example.com"}]},
    )

    assert listed.status_code == 200
    assert written.status_code == 200
    assert read.json()["results"][0]["properties"]["email"] == "ada@example.com"


@pytest.mark.parametrize(
    "path", ["/oauth/v1/token", "/oauth/v3/token", "/oauth/2026-03/token", "/oauth/2026-09/token"]
)
def test_a_server_serving_both_refreshes_tokens_on_every_token_path(both, path) -> None:
    both.add_oauth_client("app", "s3cret", "refresh-1")

    response = refresh(both, path, refresh_token="refresh-1")

    assert response.status_code == 200
    assert response.json()["access_token"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", V3_UPSERT),
        ("GET", "/crm/v3/properties/contacts"),
        ("POST", "/oauth/v1/token"),
        ("POST", "/oauth/v3/token"),
    ],
)
def test_dated_only_answers_retired_paths_unable_to_route(dated, method, path) -> None:
    response = requests.request(method, dated.url + path, timeout=5)  # no token needed

    assert response.status_code == 404
    assert response.json()["message"] == f"Unable to route {method} request to {path}"
    assert response.json()["correlationId"] == response.headers["x-hubspot-correlation-id"]
    assert [call.path for call in dated.retired_path_calls()] == [path]
    assert dated.stats()["retiredPathRequests"] == 1


def test_dated_only_still_serves_the_dated_paths(dated) -> None:
    response = upsert(dated, "/crm/objects/2026-03/contacts/batch/upsert", by_email("a@b.com"))

    assert response.status_code == 200
    assert dated.retired_path_calls() == []


# ----- OAuth errors -----


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"refresh_token": "unknown"}, "BAD_REFRESH_TOKEN", "invalid_grant"),
        (
            {"refresh_token": "refresh-1", "client_secret": "guess"},
            "BAD_CLIENT_SECRET",
            "invalid_client",
        ),
        ({"refresh_token": "refresh-1", "client_id": "other"}, "BAD_CLIENT_ID", "invalid_client"),
    ],
)
def test_dated_token_errors_carry_rfc6749_fields_beside_hubspots(
    dated, form, status, error
) -> None:
    dated.add_oauth_client("app", "s3cret", "refresh-1")

    body = refresh(dated, "/oauth/2026-03/token", **form).json()

    assert body["status"] == status
    assert body["error"] == error
    assert body["error_description"] == body["message"]


def test_v1_token_errors_carry_only_hubspots_fields(both) -> None:
    both.add_oauth_client("app", "s3cret", "refresh-1")

    response = refresh(both, "/oauth/v1/token", refresh_token="unknown")

    assert response.status_code == 400
    assert response.json()["status"] == "BAD_REFRESH_TOKEN"
    assert "error" not in response.json()


# ----- portal validation rules -----


def test_a_required_property_is_enforced_on_2026_09_writes_only(both) -> None:
    both.require_property("company")

    ruled = upsert(both, RULED_UPSERT, by_email("ada@example.com"))
    earlier = upsert(
        both, "/crm/objects/2026-03/contacts/batch/upsert", by_email("bob@example.com")
    )
    legacy = upsert(both, V3_UPSERT, by_email("cy@example.com"))

    assert ruled.status_code == 207
    error = ruled.json()["errors"][0]
    assert error["category"] == "VALIDATION_ERROR"
    assert error["context"]["objectWriteTraceId"] == ["1"]
    assert '"error":"MISSING_REQUIRED_PROPERTY","name":"company"' in error["message"]
    assert both.contact("ada@example.com") is None
    assert earlier.status_code == legacy.status_code == 200


def test_a_207_refuses_only_the_record_that_breaks_a_rule(dated) -> None:
    dated.require_property("company")

    response = upsert(
        dated,
        RULED_UPSERT,
        by_email("ada@example.com", "1", company="Analytical Engines"),
        by_email("bob@example.com", "2"),
    )

    assert response.status_code == 207
    assert [e["context"]["objectWriteTraceId"] for e in response.json()["errors"]] == [["2"]]
    assert dated.contact("ada@example.com") is not None


def test_a_stored_value_satisfies_the_rule_but_clearing_it_breaks_it(dated) -> None:
    upsert(
        dated,
        "/crm/objects/2026-03/contacts/batch/upsert",
        by_email("ada@example.com", company="AE"),
    )
    dated.require_property("company")

    kept = upsert(dated, RULED_UPSERT, by_email("ada@example.com", firstname="Ada"))
    cleared = upsert(dated, RULED_UPSERT, by_email("ada@example.com", company=""))

    assert kept.status_code == 200
    assert cleared.status_code == 207
    assert dated.contact("ada@example.com")["properties"]["company"] == "AE"


def test_a_conditional_rule_applies_only_while_its_condition_holds(dated) -> None:
    dated.require_property("company", when={"lifecyclestage": "customer"})

    lead = upsert(dated, RULED_UPSERT, by_email("lead@example.com", lifecyclestage="lead"))
    customer = upsert(dated, RULED_UPSERT, by_email("cust@example.com", lifecyclestage="customer"))

    assert lead.status_code == 200
    assert customer.status_code == 207
    message = customer.json()["errors"][0]["message"]
    assert '"error":"MISSING_CONDITIONAL_REQUIRED_PROPERTY","name":"company"' in message


def test_the_listed_shape_names_code_and_property_in_an_errors_list() -> None:
    with HubSpotEmulator(access_token=TOKEN, dated_only=True, error_shape="listed") as emu:
        emu.require_property("company")

        error = upsert(emu, RULED_UPSERT, by_email("ada@example.com")).json()["errors"][0]

    assert error["message"] == 'Property "company" is required by this account\'s validation rules.'
    assert error["errors"] == [
        {
            "message": error["message"],
            "code": "MISSING_REQUIRED_PROPERTY",
            "context": {"propertyName": ["company"]},
        }
    ]


def test_without_trace_ids_a_rule_violation_fails_the_whole_call(dated) -> None:
    dated.require_property("company")

    response = upsert(
        dated,
        RULED_UPSERT,
        by_email("ada@example.com", None, company="AE"),
        by_email("bob@example.com", None),
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "MISSING_REQUIRED_PROPERTY"
    assert dated.contacts == []


def test_creates_obey_the_rules_too(dated) -> None:
    dated.require_property("company")

    response = post(
        dated,
        RULED_CREATE,
        {"inputs": [{"properties": {"email": "a@b.com"}, "objectWriteTraceId": "1"}]},
    )

    assert response.status_code == 207
    assert dated.contacts == []


def test_reset_forgets_the_rules(dated) -> None:
    dated.require_property("company")
    dated.reset()

    assert upsert(dated, RULED_UPSERT, by_email("ada@example.com")).status_code == 200


def test_cli_options_serve_dated_paths_only_and_enforce_rules(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    command = [sys.executable, "-m", "target_hubspot_contacts.emulator", "--port", "0"]
    command += ["--port-file", str(port_file), "--token", TOKEN, "--dated-only"]
    command += ["--require-property", "company:lifecyclestage=customer", "--error-shape", "listed"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{int(port_file.read_text())}"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        body = {"inputs": [by_email("c@example.com", lifecyclestage="customer")]}
        retired = requests.post(url + V3_UPSERT, json=body, headers=headers, timeout=5)
        ruled = requests.post(url + RULED_UPSERT, json=body, headers=headers, timeout=5)
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert retired.status_code == 404
    assert ruled.json()["errors"][0]["errors"][0]["code"] == "MISSING_CONDITIONAL_REQUIRED_PROPERTY"
