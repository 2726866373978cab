"""Record validation against the stream schema, compiled once per schema with fastjsonschema."""

from __future__ import annotations

import typing as t

import fastjsonschema
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks.core import BaseJSONSchemaValidator


class CompiledValidator(BaseJSONSchemaValidator):
    """The SDK's validator contract, several times faster than its pure-Python one.

    Defaults in the schema are not filled into records and string formats are not checked,
    as with the SDK's own validator.
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


def compile_validator(schema: dict[str, t.Any]) -> CompiledValidator | None:
    """A compiled validator, or None when fastjsonschema cannot compile this schema."""
    try:
        return CompiledValidator(schema)
    except fastjsonschema.JsonSchemaDefinitionException:
        return None
