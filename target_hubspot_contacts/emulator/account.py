"""The account the token acts on: `GET /account-info/.../details`, which names the portal id."""

from __future__ import annotations

from target_hubspot_contacts.emulator.replies import ApiRequest, Reply
from target_hubspot_contacts.emulator.versions import dated

# The v3 path and its dated successors; all answer the same body.
ACCOUNT_DETAILS_PATHS = ("/account-info/v3/details", *dated("/account-info/{version}/details"))
DEFAULT_PORTAL_ID = 24681357


class Account:
    """One HubSpot account (portal). Called with `HubSpotState.lock` held."""

    def __init__(self, portal_id: int = DEFAULT_PORTAL_ID) -> None:
        self.portal_id = portal_id

    def details(self, _request: ApiRequest) -> Reply:
        """`GET .../details`: the account's id and settings; any valid token may ask."""
        return Reply(
            200,
            {
                "portalId": self.portal_id,
                "accountType": "STANDARD",
                "timeZone": "US/Eastern",
                "companyCurrency": "USD",
                "additionalCurrencies": [],
                "utcOffset": "-05:00",
                "utcOffsetMilliseconds": -18_000_000,
                "uiDomain": "app.hubspot.com",
                "dataHostingLocation": "na1",
            },
        )
