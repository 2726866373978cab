"""Record validation against the stream schema, compiled once per schema with fastjsonschema."""

from __future__ import annotations

import re
import typing as t

import fastjsonschema
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks.core import BaseJSONSchemaValidator, JSONSchemaValidator

from target_hubspot_contacts.errors import TargetError

if t.TYPE_CHECKING:
    import logging

# Taps (tap-postgres for NUMERIC columns) use it to describe a column's scale. Validators check
# it with binary floats: a Decimal breaks them and 0.3 is "not a multiple" of 0.1. HubSpot
# numbers have no scale, so it is not checked.
UNCHECKED_KEYWORDS = frozenset({"multipleOf"})


class UnusableSchemaError(TargetError):
    """A stream's schema that records cannot be checked against (it is not valid JSON Schema)."""


class CompiledValidator(BaseJSONSchemaValidator):
    """The SDK's validator contract, several times faster than its pure-Python one.

    Defaults in the schema are not filled into records and string formats are not checked,
    as with the SDK's own validator. `schema` is the schema as checked (see CheckedSchema).
    """

    def __init__(self, schema: dict[str, t.Any]) -> None:
        super().__init__(schema)
        self._validate = fastjsonschema.compile(schema, use_default=False, use_formats=False)

    def validate(self, record: dict[str, t.Any]) -> None:
        """Raise InvalidRecord, naming the first violation, if the record breaks the schema."""
        try:
            self._validate(record)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise InvalidRecord(exc.message, record) from None


def record_validator(
    stream: str, schema: dict[str, t.Any], *, validate_formats: bool, logger: logging.Logger
) -> BaseJSONSchemaValidator:
    """The validator for a stream's records: compiled where it can be, the SDK's own otherwise
    (and to check string formats). Patterns Python cannot compile are left out, with one
    warning; a schema that is not valid JSON Schema is an UnusableSchemaError."""
    checked = CheckedSchema(schema)
    if checked.dropped:
        logger.warning(
            "Stream '%s': %s not checked, as Python's regular expressions cannot compile %s: %s",
            stream,
            "this pattern is" if len(checked.dropped) == 1 else "these patterns are",
            "it" if len(checked.dropped) == 1 else "them",
            "; ".join(checked.dropped),
        )
    try:
        if not validate_formats:
            try:
                return CompiledValidator(checked.schema)
            except fastjsonschema.JsonSchemaDefinitionException:
                pass  # the SDK's validator says what is wrong, or checks it
        return JSONSchemaValidator(checked.schema, validate_formats=validate_formats)
    except Exception as exc:  # any schema the validators refuse: say so, naming the stream
        raise UnusableSchemaError(_unusable_message(stream, exc)) from None


def _unusable_message(stream: str, error: Exception) -> str:
    cause = error.__cause__  # the SDK's InvalidJSONSchema wraps jsonschema's SchemaError
    path = getattr(cause, "json_path", None)
    if isinstance(path, str) and getattr(cause, "message", None):
        where = path.removeprefix("$").removeprefix(".") or "its top level"
        what = f"{cause.message} (at {where})"
    else:
        what = str(error).splitlines()[0] if str(error) else type(error).__name__
    return (
        f"Stream '{stream}' sent a schema its records cannot be checked against: {what}. Fix "
        "the schema in the tap (or its catalog), or set `validate_records` to false to send "
        "records unchecked."
    )


class CheckedSchema:
    """The schema as checked: without the keywords this target does not check (at any depth)
    and without patterns Python cannot compile (`dropped` says which, where)."""

    def __init__(self, schema: dict[str, t.Any]) -> None:
        self.dropped: list[str] = []
        self.schema = self._checked(schema, "")

    def _checked(self, schema: t.Any, where: str) -> t.Any:
        if isinstance(schema, list):
            return [self._checked(item, where) for item in schema]
        if not isinstance(schema, dict):
            return schema
        checked: dict[str, t.Any] = {}
        for key, value in schema.items():
            if key in UNCHECKED_KEYWORDS:
                continue
            if key == "pattern" and self._refused(value, f"{_field(where)}: pattern"):
                continue
            if key in _VALUES_NOT_SCHEMAS:
                checked[key] = value
            elif key in _SCHEMAS_BY_NAME and isinstance(value, dict):
                checked[key] = self._by_name(key, value, where)
            else:
                checked[key] = self._checked(value, where)
        return checked

    def _by_name(self, key: str, schemas: dict[str, t.Any], where: str) -> dict[str, t.Any]:
        """`properties`, `patternProperties`, `definitions`: schemas under names."""
        checked = {}
        for name, item in schemas.items():
            if key == "patternProperties" and self._refused(
                name, f"{_field(where)}: patternProperties key"
            ):
                continue
            inner = f"{where}.{name}" if where else name
            checked[name] = self._checked(item, inner if key == "properties" else where)
        return checked

    def _refused(self, pattern: object, what: str) -> bool:
        """Whether re.compile refuses `pattern`; notes it in `dropped` if so."""
        if not isinstance(pattern, str):
            return False  # not a pattern at all: the validators say so
        try:
            re.compile(pattern)
        except re.error as exc:
            self.dropped.append(f"{what} '{pattern}' ({exc})")
            return True
        return False


def _field(where: str) -> str:
    return f"field '{where}'" if where else "the record"


_VALUES_NOT_SCHEMAS = frozenset({"enum", "const", "default", "examples", "required"})
_SCHEMAS_BY_NAME = frozenset({"properties", "patternProperties", "definitions", "$defs"})
