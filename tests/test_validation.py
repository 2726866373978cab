"""Unit tests for checking records against their stream schema (validation.py)."""

from __future__ import annotations

import logging

import pytest
from singer_sdk.exceptions import InvalidRecord

from target_hubspot_contacts.validation import CheckedSchema, UnusableSchemaError, record_validator

ECMA_LETTERS = "^\\p{L}+$"  # valid in ECMA-262 (OpenAPI), refused by Python's re


def object_schema(**properties: dict) -> dict:
    return {"type": "object", "properties": properties}


def test_a_pattern_python_cannot_compile_is_left_out_and_named_with_its_field() -> None:
    schema = object_schema(
        name={"type": "string", "pattern": ECMA_LETTERS},
        address=object_schema(city={"type": "string", "pattern": "[a-"}),
        code={"type": "string", "pattern": "^[A-Z]{2}$"},
    )

    checked = CheckedSchema(schema)

    assert "pattern" not in checked.schema["properties"]["name"]
    assert "pattern" not in checked.schema["properties"]["address"]["properties"]["city"]
    assert checked.schema["properties"]["code"]["pattern"] == "^[A-Z]{2}$"
    assert checked.dropped == [
        "field 'name': pattern '^\\p{L}+$' (bad escape \\p at position 1)",
        "field 'address.city': pattern '[a-' (unterminated character set at position 0)",
    ]


def test_a_pattern_properties_key_python_cannot_compile_is_left_out() -> None:
    schema = {
        "type": "object",
        "patternProperties": {ECMA_LETTERS: {"type": "string"}, "^x_": {"type": "integer"}},
    }

    checked = CheckedSchema(schema)

    assert list(checked.schema["patternProperties"]) == ["^x_"]
    assert checked.dropped == [
        "the record: patternProperties key '^\\p{L}+$' (bad escape \\p at position 1)"
    ]


def test_a_field_named_pattern_is_a_field_not_a_keyword() -> None:
    schema = object_schema(pattern={"type": "string"})
    assert CheckedSchema(schema).schema == schema


def test_multiple_of_is_not_checked_at_any_depth() -> None:
    schema = object_schema(amount={"type": "number", "multipleOf": 0.01})
    assert CheckedSchema(schema).schema == object_schema(amount={"type": "number"})


@pytest.mark.parametrize("validate_formats", [False, True], ids=["compiled", "sdk"])
def test_records_are_still_checked_against_the_rest_of_the_schema(validate_formats: bool) -> None:
    schema = object_schema(name={"type": "string", "pattern": ECMA_LETTERS})
    validator = record_validator(
        "people", schema, validate_formats=validate_formats, logger=logging.getLogger("test")
    )

    validator.validate({"name": "René"})
    with pytest.raises(InvalidRecord):
        validator.validate({"name": 5})


def test_one_warning_names_the_stream_and_every_pattern_left_out(caplog) -> None:
    schema = object_schema(
        name={"type": "string", "pattern": ECMA_LETTERS},
        city={"type": "string", "pattern": "\\p{Lu}"},
    )

    with caplog.at_level(logging.WARNING):
        record_validator("people", schema, validate_formats=False, logger=logging.getLogger("t"))

    (warning,) = caplog.messages
    assert warning.startswith("Stream 'people': these patterns are not checked")
    assert "field 'name'" in warning
    assert "field 'city'" in warning


@pytest.mark.parametrize("validate_formats", [False, True], ids=["compiled", "sdk"])
def test_a_schema_that_is_not_json_schema_is_a_named_error_saying_what_to_do(
    validate_formats: bool,
) -> None:
    schema = object_schema(name={"type": "strnig"})

    with pytest.raises(UnusableSchemaError) as caught:
        record_validator(
            "people", schema, validate_formats=validate_formats, logger=logging.getLogger("t")
        )

    message = str(caught.value)
    assert message.startswith("Stream 'people' sent a schema its records cannot be checked")
    assert "'strnig'" in message
    assert "properties.name.type" in message
    assert "`validate_records`" in message
