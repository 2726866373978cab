"""HTTP to HubSpot: auth headers, pacing, retries, and turning error answers into named errors."""

from __future__ import annotations

import dataclasses
import re
import time
import typing as t

import requests

from target_hubspot_contacts.errors import (
    AuthenticationError,
    ConfigurationError,
    DailyLimitError,
    HubSpotAPIError,
    MissingScopesError,
)
from target_hubspot_contacts.logvalues import values_shown
from target_hubspot_contacts.ratelimit import RateGovernor
from target_hubspot_contacts.reach import HUBSPOT_API_URL
from target_hubspot_contacts.retries import (
    MAYBE_PROCESSED_STATUSES,
    RETRYABLE_STATUSES,
    RetryableError,
    describe_failure,
    error_category,
)
from target_hubspot_contacts.transport import Transport

if t.TYPE_CHECKING:
    import logging

    from target_hubspot_contacts.api_version import ApiPaths
    from target_hubspot_contacts.auth import OAuthToken, StaticToken
    from target_hubspot_contacts.concurrency import ConcurrencyController
    from target_hubspot_contacts.ratelimit import Ticket
    from target_hubspot_contacts.reach import Reach
    from target_hubspot_contacts.retries import Retrier

__all__ = ["Answer", "HubSpotClient", "RejectedCallError"]
# Where HubSpot's answers have named the account id: account details, OAuth token answers.
PORTAL_ID_FIELDS = ("portalId", "hubId", "hub_id", "portal_id")
# The scope HubSpot's docs list for the account information API.
ACCOUNT_DETAILS_SCOPE = "oauth"

# Signs that HubSpot struggles under load: fewer calls go out at once until it recovers.
STRUGGLING_STATUSES = frozenset({423, 500, 502, 503, 504, 521, 523, 524})


@dataclasses.dataclass(frozen=True)
class Answer:
    """A successful (2xx) HubSpot answer; `after_lost_answer` if an earlier try may have worked."""

    status: int
    body: t.Any
    correlation_id: str | None
    after_lost_answer: bool = False


class RejectedCallError(HubSpotAPIError):
    """HubSpot refused the whole call (a 4xx that retrying cannot fix)."""

    def __init__(self, message: str, *, status: int, body: t.Any, correlation_id: str | None):
        super().__init__(message, status=status, body=body)
        self.correlation_id = correlation_id
        self.after_lost_answer = False  # an earlier try may have done what this one was refused

    @property
    def category(self) -> str | None:
        """HubSpot's error category, such as VALIDATION_ERROR."""
        return self.body.get("category") if isinstance(self.body, dict) else None


class HubSpotClient:
    """Talks to one HubSpot account; safe to share between threads."""

    def __init__(
        self,
        *,
        api_url: str,
        paths: ApiPaths,
        token: StaticToken | OAuthToken,
        retrier: Retrier,
        reach: Reach,
        logger: logging.Logger,
        timeout: float = 60.0,
        governor: RateGovernor | None = None,
        concurrency: ConcurrencyController | None = None,
    ) -> None:
        self._reach = reach
        self.api_url = reach.api_url  # as shown in messages
        self.paths = paths
        self.stats = retrier.stats
        self._token = token
        self._retrier = retrier
        self._logger = logger
        self._transport = Transport(api_url=api_url, reach=reach, retrier=retrier, timeout=timeout)
        self._governor = governor or RateGovernor()
        retrier.on_abandon(self._governor.abandon)  # calls waiting for the window stop too
        self._concurrency = concurrency

    def contact_properties(self) -> list[dict]:
        """The portal's contact property definitions."""
        path = self.paths.contact_properties
        body = self.request("GET", path).body
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            msg = (
                f"`api_url` {self.api_url} answered GET {path} without a list of properties: "
                f"it is not HubSpot's API. Check `api_url` ({HUBSPOT_API_URL} for HubSpot)."
            )
            raise ConfigurationError(msg)
        return results

    def create_contact_property(self, definition: dict) -> dict:
        """Create a custom contact property and return its definition."""
        return self.request("POST", self.paths.contact_properties, json=definition).body

    def portal_id(self) -> str:
        """The id of the HubSpot account (portal, hub) these credentials act on: from the account
        details or, when HubSpot forbids those, from the OAuth token answer (`hub_id`)."""
        path = self.paths.account_details
        try:
            body = self.request("GET", path).body
        except (MissingScopesError, RejectedCallError) as refused:
            forbidden = isinstance(refused, MissingScopesError) or refused.status == 403
            portal_id = _portal_id_in(self._token.details()) if forbidden else None
            if portal_id is None:
                raise self._account_details_refused(refused) from None
            self._logger.info("Portal %s, as HubSpot's OAuth token answer names it.", portal_id)
            return portal_id
        portal_id = _portal_id_in(body)
        if portal_id is None:
            msg = (
                f"HubSpot's account details (GET {path}) did not name the "
                "portal id, which the sync store needs to key what it remembers. Until it "
                "does, turn off `skip_unchanged` and `full_resync`, and leave `sync_store` unset "
                "with no store at its default path."
            )
            raise HubSpotAPIError(msg, body=body)
        return portal_id

    def _account_details_refused(
        self, refused: MissingScopesError | RejectedCallError
    ) -> MissingScopesError | RejectedCallError:
        """A 403 on the account details, naming the scope they need; other refusals as they are."""
        if isinstance(refused, RejectedCallError) and refused.status != 403:
            return refused
        scopes = getattr(refused, "scopes", None) or [ACCOUNT_DETAILS_SCOPE]
        said = f" ({refused})" if isinstance(refused, RejectedCallError) else ""
        msg = (
            f"The HubSpot credentials lack the scope(s) {', '.join(scopes)} needed to read the "
            f"account details (GET {self.paths.account_details}), which name the portal the sync "
            "store keys its memory by (the store is used with `skip_unchanged` or "
            "`full_resync`, and once `sync_store` is set or its default file exists). Add the "
            "scope to the service key or app (an OAuth app must then be re-authorized in the "
            f"portal) and rerun.{said}"
        )
        return MissingScopesError(scopes, msg)

    def request(self, method: str, path: str, *, json: t.Any = None) -> Answer:
        """Send one API call, retrying transient failures within the retry budget. The answer
        (or refusal) says if an earlier try's answer was lost after HubSpot may have acted."""
        lost: list[RetryableError] = []

        def attempt() -> Answer:
            try:
                return self._send_once(method, path, json)
            except RetryableError as error:
                if error.maybe_processed:
                    lost.append(error)
                raise

        try:
            answer = self._retrier.call(
                attempt,
                what=f"{method} {path}",
                advice="Rerun later, or raise `max_retry_seconds`.",
                reach=self._reach,
            )
        except RejectedCallError as refused:
            refused.after_lost_answer = bool(lost)
            raise
        return dataclasses.replace(answer, after_lost_answer=True) if lost else answer

    def _send_once(self, method: str, path: str, json: t.Any) -> Answer:
        authorization = self._token.authorization()
        ticket = self._governor.acquire()
        response = None
        try:
            response = self._transport.send(
                method, path, authorization=authorization, json=json, where=f"{method} {path}"
            )
        except RetryableError:
            self._observe(None, ticket)
            raise
        finally:
            if response is None:
                self._governor.release(ticket, None)
            else:
                refused = response.status_code == 429
                self._governor.release(ticket, response.headers, refused=refused)
        self._observe(response.status_code, ticket)
        return self._interpret(response, authorization)

    def _observe(self, status: int | None, ticket: Ticket) -> None:
        """Tell the concurrency controller how HubSpot answered (None: no answer came)."""
        if self._concurrency is None or status == 429:
            return
        if status is None or status in STRUGGLING_STATUSES:
            self._concurrency.struggled()
        else:
            self._concurrency.answered(time.monotonic() - ticket.sent_at)

    def _interpret(self, response: requests.Response, authorization: str) -> Answer:
        status = response.status_code
        body = _json_body(response)
        correlation_id = response.headers.get("x-hubspot-correlation-id")
        if 200 <= status < 300:
            return Answer(status, body, correlation_id)
        where = f"{response.request.method} {response.request.path_url}"
        # HubSpot's message about records it was sent may quote them.
        carried_records = response.request.path_url.startswith(self.paths.contacts_batch)
        detail = describe_failure(
            status, body, correlation_id, quote_message=values_shown() or not carried_records
        )
        if status == 429:
            self._retrier.count("rate_limited")
            return self._rate_limited(response, body, detail)
        if status in RETRYABLE_STATUSES:
            raise RetryableError(
                detail,
                retry_after=self._retrier.retry_after(response, status),
                maybe_processed=status in MAYBE_PROCESSED_STATUSES,
            )
        if status == 401:
            if error_category(body) == "EXPIRED_AUTHENTICATION":
                self._token.renew(authorization, detail)
                raise RetryableError(detail, retry_after=0.0)
            msg = (
                f"HubSpot rejected {self._token.describe()} on {where} ({detail}). The token "
                "is wrong, revoked or expired: check the credentials in the settings."
            )
            raise AuthenticationError(msg)
        if status == 403 and error_category(body) == "MISSING_SCOPES":
            scopes = _missing_scopes(body)
            msg = (
                f"The HubSpot credentials lack the scope(s) {', '.join(scopes) or '(not named)'} "
                f"needed for {where}. Add them to the service key or app (an OAuth app must "
                f"then be re-authorized in the portal) and rerun. ({detail})"
            )
            raise MissingScopesError(scopes, msg)
        if status in (404, 405):
            raise ConfigurationError(self._not_served(where, detail))
        msg = f"HubSpot refused {where}: {detail}"
        raise RejectedCallError(msg, status=status, body=body, correlation_id=correlation_id)

    def _not_served(self, where: str, detail: str) -> str:
        """None of the target's calls can answer 404: the path itself is not served there."""
        return (
            f"{self.api_url} does not serve {where} ({detail}). With `api_version` "
            f"'{self.paths.version}' the target calls that version's paths: if this portal or "
            "proxy does not serve them, choose another `api_version` (2026-03, 2026-09, or v3 "
            "while HubSpot still serves it); otherwise check `api_url`."
        )

    def _rate_limited(self, response: requests.Response, body: t.Any, detail: str) -> t.NoReturn:
        policy = body.get("policyName") if isinstance(body, dict) else None
        if policy == "DAILY":
            msg = (
                "HubSpot's daily API limit for this account is spent (429 DAILY). It resets at "
                "midnight in the account's time zone; rerun then from the last STATE. "
                f"({detail})"
            )
            raise DailyLimitError(msg)
        wait = self._retrier.retry_after(response, 429)
        if wait is not None:
            self._governor.pause(wait)
        # Without Retry-After, the governor holds the retry until the window has room for it.
        raise RetryableError(detail, retry_after=0.0 if wait is None else wait)


def _portal_id_in(body: t.Any) -> str | None:
    found = [body.get(name) for name in PORTAL_ID_FIELDS] if isinstance(body, dict) else []
    return next((str(value) for value in found if value not in (None, "")), None)


def _json_body(response: requests.Response) -> t.Any:
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        return {"message": _page_summary(response)}


def _page_summary(response: requests.Response) -> str:
    """An answer that is not JSON in a few words: a web page by its title, text as it is."""
    kind = response.headers.get("Content-Type", "").split(";")[0].strip()
    if "html" not in kind:
        return response.text[:500]
    title = re.search(r"<title[^>]*>(.*?)</title>", response.text, re.IGNORECASE | re.DOTALL)
    titled = f" titled {' '.join(title.group(1).split())[:200]!r}" if title else ""
    return f"an HTML page{titled}, not HubSpot's JSON"


def _missing_scopes(body: t.Any) -> list[str]:
    scopes: list[str] = []
    context = body.get("context") or {}
    scopes.extend(context.get("missingScopes") or [])
    for error in body.get("errors") or []:
        scopes.extend((error.get("context") or {}).get("requiredGranularScopes") or [])
    return list(dict.fromkeys(scopes))
