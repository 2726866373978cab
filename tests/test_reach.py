"""A wrong `api_url` fails at the first call, naming `api_url` and what went wrong; retries are
for a HubSpot that has answered before."""

from __future__ import annotations

import re
import time

import pytest

from target_hubspot_contacts.emulator import HubSpotEmulator
from tests.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    TOKEN,
    contact,
    lines,
    record,
    run_target,
    schema,
    start_target,
)
from tests.not_hubspot import closed_port_url, not_hubspot

ONE_CONTACT = lines([schema(), record(contact(1))])
# Names from inside requests, urllib3 or Python that a user has no use for.
INTERNALS = re.compile(
    r"Traceback|urllib3|requests\.|HTTPConnection|MaxRetryError|NewConnectionError|"
    r"ConnectionError|gaierror|SSLError|Errno|\w+\(\)"
)


def settings(api_url: str, **extra) -> dict:
    """A long retry budget: a failure that is retried would outlast the test's timeout."""
    return {"access_token": TOKEN, "api_url": api_url, "max_retry_seconds": 600, **extra}


def oauth_settings(api_url: str) -> dict:
    return {
        "api_url": api_url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "max_retry_seconds": 600,
    }


def the_error(result) -> str:
    """The ERROR line that names `api_url` (the one that ended the run)."""
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line and "api_url" in line]
    assert errors, result.stderr
    return errors[-1]


def assert_failed_at_once(result) -> None:
    assert result.returncode == 1
    assert "retry" not in result.stderr
    assert not INTERNALS.search(result.stderr), INTERNALS.search(result.stderr)


def test_a_port_nothing_listens_on_fails_at_once(tmp_path):
    api_url = closed_port_url()

    result = run_target(tmp_path, settings(api_url), ONE_CONTACT, timeout=60)

    assert_failed_at_once(result)
    assert f"Could not reach HubSpot at `api_url` {api_url}" in the_error(result)
    assert "the connection was refused" in the_error(result)


def test_an_unknown_host_fails_at_once(tmp_path):
    result = run_target(tmp_path, settings("https://hubspot.invalid"), ONE_CONTACT, timeout=60)

    assert_failed_at_once(result)
    assert "`api_url` https://hubspot.invalid" in the_error(result)
    assert "host name is not known" in the_error(result)


def test_https_to_a_plain_http_server_fails_at_once_as_a_tls_failure(hubspot, tmp_path):
    api_url = hubspot.url.replace("http://", "https://")

    result = run_target(tmp_path, settings(api_url), ONE_CONTACT, timeout=60)

    assert_failed_at_once(result)
    assert f"`api_url` {api_url}" in the_error(result)
    assert "TLS failed" in the_error(result)
    assert "is it http:// rather than https://?" in the_error(result)


def test_a_redirect_fails_at_once_naming_where_it_points(tmp_path):
    moved = (("Location", "https://api.hubapi.com/crm/properties/2026-03/contacts"),)
    with not_hubspot(301, headers=moved) as elsewhere:
        result = run_target(tmp_path, settings(elsewhere.url), ONE_CONTACT, timeout=60)

    assert_failed_at_once(result)
    assert f"`api_url` {elsewhere.url} answered GET" in the_error(result)
    assert "with a redirect (301) to https://api.hubapi.com/crm" in the_error(result)
    assert elsewhere.requests == ["GET /crm/properties/2026-03/contacts"]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, b"<html><h1>404 Not Found</h1></html>"),
        (200, b"<html><h1>Welcome to nginx!</h1></html>"),
        (503, b"<html>Service Unavailable</html>"),
    ],
    ids=["404-page", "web-page", "proxy-503-page"],
)
def test_a_server_that_is_not_hubspot_fails_at_the_first_answer(status, body, tmp_path):
    with not_hubspot(status, body) as elsewhere:
        result = run_target(tmp_path, settings(elsewhere.url), ONE_CONTACT, timeout=60)

    assert_failed_at_once(result)
    assert f"answered GET /crm/properties/2026-03/contacts with {status} (text/html)" in (
        the_error(result)
    )
    assert "it is not HubSpot's API" in the_error(result)
    assert len(elsewhere.requests) == 1


def test_an_unreachable_oauth_token_endpoint_fails_at_once(tmp_path):
    api_url = closed_port_url()

    result = run_target(tmp_path, oauth_settings(api_url), ONE_CONTACT, timeout=60)

    assert_failed_at_once(result)
    assert f"Could not reach HubSpot at `api_url` {api_url} (the OAuth token refresh)" in (
        the_error(result)
    )


def test_a_hubspot_that_answered_before_is_retried_when_it_stops_answering(tmp_path):
    hubspot = HubSpotEmulator(access_token=TOKEN).start()
    process = start_target(tmp_path, settings(hubspot.url, max_retry_seconds=3))
    process.stdin.write(lines([schema()]))
    process.stdin.flush()
    try:
        deadline = time.monotonic() + 30
        while not [call for call in hubspot.calls("/contacts") if call.status == 200]:
            assert process.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.02)  # until the property definitions were read
    finally:
        hubspot.stop()

    _, stderr = process.communicate(lines([record(contact(1))]), timeout=60)

    assert process.returncode == 1
    assert "HubSpot call failed (the connection was refused" in stderr
    assert "retry 1" in stderr
    assert "HubSpot kept failing POST" in stderr
