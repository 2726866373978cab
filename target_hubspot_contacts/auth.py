"""Access tokens for HubSpot: a fixed private-app token, or OAuth refreshed ahead of expiry."""

from __future__ import annotations

import threading
import time
import typing as t

import requests

from target_hubspot_contacts.errors import AuthenticationError, ConfigurationError

if t.TYPE_CHECKING:
    import logging

# Refresh this long before HubSpot says the token expires, so no call races the expiry.
REFRESH_MARGIN_SECONDS = 300.0


class StaticToken:
    """A private-app or service-key token; it cannot be renewed."""

    def __init__(self, token: str) -> None:
        self._token = token

    def authorization(self) -> str:
        """Return the Authorization header value."""
        return f"Bearer {self._token}"

    def renew(self, rejected_header: str) -> None:  # noqa: ARG002
        """A rejected private-app token cannot be renewed: say what to fix."""
        msg = (
            "HubSpot says the access token has expired (401). Private-app tokens do not "
            "expire on their own: the token in `access_token` was rotated or revoked. "
            "Copy the current token from the private app's Auth tab."
        )
        raise AuthenticationError(msg)

    def describe(self) -> str:
        """Name the setting that holds the credential, for error messages."""
        return "the token in `access_token`"


class OAuthToken:
    """OAuth access token obtained from a refresh token and renewed before it expires."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        timeout: float,
        logger: logging.Logger,
    ) -> None:
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._timeout = timeout
        self._logger = logger
        self._access_token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def authorization(self) -> str:
        """Return the Authorization header value, refreshing first when expiry is near."""
        with self._lock:
            if self._access_token is None or time.monotonic() >= self._expires_at:
                self._refresh()
            return f"Bearer {self._access_token}"

    def renew(self, rejected_header: str) -> None:
        """Refresh after HubSpot called the token expired, unless another thread already did."""
        with self._lock:
            if f"Bearer {self._access_token}" == rejected_header:
                self._refresh()

    def describe(self) -> str:
        """Name the settings that hold the credential, for error messages."""
        return "the OAuth access token obtained with `refresh_token`"

    def _refresh(self) -> None:
        form = {
            "grant_type": "refresh_token",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "refresh_token": self._refresh_token,
        }
        try:
            response = requests.post(self._token_url, data=form, timeout=self._timeout)
        except requests.RequestException as exc:
            msg = (
                f"Could not reach HubSpot's OAuth token endpoint {self._token_url}: "
                f"{type(exc).__name__}"
            )
            raise AuthenticationError(msg) from None
        body = _json_or_empty(response)
        if response.status_code != 200 or "access_token" not in body:
            status = body.get("status") or body.get("error") or response.status_code
            msg = (
                f"HubSpot refused to refresh the OAuth access token ({status}: "
                f"{body.get('message', 'no message')}). Check `client_id`, `client_secret` and "
                "`refresh_token`: the refresh token must come from the same app, and is revoked "
                "when the app is uninstalled."
            )
            raise AuthenticationError(msg)
        self._access_token = body["access_token"]
        lifetime = float(body.get("expires_in", 1800))
        self._expires_at = time.monotonic() + max(lifetime - REFRESH_MARGIN_SECONDS, lifetime / 2)
        new_refresh_token = body.get("refresh_token")
        if new_refresh_token and new_refresh_token != self._refresh_token:
            self._refresh_token = new_refresh_token
            self._logger.warning(
                "HubSpot rotated the OAuth refresh token; this run uses the new one. "
                "Store a fresh refresh token in `refresh_token` if later runs are refused."
            )
        self._logger.info("Obtained an OAuth access token valid for %.0f s.", lifetime)


def _json_or_empty(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def token_from_config(config: t.Mapping[str, t.Any], *, timeout: float, logger: logging.Logger):
    """Build the token source the settings describe; exactly one auth method must be given."""
    oauth_keys = ("client_id", "client_secret", "refresh_token")
    given_oauth = [key for key in oauth_keys if config.get(key)]
    has_token = bool(config.get("access_token"))
    if has_token and given_oauth:
        msg = (
            "Both `access_token` and OAuth settings (" + ", ".join(given_oauth) + ") are set. "
            "Give either a private-app `access_token`, or `client_id`, `client_secret` and "
            "`refresh_token`, not both."
        )
        raise ConfigurationError(msg)
    if has_token:
        return StaticToken(config["access_token"].strip())
    if len(given_oauth) == len(oauth_keys):
        return OAuthToken(
            token_url=config["api_url"].rstrip("/") + "/oauth/v1/token",
            client_id=config["client_id"].strip(),
            client_secret=config["client_secret"].strip(),
            refresh_token=config["refresh_token"].strip(),
            timeout=timeout,
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
        "No HubSpot credentials: set `access_token` (a private-app token, scopes "
        "crm.objects.contacts.read, crm.objects.contacts.write, crm.schemas.contacts.read) or "
        "`client_id`, `client_secret` and `refresh_token` for an OAuth app."
    )
    raise ConfigurationError(msg)
