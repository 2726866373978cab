"""A wrong `api_url` fails at the first call, naming `api_url` and what went wrong; retries are
for a HubSpot that has answered before."""

from __future__ import annotations

import errno
import os
import re
import socket
import ssl
import time

import pytest
import requests
import urllib3.exceptions

from target_hubspot_contacts.reach import DROPS_BEFORE_VERDICT, Reach, shown_url
from target_hubspot_contacts.retries import RetryableError
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
from tests.not_hubspot import HangUpServer, closed_port_url, network_faults, not_hubspot

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
    unknown = network_faults({"hubspot.invalid": {"name": "EAI_NONAME"}})

    result = run_target(
        tmp_path, settings("https://hubspot.invalid"), ONE_CONTACT, timeout=60, env=unknown
    )

    assert_failed_at_once(result)
    assert "`api_url` https://hubspot.invalid" in the_error(result)
    assert "host name is not known" in the_error(result)


def test_no_route_to_the_host_fails_at_once(tmp_path):
    unreachable = network_faults({"hubspot.test": {"connect": "EHOSTUNREACH"}})

    result = run_target(
        tmp_path, settings("http://hubspot.test:8080"), ONE_CONTACT, timeout=60, env=unreachable
    )

    assert_failed_at_once(result)
    assert "Could not reach HubSpot at `api_url` http://hubspot.test:8080" in the_error(result)
    assert "no connection could be made (no route to host)" in the_error(result)


def test_a_dns_lookup_that_fails_for_now_is_retried_and_the_run_goes_on(hubspot, tmp_path):
    api_url = f"http://hubspot.test:{hubspot.port}"
    dns_not_ready = network_faults({"hubspot.test": {"name": "EAI_AGAIN", "times": 1}})

    result = run_target(tmp_path, settings(api_url), ONE_CONTACT, timeout=60, env=dns_not_ready)

    assert result.returncode == 0, result.stderr
    assert "HubSpot call failed (its host name could not be looked up for now" in result.stderr
    assert len(hubspot.contacts) == 1


def test_a_connection_closed_before_any_answer_stops_after_a_few_tries_naming_the_scheme(
    tmp_path,
):
    with HangUpServer() as hangs_up:
        result = run_target(tmp_path, settings(hangs_up.url), ONE_CONTACT, timeout=60)

    assert result.returncode == 1
    assert f"`api_url` {hangs_up.url} closed the connection before any answer" in (
        the_error(result)
    )
    assert "Is the scheme right (http:// to a port that expects https://" in the_error(result)
    assert hangs_up.http_requests == DROPS_BEFORE_VERDICT
    assert not INTERNALS.search(result.stderr), INTERNALS.search(result.stderr)


def test_http_to_a_port_that_speaks_only_tls_fails_at_once_saying_to_write_https(tmp_path):
    with HangUpServer(tls=True) as tls_port:
        result = run_target(tmp_path, settings(tls_port.url), ONE_CONTACT, timeout=60)

    assert_failed_at_once(result)
    assert f"`api_url` {tls_port.url} says http://, but the server at that host and port " in (
        the_error(result)
    )
    assert "speaks TLS (https)" in the_error(result)
    assert "nothing reached it as HTTP. Write `api_url` with https://" in the_error(result)
    assert (tls_port.http_requests, tls_port.tls_handshakes) == (1, 1)


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


def test_a_redirect_is_named_without_the_password_in_its_location(tmp_path):
    moved = (("Location", "https://someone:Pr0xyPassw0rd@elsewhere.example/crm"),)
    with not_hubspot(302, headers=moved) as elsewhere:
        result = run_target(tmp_path, settings(elsewhere.url), ONE_CONTACT, timeout=60)

    assert_failed_at_once(result)
    assert "with a redirect (302) to https://elsewhere.example/crm" in the_error(result)
    assert "Pr0xyPassw0rd" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pass@proxy.example:8443/x", "https://proxy.example:8443/x"),
        ("http://token@127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://api.hubapi.com", "https://api.hubapi.com"),
    ],
)
def test_a_url_is_shown_without_its_user_name_or_password(url, shown):
    assert shown_url(url) == shown


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, b"<html><h1>404 Not Found</h1></html>"),
        (200, b"<html><h1>Welcome to nginx!</h1></html>"),
        (401, b"<html>Unauthorized</html>"),
    ],
    ids=["404-page", "web-page", "401-page"],
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


CDN_PAGE = "<!DOCTYPE html><title>api.hubapi.com | 521: Web server is down</title>"
CDN_HEADERS = (("Server", "cloudflare"), ("CF-RAY", "8c1d2e3f4a5b6c7d-AMS"))


@pytest.mark.parametrize("status", [502, 503, 521, 524])
def test_an_error_page_before_hubspot_ever_answered_is_retried_then_may_blame_api_url(
    status, tmp_path
):
    with not_hubspot(status, CDN_PAGE.encode(), headers=CDN_HEADERS) as edge:
        config = settings(edge.url, max_retry_seconds=2)  # the first-contact budget, then

        result = run_target(tmp_path, config, ONE_CONTACT, timeout=60)

    assert result.returncode == 1
    assert len(edge.requests) > 1
    assert f"HubSpot call failed ({status}: an HTML page titled 'api.hubapi.com | 521" in (
        result.stderr
    )
    last_line = result.stderr.splitlines()[-1]
    assert f"HubSpot (or whatever is at `api_url` {edge.url}) kept failing GET" in last_line
    assert "before answering once" in last_line
    assert "If this persists, check `api_url`" in last_line


def test_hubspot_behind_an_error_page_at_first_is_reached_once_it_recovers(hubspot, tmp_path):
    properties = "/crm/properties/2026-03/contacts"
    hubspot.inject(properties, status=521, raw_body=CDN_PAGE, headers=dict(CDN_HEADERS), times=2)

    result = run_target(tmp_path, settings(hubspot.url), ONE_CONTACT, timeout=60)

    assert result.returncode == 0, result.stderr
    assert [call.status for call in hubspot.calls(properties)] == [521, 521, 200]
    assert len(hubspot.contacts) == 1


def test_an_unreachable_oauth_token_endpoint_fails_at_once(tmp_path):
    api_url = closed_port_url()

    result = run_target(tmp_path, oauth_settings(api_url), ONE_CONTACT, timeout=60)

    assert_failed_at_once(result)
    assert f"Could not reach HubSpot at `api_url` {api_url} (the OAuth token refresh)" in (
        the_error(result)
    )


def test_a_hubspot_that_answered_before_is_retried_when_it_stops_answering(hubspot, tmp_path):
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


def answered_reach(api_url: str) -> Reach:
    """A Reach for which HubSpot has answered once already."""
    reach = Reach(api_url)
    answer = requests.Response()
    answer.status_code, answer._content = 200, b"{}"
    answer.headers["x-hubspot-correlation-id"] = "0a1b"
    reach.check_answer(answer, "GET /crm/properties/2026-03/contacts")
    return reach


def failure_of(url: str) -> requests.RequestException:
    with pytest.raises(requests.RequestException) as failed:
        requests.post(url, json={}, timeout=5)
    return failed.value


def test_a_connection_that_was_never_made_is_retried_as_surely_not_processed(monkeypatch):
    def no_route(*_):
        raise OSError(errno.EHOSTUNREACH, os.strerror(errno.EHOSTUNREACH))

    monkeypatch.setattr(socket.socket, "connect", no_route)
    api_url = "http://127.0.0.1:8080"
    error = failure_of(api_url + "/crm/objects/2026-03/contacts/batch/create")

    retry = answered_reach(api_url).failed_to_send(error, "POST /batch/create")

    assert isinstance(retry, RetryableError)
    assert retry.maybe_processed is False
    assert retry.description.startswith("no connection could be made (no route to host)")


def test_a_connection_closed_before_the_answer_may_have_been_processed():
    with HangUpServer() as hangs_up:
        error = failure_of(hangs_up.url + "/crm/objects/2026-03/contacts/batch/create")

    retry = answered_reach(hangs_up.url).failed_to_send(error, "POST /batch/create")

    assert isinstance(retry, RetryableError)
    assert retry.maybe_processed is True


def test_a_tls_connection_cut_mid_call_may_have_been_processed():
    # As urllib3 wraps an unexpected TLS EOF, during the handshake or while the answer is read.
    eof = ssl.SSLEOFError(8, "[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred")
    error = requests.exceptions.SSLError(urllib3.exceptions.SSLError(eof))

    retry = answered_reach("https://127.0.0.1:8443").failed_to_send(error, "POST /batch/create")

    assert isinstance(retry, RetryableError)
    assert retry.maybe_processed is True
