"""`api_version`: every call goes to the paths of one HubSpot API version; none to retired ones."""

from __future__ import annotations

from target_hubspot_contacts.emulator import HubSpotEmulator
from tests.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    TOKEN,
    contact,
    lines,
    oauth_config,
    record,
    run_target,
    schema,
)

DELETED_SCHEMA = {
    "email": {"type": "string"},
    "first_name": {"type": ["string", "null"]},
    "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"},
}


def oauth(hubspot: HubSpotEmulator, **settings) -> dict:
    hubspot.add_oauth_client(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)
    return oauth_config(hubspot, **settings)


def a_write_and_a_deletion() -> str:
    """Input that makes the target read properties, upsert, then look a contact up, archive it."""
    deleted = {"email": "person1@example.com", "_sdc_deleted_at": "2026-11-01T10:00:00Z"}
    messages = [schema(properties=DELETED_SCHEMA), record(contact(1)), record(deleted)]
    return lines(messages)


def paths(hubspot: HubSpotEmulator) -> set[str]:
    return {call.path for call in hubspot.requests}


def test_default_settings_call_only_2026_03_paths(hubspot, config, tmp_path):
    result = run_target(tmp_path, config, lines([schema(), record(contact(1))]))

    assert result.returncode == 0, result.stderr
    assert hubspot.contact("person1@example.com") is not None
    assert paths(hubspot) == {
        "/crm/properties/2026-03/contacts",
        "/crm/objects/2026-03/contacts/batch/upsert",
    }


def test_api_version_2026_09_sends_every_call_to_its_paths(hubspot, tmp_path):
    config = oauth(hubspot, api_version="2026-09", archive_deleted=True)

    result = run_target(tmp_path, config, a_write_and_a_deletion())

    assert result.returncode == 0, result.stderr
    assert paths(hubspot) == {
        "/oauth/2026-09/token",
        "/crm/properties/2026-09/contacts",
        "/crm/objects/2026-09/contacts/batch/upsert",
        "/crm/objects/2026-09/contacts/batch/read",
        "/crm/objects/2026-09/contacts/batch/archive",
    }


def test_api_version_v3_calls_v3_crm_paths_and_the_dated_token_endpoint(tmp_path):
    with HubSpotEmulator(access_token=None) as hubspot:  # still serves v3
        config = oauth(hubspot, api_version="v3", archive_deleted=True)
        hubspot.inject("/batch/read", status=503)  # any call, retried, keeps its version

        result = run_target(tmp_path, config, a_write_and_a_deletion())

        assert result.returncode == 0, result.stderr
        assert paths(hubspot) == {
            "/oauth/2026-03/token",
            "/crm/v3/properties/contacts",
            "/crm/v3/objects/contacts/batch/upsert",
            "/crm/v3/objects/contacts/batch/read",
            "/crm/v3/objects/contacts/batch/archive",
        }


def test_api_version_v3_where_it_is_retired_stops_naming_api_version(tmp_path):
    with HubSpotEmulator(access_token=TOKEN, dated_only=True) as hubspot:
        config = {"access_token": TOKEN, "api_url": hubspot.url, "api_version": "v3"}

        result = run_target(tmp_path, config, lines([schema(), record(contact(1))]))

        assert hubspot.contacts == []
    errors = [line for line in result.stderr.splitlines() if "| ERROR" in line]
    assert result.returncode == 1
    assert len(errors) == 1
    assert "does not serve GET /crm/v3/properties/contacts" in errors[0]
    assert "Unable to route" in errors[0]
    assert "`api_version` 'v3'" in errors[0]
    assert "access_token" not in errors[0]


def test_an_unknown_api_version_is_refused_before_any_call(hubspot, config, tmp_path):
    config["api_version"] = "2025-09"

    result = run_target(tmp_path, config, lines([schema(), record(contact(1))]))

    assert result.returncode != 0
    assert "api_version" in result.stderr
    assert hubspot.requests == []
