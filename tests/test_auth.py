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
from tests.not_hubspot import ForwardingProxy, not_hubspot

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


def test_a_malformed_token_fails_without_echoing_it(hubspot, config, tmp_path):
    config["access_token"] = "pat-na1-broken\ntoken-value"

    result = run_target(tmp_path, config, contacts_input())

    assert result.returncode == 1
    assert "`access_token` holds a character that cannot be sent to HubSpot: U+000A" in (
        result.stderr
    )
    assert "token-value" not in result.stderr + result.stdout
    assert hubspot.requests == []


@pytest.mark.parametrize("setting", ["access_token", "client_secret", "refresh_token"])
def test_a_credential_pasted_with_an_invisible_character_names_the_setting_not_the_value(
    hubspot, tmp_path, setting
):
    hubspot.add_oauth_client(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)
    config = {"access_token": TOKEN, "api_url": hubspot.url}
    if setting != "access_token":
        config = oauth_config(hubspot)
    config[setting] += "\u200b"  # a zero-width space, copied along with the value

    result = run_target(tmp_path, config, contacts_input())

    assert result.returncode == 1
    assert f"`{setting}` holds a character that cannot be sent to HubSpot: U+200B (zero " in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert_no_secret_in(result.stderr, result.stdout)
    assert hubspot.requests == []


def test_a_wrongly_typed_secret_setting_is_refused_without_echoing_it(hubspot, tmp_path):
    config = oauth_config(hubspot, client_secret=918273645546372819)

    result = run_target(tmp_path, config, contacts_input())

    assert result.returncode == 1
    assert "`client_secret` must be a string" in result.stderr
    assert "918273645546372819" not in result.stderr + result.stdout


def test_a_netrc_entry_for_the_host_never_replaces_the_token(hubspot, config, tmp_path):
    home = netrc_home(tmp_path, "127.0.0.1")

    result = run_target(tmp_path, config, contacts_input(), env=clean_env(HOME=str(home)))

    assert result.returncode == 0, result.stderr
    sent = {call.headers.get("authorization") for call in hubspot.requests}
    assert sent == {f"Bearer {TOKEN}"}


def test_the_oauth_refresh_sends_no_netrc_credentials(hubspot, tmp_path):
    hubspot.add_oauth_client(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)
    home = netrc_home(tmp_path, "127.0.0.1")

    result = run_target(
        tmp_path, oauth_config(hubspot), contacts_input(), env=clean_env(HOME=str(home))
    )

    assert result.returncode == 0, result.stderr
    (refresh,) = hubspot.calls("/oauth/2026-03/token")
    assert "authorization" not in refresh.headers
    upserts = hubspot.calls("/batch/upsert")
    assert all(call.headers["authorization"].startswith("Bearer CO") for call in upserts)


def test_calls_go_through_the_proxy_the_environment_names(hubspot, config, tmp_path):
    with ForwardingProxy() as proxy:
        env = clean_env(HTTP_PROXY=proxy.url, NO_PROXY="", no_proxy="")

        result = run_target(tmp_path, config, contacts_input(), env=env)

    assert result.returncode == 0, result.stderr
    assert f"{hubspot.url}/crm/objects/2026-03/contacts/batch/upsert" in proxy.requested
    assert len(hubspot.contacts) == 3


def netrc_home(tmp_path, host: str):
    """A home directory whose ~/.netrc has another tool's password for `host`."""
    home = tmp_path / "home"
    home.mkdir()
    netrc = home / ".netrc"
    netrc.write_text(f"machine {host} login someone password other-tool-password\n")
    netrc.chmod(0o600)
    return home


def test_a_fresh_token_called_expired_again_stops_instead_of_refreshing_on(hubspot, tmp_path):
    hubspot.add_oauth_client(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)
    wrong_token = {
        "status": "error",
        "category": "EXPIRED_AUTHENTICATION",
        "message": "The OAuth token used to make this call expired 20,000 days ago.",
    }
    hubspot.inject("/batch/upsert", status=401, body=wrong_token, times=1000)

    result = run_target(tmp_path, oauth_config(hubspot), contacts_input())

    assert result.returncode == 1
    assert len(hubspot.calls("/oauth/2026-03/token")) == 2
    assert len(hubspot.calls("/batch/upsert")) == 2
    (error,) = error_lines(result.stderr)
    assert "expired 20,000 days ago" in error
    assert "it is not a token this API accepts" in error
    assert "Check that `api_url` is the API of the data centre hosting the portal" in error
    assert "`client_id`, `client_secret` and `refresh_token`" in error
    assert_no_secret_in(result.stderr, result.stdout)


def test_a_refresh_that_times_out_is_retried(hubspot, tmp_path):
    hubspot.add_oauth_client(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)
    hubspot.inject("/oauth/2026-03/token", delay=3)  # the first attempt outlasts request_timeout

    result = run_target(tmp_path, oauth_config(hubspot, request_timeout=1), contacts_input())

    assert result.returncode == 0, result.stderr
    assert len(hubspot.contacts) == 3
    refreshes = hubspot.calls("/oauth/2026-03/token")
    assert len(refreshes) == 2
    assert refreshes[-1].status == 200
    assert "HubSpot call failed (no answer within `request_timeout`" in result.stderr
    assert "1 retries" in result.stderr
