"""Bearer authentication: the private-app token, OAuth apps, token refresh and issued tokens."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from target_hubspot_contacts.emulator.replies import AUTH_MESSAGE, ApiRequest, Reply, error_reply
from target_hubspot_contacts.emulator.versions import dated

OAUTH_V1 = "/oauth/v1/token"  # its errors predate RFC 6749's `error` fields
TOKEN_PATHS = (OAUTH_V1, "/oauth/v3/token", *dated("/oauth/{version}/token"))
# HubSpot's own `status` values, and the RFC 6749 `error` the newer endpoints add beside them.
RFC6749_ERRORS = {
    "BAD_GRANT_TYPE": "unsupported_grant_type",
    "BAD_CLIENT_ID": "invalid_client",
    "BAD_CLIENT_SECRET": "invalid_client",
    "BAD_REFRESH_TOKEN": "invalid_grant",
}
PRIVATE, OAUTH = "private", "oauth"  # the kinds of token; each has its own rate window


@dataclass
class OAuthClient:
    """A registered OAuth app and the refresh tokens that currently work for it."""

    secret: str
    rotate: bool
    refresh_tokens: set[str] = field(default_factory=set)


def _oauth_error(request: ApiRequest, status: str, message: str) -> Reply:
    """The token endpoint's 400 body: the problem in `status`, and since v3 in `error` too."""
    body = {"status": status, "message": message}
    if request.path != OAUTH_V1:
        body.update(error=RFC6749_ERRORS[status], error_description=message)
    return Reply(400, body)


class TokenAuthority:
    """The tokens the emulator accepts and the OAuth apps that may get more.

    Called with `HubSpotState.lock` held; `HubSpotState.reset` keeps apps and issued tokens.
    """

    def __init__(
        self, access_token: str | None, token_ttl: float, hub_id: int | None = None
    ) -> None:
        self.access_token = access_token  # the static private-app token (None = none)
        self.token_ttl = token_ttl
        self.hub_id = hub_id  # named in the dated endpoints' answers (None = left out)
        self._clients: dict[str, OAuthClient] = {}
        self._access_tokens: dict[str, float] = {}  # token -> time.monotonic() it expires

    def add_client(
        self, client_id: str, client_secret: str, refresh_token: str, *, rotate: bool
    ) -> None:
        """Register an OAuth app (or one more refresh token for it)."""
        client = self._clients.get(client_id)
        if client is None or client.secret != client_secret:
            client = self._clients[client_id] = OAuthClient(client_secret, rotate)
        client.rotate = rotate
        client.refresh_tokens.add(refresh_token)

    def expire_access_tokens(self) -> None:
        """Make every OAuth access token issued so far expire now."""
        now = time.monotonic()
        for token, expires in self._access_tokens.items():
            self._access_tokens[token] = min(expires, now)

    def refresh(self, request: ApiRequest) -> Reply:
        """`grant_type=refresh_token`: a new access token (and maybe a rotated refresh token)."""
        form = request.body if request.form else {}
        if form.get("grant_type") != "refresh_token":
            return _oauth_error(request, "BAD_GRANT_TYPE", "unsupported grant type")
        client = self._clients.get(form.get("client_id", ""))
        if client is None:
            return _oauth_error(request, "BAD_CLIENT_ID", "missing or unknown client id")
        if form.get("client_secret") != client.secret:
            return _oauth_error(request, "BAD_CLIENT_SECRET", "missing or invalid client secret")
        refresh_token = form.get("refresh_token", "")
        if refresh_token not in client.refresh_tokens:
            return _oauth_error(request, "BAD_REFRESH_TOKEN", "missing or unknown refresh token")
        if client.rotate:
            client.refresh_tokens.discard(refresh_token)
            refresh_token = f"na1-{uuid.uuid4()}"
            client.refresh_tokens.add(refresh_token)
        access_token = "CO" + secrets.token_urlsafe(48)
        self._access_tokens[access_token] = time.monotonic() + self.token_ttl
        body = {
            "token_type": "bearer",
            "refresh_token": refresh_token,
            "access_token": access_token,
            "expires_in": self.token_ttl,
        }
        if self.hub_id is not None and request.path != OAUTH_V1:
            body["hub_id"] = self.hub_id  # optional in HubSpot's 2026 token answers
        return Reply(200, body)

    def authenticate(self, headers: Mapping[str, str]) -> tuple[str, Reply | None]:
        """The token kind (PRIVATE or OAUTH) and None, or "" and the 401 to send."""
        unknown = error_reply(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION")
        scheme, _, token = headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return "", unknown
        if self.access_token is not None and token == self.access_token:
            return PRIVATE, None
        expires = self._access_tokens.get(token)
        if expires is None:
            return "", unknown
        overdue = time.monotonic() - expires
        if overdue >= 0:
            message = (
                f"The OAuth token used to make this call expired {int(overdue):,} second(s) ago."
            )
            return "", error_reply(401, message, "EXPIRED_AUTHENTICATION")
        return OAUTH, None
