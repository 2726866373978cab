"""The one JSON encoder for what the target writes: values as the tap sent them."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from target_hubspot_contacts.jsontext import json_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(Decimal("1.10"), "1.10", id="trailing-zero"),
        pytest.param(Decimal("12345678901234567.89"), "12345678901234567.89", id="beyond-float"),
        pytest.param(Decimal("1E+2"), "1E+2", id="exponent"),
        pytest.param(0.1, "0.1", id="float"),
        pytest.param(float("nan"), "NaN", id="nan"),
        pytest.param(float("-inf"), "-Infinity", id="minus-infinity"),
        pytest.param(Decimal("NaN"), "NaN", id="decimal-nan"),
        pytest.param(Decimal("Infinity"), "Infinity", id="decimal-infinity"),
        pytest.param("Half \ud800 a pair", '"Half \\ud800 a pair"', id="lone-surrogate"),
        pytest.param("Grace \U0001f600", '"Grace \U0001f600"', id="emoji-as-utf8"),
        pytest.param(dt.date(2024, 5, 1), '"2024-05-01"', id="date"),
        pytest.param(None, "null", id="null"),
    ],
)
def test_a_value_is_written_as_the_tap_sent_it(value: object, text: str) -> None:
    assert json_text(value) == text


def test_the_exact_forms_hold_deep_inside_a_line_beside_ordinary_values() -> None:
    line = {
        "id": Decimal("1.10"),
        "record": {"ltv": float("nan"), "big": Decimal("12345678901234567.89"), "n": None},
        "tags": ["\ud800", 1],
    }

    text = json_text(line)

    assert text == (
        '{"id":1.10,"record":{"ltv":NaN,"big":12345678901234567.89,"n":null},"tags":["\\ud800",1]}'
    )
    assert json.loads(text, parse_float=Decimal)["record"]["big"] == line["record"]["big"]


def nested_lists(depth: int, inner: object) -> object:
    value = inner
    for _ in range(depth):
        value = [value, {"k": None}]
    return value


@pytest.mark.parametrize("inner", ["x", float("nan"), "\ud800"], ids=["plain", "nan", "surrogate"])
def test_nesting_deeper_than_msgspec_goes_is_still_written(inner: object) -> None:
    value = nested_lists(3000, inner)

    text = json_text(value)

    assert text.startswith("[" * 3000)
    assert text.endswith(',{"k":null}]' * 3)
    assert text.count("[") == 3000


def test_an_integer_past_the_text_limit_of_python_ints_is_written_whole() -> None:
    assert json_text([10**5000]) == "[1" + "0" * 5000 + "]"
