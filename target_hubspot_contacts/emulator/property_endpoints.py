"""The contact property definitions a portal holds, and the endpoints that list and create them."""

from __future__ import annotations

import copy
import re
from typing import Any

from target_hubspot_contacts.emulator.properties import (
    MAX_UNIQUE_PROPERTIES,
    PropertyDefinitionError,
    default_properties,
    normalize_property,
)
from target_hubspot_contacts.emulator.replies import ApiRequest, Reply, error_reply
from target_hubspot_contacts.emulator.versions import dated

# Each serves GET (list) and POST (create).
PROPERTY_PATHS = ("/crm/v3/properties/contacts", *dated("/crm/properties/{version}/contacts"))
INTERNAL_NAME = re.compile(r"[a-z][a-z0-9_]*")


class PropertyCatalog:
    """Property definitions by name, starting with the defaults.

    Called with `HubSpotState.lock` held.
    """

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Back to the default definitions."""
        self.definitions: dict[str, dict[str, Any]] = {
            prop["name"]: prop for prop in default_properties()
        }

    def get(self, name: str) -> dict[str, Any] | None:
        """The definition of property `name`, if it exists."""
        return self.definitions.get(name)

    def put(self, prop: dict[str, Any]) -> None:
        """Add or replace a normalized definition."""
        self.definitions[prop["name"]] = prop

    def is_unique(self, name: str) -> bool:
        """Whether contacts can be identified by this property."""
        return name == "email" or bool(self.definitions.get(name, {}).get("hasUniqueValue"))

    def list_properties(self, _request: ApiRequest) -> Reply:
        """`GET .../properties/contacts`: every definition."""
        return Reply(200, {"results": copy.deepcopy(list(self.definitions.values()))})

    def create_property(self, request: ApiRequest) -> Reply:
        """`POST .../properties/contacts`: a new definition, refused if the name is taken."""
        body = request.body
        if not isinstance(body, dict):
            return error_reply(400, "Invalid input JSON: expected an object", "VALIDATION_ERROR")
        try:
            prop = normalize_property(body)
        except PropertyDefinitionError as exc:
            return error_reply(400, str(exc), "VALIDATION_ERROR")
        if not INTERNAL_NAME.fullmatch(prop["name"]):
            message = (
                f"Property name '{prop['name']}' is invalid: use lowercase letters, digits and "
                "underscores, starting with a letter."
            )
            return error_reply(400, message, "VALIDATION_ERROR")
        if prop["name"] in self.definitions:
            message = f"Property named '{prop['name']}' already exists."
            return error_reply(409, message, "OBJECT_ALREADY_EXISTS")
        unique = sum(1 for p in self.definitions.values() if p["hasUniqueValue"])
        if prop["hasUniqueValue"] and unique >= MAX_UNIQUE_PROPERTIES:
            message = f"Only {MAX_UNIQUE_PROPERTIES} properties per object can have unique values"
            return error_reply(400, message, "VALIDATION_ERROR")
        self.definitions[prop["name"]] = prop
        return Reply(201, copy.deepcopy(prop))
