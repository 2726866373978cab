"""Which HubSpot API version the target speaks, and the path of every endpoint it calls there.

HubSpot's date-versioned paths put the version after the API's name
(`/crm/objects/2026-03/contacts`); the numeric ones put it before (`/crm/v3/objects/contacts`).
A new endpoint is one more property below, with both spellings.
"""

from __future__ import annotations

import dataclasses

DATED_VERSIONS = ("2026-03", "2026-09")
LEGACY_VERSION = "v3"  # for a proxy or portal that still needs the numeric paths
API_VERSIONS = (*DATED_VERSIONS, LEGACY_VERSION)
DEFAULT_API_VERSION = "2026-03"
# `/oauth/v1/token` is removed on 2027-02-16, before the v3 CRM paths (September 2027), and the
# dated token endpoint has existed since 2026-03: with `v3`, tokens come from the latter.
OAUTH_VERSION_FOR_V3 = "2026-03"


@dataclasses.dataclass(frozen=True)
class ApiPaths:
    """The paths of one API version; built once per run from the `api_version` setting."""

    version: str = DEFAULT_API_VERSION

    def __post_init__(self) -> None:
        if self.version not in API_VERSIONS:
            msg = f"unknown HubSpot API version {self.version!r}; use one of {API_VERSIONS}"
            raise ValueError(msg)

    def _path(self, dated: str, legacy: str) -> str:
        """`dated` with this version filled in, or `legacy` under `v3`."""
        if self.version == LEGACY_VERSION:
            return legacy
        return dated.format(version=self.version)

    @property
    def contacts_batch(self) -> str:
        """Prefix of the contact batch endpoints: add `/upsert`, `/read`, `/archive`, ..."""
        return self._path("/crm/objects/{version}/contacts/batch", "/crm/v3/objects/contacts/batch")

    @property
    def contact_properties(self) -> str:
        """Contact property definitions: GET lists them, POST creates one."""
        return self._path("/crm/properties/{version}/contacts", "/crm/v3/properties/contacts")

    @property
    def oauth_token(self) -> str:
        """The OAuth token endpoint (form-encoded POST)."""
        return self._path("/oauth/{version}/token", f"/oauth/{OAUTH_VERSION_FOR_V3}/token")

    @property
    def account_details(self) -> str:
        """The account's details, among them its portal (hub) id."""
        return self._path("/account-info/{version}/details", "/account-info/v3/details")
