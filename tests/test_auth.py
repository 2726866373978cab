"""Credentials: clear failures for bad tokens and scopes, OAuth refreshed ahead of expiry."""

from __future__ import annotations

import pytest

from tests.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    TOKEN,
    clean_env,
    contact,
    lines,
    local_hubspot,
    oauth_config,
    record,
    run_target,
    schema,
)
from tests.not_hubspot import not_hubspot

SECRETS = (TOKEN, CLIENT_SECRET, REFRESH_TOKEN)


def contacts_input(count: int = 3) -> str:
    return lines([schema(), *(record(contact(n)) for n in range(count))])


def assert_no_secret_in(*outputs: str) -> None:
    for output in outputs:
        for secret in SECRETS:
            assert secret not in output


def test_a_wrong_token_stops_the_run_naming_the_setting(hubspot, config, tmp_path):
    config["access_token"] = "pat-na1-wrong-token-value"

    result = run_target(tmp_path, config, contacts_input())

    assert result.returncode == 1
    assert "401" in result.stderr
    assert "access_token" in result.stderr
    assert "pat-na1-wrong-token-value" not in result.stderr
    assert hubspot.contacts == []


def test_missing_scopes_are_named(tmp_path):
    read_only = ["crm.objects.contacts.read", "crm.schemas.contacts.read"]
    with local_hubspot(scopes=read_only) as hubspot:
        config = {"access_token": TOKEN, "api_url": hubspot.url}
        result = run_target(tmp_path, config, contacts_input())

    assert result.returncode == 1
    assert "crm.objects.contacts.write" in result.stderr
    assert_no_secret_in(result.stderr, result.stdout)


def test_both_auth_methods_at_once_is_a_configuration_error(config, tmp_path):
    config.update(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=REFRESH_TOKEN)

    result = run_target(tmp_path, config, contacts_input())

    assert result.returncode == 1
    assert "not both" in result.stderr
    assert_no_secret_in(result.stderr)


def test_no_credentials_is_a_configuration_error(hubspot, tmp_path):
    result = run_target(tmp_path, {"api_url": hubspot.url}, contacts_input())

    assert result.returncode == 1
    assert "No HubSpot credentials" in result.stderr


def test_oauth_refresh_token_obtains_an_access_token(hubspot, tmp_path):
    hubspot.add_oauth_client(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)

    result = run_target(tmp_path, oauth_config(hubspot), contacts_input())

    assert result.returncode == 0, result.stderr
    assert len(hubspot.contacts) == 3
    assert len(hubspot.calls("/oauth/2026-03/token")) == 1
    assert_no_secret_in(result.stderr, result.stdout)


def test_access_token_is_refreshed_ahead_of_expiry(tmp_path):
    with local_hubspot(access_token=None, token_ttl=2, latency=0.25) as hubspot:
        hubspot.add_oauth_client(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)
        config = oauth_config(hubspot, batch_size_rows=1, max_concurrency=1)
        result = run_target(tmp_path, config, contacts_input(count=10))

        assert result.returncode == 0, result.stderr
        assert len(hubspot.contacts) == 10
        assert len(hubspot.calls("/oauth/2026-03/token")) >= 2
        assert all(call.status != 401 for call in hubspot.calls("/batch/upsert"))


def test_an_expired_token_is_refreshed_and_the_call_retried(hubspot, tmp_path):
    hubspot.add_oauth_client(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)
    hubspot.inject(
        "/batch/upsert",
        status=401,
        body={"status": "error", "message": "expired", "category": "EXPIRED_AUTHENTICATION"},
    )

    result = run_target(tmp_path, oauth_config(hubspot), contacts_input())

    assert result.returncode == 0, result.stderr
    assert len(hubspot.contacts) == 3
    assert len(hubspot.calls("/oauth/2026-03/token")) == 2


def test_a_rotated_refresh_token_is_used_from_then_on(tmp_path):
    with local_hubspot(access_token=None, token_ttl=1, latency=0.3) as hubspot:
        hubspot.add_oauth_client(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, rotate=True)
        config = oauth_config(hubspot, batch_size_rows=1, max_concurrency=1)
        result = run_target(tmp_path, config, contacts_input(count=6))

        assert result.returncode == 0, result.stderr
        assert len(hubspot.contacts) == 6
        refreshes = hubspot.calls("/oauth/2026-03/token")
        assert len(refreshes) >= 2
        assert refreshes[1].body["refresh_token"] != REFRESH_TOKEN
        assert all(call.status == 200 for call in refreshes)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line]


def test_a_revoked_refresh_token_says_to_reauthorize_the_app(hubspot, tmp_path):
    hubspot.add_oauth_client(CLIENT_ID, CLIENT_SECRET, "another-refresh-token")

    result = run_target(tmp_path, oauth_config(hubspot), contacts_input())

    (error,) = error_lines(result.stderr)
    assert result.returncode == 1
    assert "invalid_grant" in error
    assert "Re-authorize the app" in error
    assert "`refresh_token`" in error
    assert len(hubspot.calls("/oauth/2026-03/token")) == 1  # a refusal is not retried
    assert_no_secret_in(result.stderr, result.stdout)


def test_a_wrong_client_secret_names_the_app_settings(hubspot, tmp_path):
    hubspot.add_oauth_client(CLIENT_ID, "the-real-secret", REFRESH_TOKEN)

    result = run_target(tmp_path, oauth_config(hubspot), contacts_input())

    (error,) = error_lines(result.stderr)
    assert result.returncode == 1
    assert "invalid_client" in error
    assert "Check `client_id` and `client_secret`" in error
    assert "Re-authorize" not in error
    assert_no_secret_in(result.stderr, result.stdout)


def test_a_token_endpoint_that_does_not_exist_blames_api_url_not_the_credentials(hubspot, tmp_path):
    hubspot.add_oauth_client(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)
    not_found = b'{"status": "error", "message": "Unable to route POST request"}'
    with not_hubspot(404, not_found, content_type="application/json") as elsewhere:
        config = oauth_config(hubspot, api_url=elsewhere.url)

        result = run_target(tmp_path, config, contacts_input())

    (error,) = error_lines(result.stderr)
    assert result.returncode == 1
    assert "is not HubSpot's OAuth token endpoint (404" in error
    assert "the credentials were not tried. Check `api_url`" in error
    assert hubspot.contacts == []


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 503, "times": 2},
        {"status": 429, "headers": {"Retry-After": "0"}},
        {"drop_connection": True},
    ],
    ids=["503-twice", "429", "dropped-connection"],
)
def test_a_transient_refresh_failure_is_retried(hubspot, tmp_path, fault):
    hubspot.add_oauth_client(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)
    hubspot.inject("/oauth/2026-03/token", **fault)

    result = run_target(tmp_path, oauth_config(hubspot), contacts_input())

    assert result.returncode == 0, result.stderr
    assert len(hubspot.contacts) == 3
    refreshes = hubspot.calls("/oauth/2026-03/token")
    assert len(refreshes) == fault.get("times", 1) + 1
    assert refreshes[-1].status == 200
    assert "HubSpot call failed (" in result.stderr
    assert f"{fault.get('times', 1)} retries" in result.stderr


@pytest.mark.parametrize("use_oauth", [False, True], ids=["private-app", "oauth"])
def test_secrets_never_appear_even_in_debug_logs(hubspot, config, tmp_path, use_oauth):
    if use_oauth:
        hubspot.add_oauth_client(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)
        config = oauth_config(hubspot)
    env = clean_env(TARGET_HUBSPOT_CONTACTS_LOGLEVEL="DEBUG")

    result = run_target(tmp_path, config, contacts_input(), env=env)

    assert result.returncode == 0, result.stderr
    assert "DEBUG" in result.stderr
    assert_no_secret_in(result.stderr, result.stdout)


def test_a_token_pasted_with_a_trailing_newline_still_works(hubspot, config, tmp_path):
    config["access_token"] = TOKEN + "\n"

    result = run_target(tmp_path, config, contacts_input())

    assert result.returncode == 0, result.stderr
    assert len(hubspot.contacts) == 3


def test_a_malformed_token_fails_without_echoing_it(config, tmp_path):
    config["access_token"] = "pat-na1-broken\ntoken-value"

    result = run_target(tmp_path, config, contacts_input())

    assert result.returncode == 1
    assert "InvalidHeader" in result.stderr
    assert "token-value" not in result.stderr + result.stdout
