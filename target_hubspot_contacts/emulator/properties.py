"""Contact property definitions the emulator starts with, and HubSpot's rules for their values."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

MAX_STRING_LENGTH = 65_536
MAX_UNIQUE_PROPERTIES = 10
PROPERTY_TYPES = frozenset(
    {"string", "number", "date", "datetime", "bool", "enumeration", "phone_number"}
)
FIELD_TYPES = frozenset(
    {
        "text",
        "textarea",
        "number",
        "date",
        "booleancheckbox",
        "select",
        "radio",
        "checkbox",
        "phonenumber",
        "calculation_equation",
        "file",
        "html",
    }
)
REQUIRED_FIELDS = ("name", "label", "type", "fieldType", "groupName")

_DEFINED_AT = "2019-08-06T02:41:08.000Z"
_DAY_MS = 86_400_000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EPOCH_MS = re.compile(r"^-?\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


class PropertyDefinitionError(ValueError):
    """A property definition is missing a required field or uses an unknown type."""


def _options(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    """Build option dicts from (value, label) pairs."""
    return [
        {"label": label, "value": value, "hidden": False, "displayOrder": order}
        for order, (value, label) in enumerate(pairs)
    ]


def _prop(
    name: str,
    label: str,
    type_: str,
    field_type: str,
    *,
    group: str = "contactinformation",
    options: list[dict[str, Any]] | None = None,
    unique: bool = False,
    read_only: bool = False,
    calculated: bool = False,
    description: str = "",
) -> dict[str, Any]:
    """One property definition shaped like HubSpot's `GET /crm/v3/properties/contacts` items."""
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "groupName": group,
        "description": description,
        "options": options or [],
        "displayOrder": -1,
        "hasUniqueValue": unique,
        "hidden": False,
        "calculated": calculated,
        "externalOptions": False,
        "formField": not (read_only or calculated),
        "archived": False,
        "createdAt": _DEFINED_AT,
        "updatedAt": _DEFINED_AT,
        "modificationMetadata": {
            "archivable": not (read_only or calculated),
            "readOnlyDefinition": read_only or calculated,
            "readOnlyValue": read_only or calculated,
        },
    }


LIFECYCLE_STAGES = _options(
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
)
LEAD_STATUSES = _options(
    ("NEW", "New"),
    ("OPEN", "Open"),
    ("IN_PROGRESS", "In Progress"),
    ("OPEN_DEAL", "Open Deal"),
    ("UNQUALIFIED", "Unqualified"),
    ("ATTEMPTED_TO_CONTACT", "Attempted to Contact"),
    ("CONNECTED", "Connected"),
    ("BAD_TIMING", "Bad Timing"),
)

_STANDARD = (
    _prop("email", "Email", "string", "text"),
    _prop("firstname", "First Name", "string", "text"),
    _prop("lastname", "Last Name", "string", "text"),
    _prop("phone", "Phone Number", "string", "phonenumber"),
    _prop("mobilephone", "Mobile Phone Number", "string", "phonenumber"),
    _prop("company", "Company Name", "string", "text"),
    _prop("jobtitle", "Job Title", "string", "text"),
    _prop("website", "Website URL", "string", "text"),
    _prop("address", "Street Address", "string", "text"),
    _prop("city", "City", "string", "text"),
    _prop("state", "State/Region", "string", "text"),
    _prop("zip", "Postal Code", "string", "text"),
    _prop("country", "Country/Region", "string", "text"),
    _prop("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", options=LIFECYCLE_STAGES),
    _prop(
        "hs_lead_status",
        "Lead Status",
        "enumeration",
        "select",
        group="sales_properties",
        options=LEAD_STATUSES,
    ),
    _prop("date_of_birth", "Date of birth", "string", "text"),
    _prop("hs_object_id", "Record ID", "number", "number", read_only=True),
    _prop("createdate", "Create Date", "datetime", "date", read_only=True),
    _prop("lastmodifieddate", "Last Modified Date", "datetime", "date", read_only=True),
    _prop("hs_email_domain", "Email Domain", "string", "text", read_only=True),
    _prop(
        "num_notes",
        "Number of Sales Activities",
        "number",
        "number",
        group="sales_properties",
        calculated=True,
    ),
)

_CUSTOM = (
    _prop(
        "external_id",
        "External ID",
        "string",
        "text",
        unique=True,
        description="Identifier of the contact in the source system.",
    ),
    _prop("signup_date", "Signup Date", "date", "date"),
    _prop("last_login_at", "Last Login At", "datetime", "date"),
    _prop(
        "is_customer",
        "Is Customer",
        "bool",
        "booleancheckbox",
        options=_options(("true", "Yes"), ("false", "No")),
    ),
    _prop("lifetime_value", "Lifetime Value", "number", "number"),
    _prop(
        "plan",
        "Plan",
        "enumeration",
        "select",
        options=_options(("free", "Free"), ("pro", "Pro Plan"), ("enterprise", "Enterprise")),
    ),
    _prop(
        "interests",
        "Interests",
        "enumeration",
        "checkbox",
        options=_options(
            ("analytics", "Analytics"),
            ("crm", "CRM"),
            ("marketing_hub", "Marketing Hub"),
            ("sales_hub", "Sales Hub"),
        ),
    ),
    _prop("notes_text", "Notes", "string", "textarea"),
)


def default_properties() -> list[dict[str, Any]]:
    """Fresh copies of the standard and custom contact properties the emulator starts with."""
    return copy.deepcopy([*_STANDARD, *_CUSTOM])


def normalize_property(definition: Mapping[str, Any]) -> dict[str, Any]:
    """A complete property definition from a `POST /crm/v3/properties/contacts`-style body."""
    missing = [key for key in REQUIRED_FIELDS if not definition.get(key)]
    if missing:
        raise PropertyDefinitionError(f"Missing required field(s): {', '.join(missing)}")
    if definition["type"] not in PROPERTY_TYPES:
        raise PropertyDefinitionError(f"Unknown property type: {definition['type']}")
    if definition["fieldType"] not in FIELD_TYPES:
        raise PropertyDefinitionError(f"Unknown property fieldType: {definition['fieldType']}")
    meta = definition.get("modificationMetadata") or {}
    read_only = bool(meta.get("readOnlyValue", False))
    options = [_option(option, order) for order, option in enumerate(definition.get("options", []))]
    if definition["type"] == "bool" and not options:
        options = _options(("true", "Yes"), ("false", "No"))
    prop = _prop(
        str(definition["name"]),
        str(definition["label"]),
        definition["type"],
        definition["fieldType"],
        group=str(definition["groupName"]),
        options=options,
        unique=bool(definition.get("hasUniqueValue", False)),
        read_only=read_only,
        calculated=bool(definition.get("calculated", False)),
        description=str(definition.get("description", "")),
    )
    prop["createdAt"] = prop["updatedAt"] = format_timestamp(datetime.now(timezone.utc))
    return prop


def _option(option: Mapping[str, Any], order: int) -> dict[str, Any]:
    """Fill in an option's optional fields."""
    if "value" not in option:
        raise PropertyDefinitionError("Every option needs a value")
    return {
        "label": str(option.get("label", option["value"])),
        "value": str(option["value"]),
        "hidden": bool(option.get("hidden", False)),
        "displayOrder": int(option.get("displayOrder", order)),
    }


def is_read_only(definition: Mapping[str, Any]) -> bool:
    """Whether HubSpot refuses writes to this property."""
    meta = definition.get("modificationMetadata") or {}
    return bool(definition.get("calculated")) or bool(meta.get("readOnlyValue"))


def invalid(name: str, code: str, message: str) -> dict[str, Any]:
    """One entry of the list inside "Property values were not valid: [...]"."""
    return {"isValid": False, "message": message, "error": code, "name": name}


def validate_value(
    definition: Mapping[str, Any] | None, name: str, value: object
) -> dict[str, Any] | None:
    """The validation error for writing `value` to property `name`, or None when it is valid."""
    error = _generic_error(definition, name, value)
    if error is not None or not isinstance(value, str) or value == "":
        return error
    if name == "email" and not _EMAIL.match(value.strip()):
        return invalid(name, "INVALID_EMAIL", f"Email address {value} is invalid")
    return _format_error(definition, name, value)


def _generic_error(
    definition: Mapping[str, Any] | None, name: str, value: object
) -> dict[str, Any] | None:
    """Errors whatever the property's type: not a string, too long, unknown, read-only."""
    if not isinstance(value, str):
        kind = "null" if value is None else type(value).__name__
        message = f'Property "{name}" needs a string value, not {kind}'
        return invalid(name, "INVALID_PROPERTY_VALUE", message)
    if len(value) > MAX_STRING_LENGTH:
        message = (
            f"Value for property {name} is {len(value)} characters long; "
            f"the maximum is {MAX_STRING_LENGTH}"
        )
        return invalid(name, "INVALID_LONG_STRING", message)
    if definition is None:
        return invalid(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
    if is_read_only(definition):
        message = f'"{name}" is a read only property; its value cannot be set.'
        return invalid(name, "READ_ONLY_VALUE", message)
    return None


def _format_error(definition: Mapping[str, Any], name: str, value: str) -> dict[str, Any] | None:
    """The error for a non-empty value that does not fit the property's type."""
    kind = definition["type"]
    if kind == "date":
        return _date_error(name, value)
    if kind == "datetime" and _parse_datetime(value) is None:
        return invalid(name, "INVALID_DATETIME", f"{value} is not a valid datetime")
    if kind == "number" and not _DECIMAL.match(value):
        return invalid(name, "INVALID_INTEGER", f"{value} was not a valid number.")
    if kind == "bool" and value not in ("true", "false"):
        return invalid(name, "INVALID_BOOLEAN", f"{value} was not a valid boolean (true or false).")
    if kind == "enumeration":
        return _option_error(definition, name, value)
    return None


def _date_error(name: str, value: str) -> dict[str, Any] | None:
    """A date is `YYYY-MM-DD` or epoch milliseconds exactly at midnight UTC."""
    if _ISO_DATE.match(value):
        try:
            date.fromisoformat(value)
        except ValueError:
            return invalid(name, "INVALID_DATE", f"{value} is not a valid date")
        return None
    if _EPOCH_MS.match(value):
        remainder = int(value) % _DAY_MS
        if remainder == 0:
            return None
        clock = (datetime(1970, 1, 1) + timedelta(milliseconds=remainder)).strftime("%H:%M:%S.%f")
        return invalid(name, "INVALID_DATE", f"{value} is at {clock[:-3]} UTC, not midnight!")
    return invalid(name, "INVALID_DATE", f"{value} is not a valid date")


def _option_error(definition: Mapping[str, Any], name: str, value: str) -> dict[str, Any] | None:
    """Every `;`-separated part must be an option's internal value (a leading `;` appends)."""
    allowed = [option["value"] for option in definition.get("options", [])]
    for part in value.split(";"):
        if part and part not in allowed:
            return invalid(
                name,
                "INVALID_OPTION",
                f"{part} was not one of the allowed options: [{', '.join(allowed)}]",
            )
    return None


def _parse_datetime(value: str) -> datetime | None:
    """An aware datetime from epoch milliseconds or ISO 8601 with an offset, else None."""
    if _EPOCH_MS.match(value):
        try:
            return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def format_timestamp(moment: datetime) -> str:
    """HubSpot's timestamp style: UTC, milliseconds, `Z`."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def normalize_value(definition: Mapping[str, Any], name: str, value: str) -> str:
    """The form HubSpot stores a valid, non-empty value in."""
    if name == "email":
        return value.strip().lower()
    kind = definition["type"]
    if kind == "date" and _EPOCH_MS.match(value):
        return (date(1970, 1, 1) + timedelta(milliseconds=int(value))).isoformat()
    if kind == "datetime":
        parsed = _parse_datetime(value)
        return format_timestamp(parsed) if parsed is not None else value
    return value
