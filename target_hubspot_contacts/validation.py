"""Record validation against the stream schema, compiled once per schema with fastjsonschema."""

from __future__ import annotations

import typing as t

import fastjsonschema
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks.core import BaseJSONSchemaValidator, JSONSchemaValidator

# Taps (tap-postgres for NUMERIC columns) use it to describe a column's scale. Validators check
# it with binary floats: a Decimal breaks them and 0.3 is "not a multiple" of 0.1. HubSpot
# numbers have no scale, so it is not checked.
UNCHECKED_KEYWORDS = frozenset({"multipleOf"})


class CompiledValidator(BaseJSONSchemaValidator):
    """The SDK's validator contract, several times faster than its pure-Python one.

    Defaults in the schema are not filled into records and string formats are not checked,
    as with the SDK's own validator.
    """

    def __init__(self, schema: dict[str, t.Any]) -> None:
        super().__init__(schema)
        self._validate = fastjsonschema.compile(
            schema_to_check(schema), use_default=False, use_formats=False
        )

    def validate(self, record: dict[str, t.Any]) -> None:
        """Raise InvalidRecord, naming the first violation, if the record breaks the schema."""
        try:
            self._validate(record)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise InvalidRecord(exc.message, record) from None


def compile_validator(schema: dict[str, t.Any]) -> CompiledValidator | None:
    """A compiled validator, or None when fastjsonschema cannot compile this schema."""
    try:
        return CompiledValidator(schema)
    except fastjsonschema.JsonSchemaDefinitionException:
        return None


def sdk_validator(schema: dict[str, t.Any], *, validate_formats: bool) -> JSONSchemaValidator:
    """The SDK's own validator (for what fastjsonschema cannot do), on the schema as checked."""
    return JSONSchemaValidator(schema_to_check(schema), validate_formats=validate_formats)


def schema_to_check(schema: t.Any) -> t.Any:
    """The schema without the keywords this target does not check, at any depth."""
    if isinstance(schema, list):
        return [schema_to_check(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    checked: dict[str, t.Any] = {}
    for key, value in schema.items():
        if key in UNCHECKED_KEYWORDS:
            continue
        if key in _VALUES_NOT_SCHEMAS:
            checked[key] = value
        elif key in _SCHEMAS_BY_NAME and isinstance(value, dict):
            checked[key] = {name: schema_to_check(item) for name, item in value.items()}
        else:
            checked[key] = schema_to_check(value)
    return checked


_VALUES_NOT_SCHEMAS = frozenset({"enum", "const", "default", "examples", "required"})
_SCHEMAS_BY_NAME = frozenset({"properties", "patternProperties", "definitions", "$defs"})
