"""The API versions the emulator serves, and which paths belong to HubSpot's retired numeric ones.

HubSpot's date-versioned paths put the version after the API's name
(`/crm/objects/2026-03/contacts`); the numeric ones before it (`/crm/v3/objects/contacts`,
`/oauth/v1/token`). After the retirements only the dated ones answer.
"""

from __future__ import annotations

import re

DATED_VERSIONS = ("2026-03", "2026-09")
VALIDATION_RULES_SINCE = "2026-09"  # portal validation rules apply to API writes from here on
_NUMERIC_VERSION = re.compile(r"/v\d+(?:/|$)")
_DATED_VERSION = re.compile(r"/(\d{4}-\d{2})(?:/|$)")


def dated(template: str) -> tuple[str, ...]:
    """`template` (holding `{version}`) for every dated version served."""
    return tuple(template.format(version=version) for version in DATED_VERSIONS)


def is_retired(path: str) -> bool:
    """Whether path is one of the numeric-version paths (`/v1/`, `/v3/`, ...)."""
    return _NUMERIC_VERSION.search(path) is not None


def enforces_validation_rules(path: str) -> bool:
    """Whether writes through this path must obey the portal's validation rules."""
    match = _DATED_VERSION.search(path)
    return match is not None and match.group(1) >= VALIDATION_RULES_SINCE
