"""Sending one HTTP request to `api_url`, for the API calls and the OAuth token refresh alike.

A session per thread, with the proxy and CA settings of the environment; exactly the credentials
given, never ones requests would find itself (`~/.netrc` for the host, `user:pass@` in the URL);
no redirect followed; and a failure to send turned into what the caller should do about it.
"""

from __future__ import annotations

import threading
import typing as t

import requests
import requests.auth

from target_hubspot_contacts.errors import HubSpotAPIError
from target_hubspot_contacts.retries import TRANSIENT_REQUEST_ERRORS

if t.TYPE_CHECKING:
    from target_hubspot_contacts.reach import Reach
    from target_hubspot_contacts.retries import Retrier


class Credentials(requests.auth.AuthBase):
    """Sets exactly this Authorization header, or none. Given explicitly, it keeps requests from
    building HTTP Basic auth from `~/.netrc` or from the URL in place of the token."""

    def __init__(self, authorization: str | None) -> None:
        self._authorization = authorization

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._authorization is not None:
            request.headers["Authorization"] = self._authorization
        return request


class Transport:
    """Sends requests to `api_url`; safe to share between threads (each gets its own session)."""

    def __init__(self, *, api_url: str, reach: Reach, retrier: Retrier, timeout: float) -> None:
        self.api_url = api_url.rstrip("/")
        self._reach = reach
        self._retrier = retrier
        self._timeout = timeout
        self._local = threading.local()

    def send(
        self,
        method: str,
        path: str,
        *,
        authorization: str | None,
        where: str,
        json: t.Any = None,
        data: dict[str, str] | None = None,
    ) -> requests.Response:
        """One try: the answer (any status but a redirect, and HubSpot's or worth retrying), a
        RetryableError, or the error that ends the run (a wrong `api_url`, say)."""
        session, environment = self._session()
        request = requests.Request(
            method, self.api_url + path, json=json, data=data, auth=Credentials(authorization)
        )
        try:
            response = session.send(
                session.prepare_request(request),
                timeout=self._reach.timeout(self._timeout),
                allow_redirects=False,
                **environment,
            )
        except TRANSIENT_REQUEST_ERRORS as exc:
            raise self._reach.failed_to_send(exc, where) from None
        except requests.RequestException as exc:
            # Only the type: the message of e.g. InvalidHeader quotes the Authorization header.
            msg = f"Could not send {where} to {self._reach.api_url}: {type(exc).__name__}."
            raise HubSpotAPIError(msg) from None
        finally:
            self._retrier.count("calls")
        self._reach.check_answer(response, where)
        return response

    def _session(self) -> tuple[requests.Session, dict]:
        """This thread's session, and the proxy and TLS settings it takes from the environment.

        `Session.request` would look those up on every call, a third of its CPU time.
        """
        if not hasattr(self._local, "session"):
            session = requests.Session()
            environment = session.merge_environment_settings(self.api_url, {}, None, None, None)
            self._local.session = (session, environment)
        return self._local.session
