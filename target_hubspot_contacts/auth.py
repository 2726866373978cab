"""Access tokens for HubSpot: a fixed token (service key, private app), or OAuth refreshed."""

from __future__ import annotations

import threading
import time
import typing as t

import requests

from target_hubspot_contacts.errors import AuthenticationError, ConfigurationError
from target_hubspot_contacts.retries import RETRYABLE_STATUSES, RetryableError
from target_hubspot_contacts.transport import Transport

if t.TYPE_CHECKING:
    import logging

    from target_hubspot_contacts.api_version import ApiPaths
    from target_hubspot_contacts.reach import Reach
    from target_hubspot_contacts.retries import Retrier

# Refresh this long before HubSpot says the token expires, so no call races the expiry.
REFRESH_MARGIN_SECONDS = 300.0


class StaticToken:
    """A service key, or a private-app or project-app token; it cannot be renewed."""

    def __init__(self, token: str) -> None:
        self._token = token

    def authorization(self) -> str:
        """Return the Authorization header value."""
        return f"Bearer {self._token}"

    def renew(self, rejected_header: str, detail: str) -> None:  # noqa: ARG002
        """A rejected private-app token cannot be renewed: say what to fix."""
        msg = (
            f"HubSpot says the access token has expired ({detail}). Service keys and "
            "private-app tokens do not expire on their own: the token in `access_token` was "
            "rotated or revoked. Copy the current one from the service key (or app) in "
            "HubSpot's settings."
        )
        raise AuthenticationError(msg)

    def details(self) -> dict:
        """What HubSpot said about the token besides the token itself: nothing here."""
        return {}

    def describe(self) -> str:
        """Name the setting that holds the credential, for error messages."""
        return "the token in `access_token`"


class OAuthToken:
    """OAuth access token obtained from a refresh token and renewed before it expires."""

    def __init__(
        self,
        *,
        transport: Transport,
        token_path: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        retrier: Retrier,
        reach: Reach,
        logger: logging.Logger,
    ) -> None:
        self._transport = transport
        self._token_path = token_path
        self._reach = reach
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._retrier = retrier
        self._logger = logger
        self._access_token: str | None = None
        self._details: dict = {}  # the token answer's other fields: hub_id, scopes, ...
        self._asked_at = 0.0  # when the current access token was asked for
        self._lifetime = 0.0  # how long HubSpot said it lives
        self._expires_at = 0.0  # when it is refreshed ahead of expiry
        self._renewed_when_called_expired = False  # the current token replaced an "expired" one
        self._lock = threading.Lock()

    def authorization(self) -> str:
        """Return the Authorization header value, refreshing first when expiry is near."""
        with self._lock:
            if self._access_token is None or time.monotonic() >= self._expires_at:
                self._refresh()
                self._renewed_when_called_expired = False
            return f"Bearer {self._access_token}"

    def renew(self, rejected_header: str, detail: str) -> None:
        """Refresh after HubSpot called the token expired, unless another thread already did.

        A token HubSpot calls expired twice in a row, moments after issuing it, is not one this
        API accepts (HubSpot says "expired 20,000 days ago" of a token from elsewhere): stop.
        """
        with self._lock:
            if f"Bearer {self._access_token}" != rejected_header:
                return
            age = time.monotonic() - self._asked_at
            if self._renewed_when_called_expired and age < self._lifetime / 2:
                raise AuthenticationError(self._not_accepted(age, detail))
            self._refresh()
            self._renewed_when_called_expired = True

    def details(self) -> dict:
        """What HubSpot said about the token besides the token itself (`hub_id`, `scopes`...)."""
        with self._lock:
            if self._access_token is None:
                self._refresh()
            return dict(self._details)

    def describe(self) -> str:
        """Name the settings that hold the credential, for error messages."""
        return "the OAuth access token obtained with `refresh_token`"

    def _not_accepted(self, age: float, detail: str) -> str:
        """Why a token called expired right after it replaced one called expired ends the run."""
        return (
            f"HubSpot called the OAuth access token expired {age:.0f} s after issuing it, and "
            f"the one before it too ({detail}): it is not a token this API accepts. HubSpot "
            'says "expired" of a token issued for another portal, data centre or app. Check '
            "that `api_url` is the API of the data centre hosting the portal the app is "
            "installed in, and that `client_id`, `client_secret` and `refresh_token` come from "
            "that app and that installation."
        )

    def _refresh(self) -> None:
        asked_at = time.monotonic()
        body = self._retrier.call(
            self._ask_for_token,
            what=f"the OAuth token refresh at {self._reach.api_url}{self._token_path}",
            advice=(
                "The credentials were not refused: if HubSpot was never reached, check "
                "`api_url` and the network; otherwise rerun later."
            ),
            reach=self._reach,
        )
        self._access_token = body["access_token"]
        self._details = {
            key: value
            for key, value in body.items()
            if key not in ("access_token", "refresh_token")
        }
        self._asked_at = asked_at
        self._lifetime = _lifetime(body)
        lifetime = self._lifetime
        self._expires_at = time.monotonic() + max(lifetime - REFRESH_MARGIN_SECONDS, lifetime / 2)
        new_refresh_token = body.get("refresh_token")
        if isinstance(new_refresh_token, str) and new_refresh_token != self._refresh_token:
            self._refresh_token = new_refresh_token
            self._logger.warning(
                "HubSpot rotated the OAuth refresh token; this run uses the new one. "
                "Store a fresh refresh token in `refresh_token` if later runs are refused."
            )
        self._logger.info("Obtained an OAuth access token valid for %.0f s.", lifetime)

    def _ask_for_token(self) -> dict:
        """One POST to the token endpoint: its answer, or the error that says what to fix."""
        form = {
            "grant_type": "refresh_token",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "refresh_token": self._refresh_token,
        }
        response = self._transport.send(
            "POST",
            self._token_path,
            authorization=None,
            data=form,
            where="the OAuth token refresh",
        )
        body = _json_or_empty(response)
        status = response.status_code
        if status == 200 and isinstance(body.get("access_token"), str):
            return body
        detail = _describe_refusal(status, body, response.headers.get("x-hubspot-correlation-id"))
        if status in RETRYABLE_STATUSES:
            if status == 429:
                self._retrier.count("rate_limited")
            raise RetryableError(
                f"OAuth token refresh: {detail}",
                retry_after=self._retrier.retry_after(response, status),
            )
        raise _refusal(status, body, detail, self._reach.api_url + self._token_path)


def _lifetime(body: dict) -> float:
    """Seconds the new access token lives, as HubSpot says (30 minutes when it does not)."""
    try:
        return float(body.get("expires_in", 1800))
    except (TypeError, ValueError):
        return 1800.0


def _describe_refusal(status: int, body: dict, correlation_id: str | None) -> str:
    """`400 invalid_grant: missing or unknown refresh token [correlation id ...]`."""
    code = body.get("error") or body.get("status") or ""
    message = body.get("error_description") or body.get("message") or "no message"
    text = f"{status} {code}".strip() + f": {message}"
    return f"{text} [correlation id {correlation_id}]" if correlation_id else text


# HubSpot's own `status` values for the RFC 6749 `error` codes its older answers lack.
_BAD_GRANT_STATUSES = frozenset({"BAD_REFRESH_TOKEN", "BAD_AUTH_CODE"})
_BAD_CLIENT_STATUSES = frozenset({"BAD_CLIENT_ID", "BAD_CLIENT_SECRET"})


def _refusal(status: int, body: dict, detail: str, token_url: str) -> Exception:
    """The error for a refused refresh, naming what to fix: the app, the settings, or the URL."""
    code = body.get("error") or body.get("status")
    if status in (404, 405) or 200 <= status < 300:
        return ConfigurationError(
            f"{token_url} is not HubSpot's OAuth token endpoint ({detail}); the credentials "
            "were not tried. Check `api_url`, and `api_version` if a proxy or portal serves "
            "only some versions."
        )
    if code == "invalid_grant" or code in _BAD_GRANT_STATUSES:
        return AuthenticationError(
            f"HubSpot refused the OAuth refresh token ({detail}): it was revoked (the app was "
            "uninstalled or its access removed) or has expired. Re-authorize the app in the "
            "portal (run its install flow again) and put the new refresh token in "
            "`refresh_token`."
        )
    if code == "invalid_client" or code in _BAD_CLIENT_STATUSES:
        return AuthenticationError(
            f"HubSpot does not recognise the OAuth app ({detail}). Check `client_id` and "
            "`client_secret` against the app's Auth settings; the refresh token was not tried."
        )
    return AuthenticationError(
        f"HubSpot refused to refresh the OAuth access token ({detail}). Check `client_id`, "
        "`client_secret` and `refresh_token`: the refresh token must come from the same app, "
        "and is revoked when the app is uninstalled."
    )


def _json_or_empty(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def token_from_config(
    config: t.Mapping[str, t.Any],
    *,
    paths: ApiPaths,
    retrier: Retrier,
    reach: Reach,
    timeout: float,
    logger: logging.Logger,
) -> StaticToken | OAuthToken:
    """Build the token source the settings describe; exactly one auth method must be given."""
    oauth_keys = ("client_id", "client_secret", "refresh_token")
    given_oauth = [key for key in oauth_keys if config.get(key)]
    has_token = bool(config.get("access_token"))
    if has_token and given_oauth:
        msg = (
            "Both `access_token` and OAuth settings (" + ", ".join(given_oauth) + ") are set. "
            "Give either an `access_token` (service key or app token), or `client_id`, "
            "`client_secret` and `refresh_token`, not both."
        )
        raise ConfigurationError(msg)
    if has_token:
        return StaticToken(config["access_token"].strip())
    if len(given_oauth) == len(oauth_keys):
        transport = Transport(
            api_url=config["api_url"], reach=reach, retrier=retrier, timeout=timeout
        )
        return OAuthToken(
            transport=transport,
            token_path=paths.oauth_token,
            client_id=config["client_id"].strip(),
            client_secret=config["client_secret"].strip(),
            refresh_token=config["refresh_token"].strip(),
            retrier=retrier,
            reach=reach,
            logger=logger,
        )
    if given_oauth:
        missing = [key for key in oauth_keys if key not in given_oauth]
        msg = (
            "OAuth needs `client_id`, `client_secret` and `refresh_token`; "
            f"missing: {', '.join(missing)}."
        )
        raise ConfigurationError(msg)
    msg = (
        "No HubSpot credentials: set `access_token` (a service key, or a project or private "
        "app's token, with scopes crm.objects.contacts.read, crm.objects.contacts.write and "
        "crm.schemas.contacts.read) or `client_id`, `client_secret` and `refresh_token` for "
        "an OAuth app."
    )
    raise ConfigurationError(msg)
