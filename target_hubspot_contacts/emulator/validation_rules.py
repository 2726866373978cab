"""A portal's own validation rules: properties a contact must have, always or in some cases.

HubSpot applies them to API writes from version 2026-09 on (see `versions`); a write that
breaks one is refused for that record alone with a VALIDATION_ERROR.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from target_hubspot_contacts.emulator.properties import invalid

MISSING_REQUIRED = "MISSING_REQUIRED_PROPERTY"
MISSING_CONDITIONAL = "MISSING_CONDITIONAL_REQUIRED_PROPERTY"


@dataclass(frozen=True)
class RequiredProperty:
    """`name` must hold a value, always or only while property `when[0]` holds `when[1]`."""

    name: str
    when: tuple[str, str] | None = None

    def broken_by(self, properties: Mapping[str, Any]) -> dict[str, Any] | None:
        """The validation error when a contact with these properties breaks the rule."""
        if properties.get(self.name) not in (None, ""):
            return None
        if self.when is None:
            message = f'Property "{self.name}" is required by this account\'s validation rules.'
            return invalid(self.name, MISSING_REQUIRED, message)
        other, value = self.when
        if str(properties.get(other, "")) != value:
            return None
        message = f'Property "{self.name}" is required when "{other}" is "{value}".'
        return invalid(self.name, MISSING_CONDITIONAL, message)


class ValidationRules:
    """The rules a portal's admins set. Called with `HubSpotState.lock` held."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """No rules, as in a new portal."""
        self._rules: list[RequiredProperty] = []

    def require(self, name: str, when: Mapping[str, str] | None = None) -> None:
        """Require property `name`; with `when={"lifecyclestage": "customer"}` only then."""
        if when is not None and len(when) != 1:
            raise ValueError("`when` names exactly one property and its value")
        condition = next(iter(when.items())) if when else None
        self._rules.append(RequiredProperty(name, condition))

    def violations(
        self, stored: Mapping[str, Any], written: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """The errors of a write of `written` onto a contact holding `stored` ({} = a new one)."""
        after = {**stored, **written}
        errors = [rule.broken_by(after) for rule in self._rules]
        return [error for error in errors if error is not None]
