"""The few named errors that cross module boundaries, each with a message a user can act on."""

from __future__ import annotations


class TargetError(Exception):
    """Base class: a failure that stops the run with a message meant for the user."""


class ConfigurationError(TargetError):
    """A setting is missing, contradictory or does not fit the portal."""


class AuthenticationError(TargetError):
    """HubSpot refused the credentials (401) or the OAuth refresh failed."""


class MissingScopesError(TargetError):
    """The token lacks scopes the call needs (403)."""

    def __init__(self, scopes: list[str], message: str) -> None:
        super().__init__(message)
        self.scopes = scopes


class DailyLimitError(TargetError):
    """The account's daily API budget is spent; retrying before it resets is pointless."""


class DailyReserveError(TargetError):
    """One more call would spend the share of the daily budget `daily_reserve` keeps back."""


class HubSpotAPIError(TargetError):
    """HubSpot answered with an error the target cannot recover from."""

    def __init__(self, message: str, *, status: int | None = None, body: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class CallAbandoned(TargetError):  # noqa: N818 - a state, not a failure of its own
    """A call stopped retrying because the run is stopping; its records stay unwritten."""


class UnwrittenRecordsError(TargetError):
    """The run ended with records that were neither written nor recorded as rejected."""


class TerminationRequested(Exception):  # noqa: N818 - a request, not an error
    """A SIGTERM or SIGINT asked the run to stop."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum
