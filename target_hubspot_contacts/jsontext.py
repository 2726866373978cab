"""The JSON text the target writes (the rejects and outcomes files, a STATE it cannot relay as
sent), by one rule: values as the tap sent them. Numbers are exact (`1.10` stays `1.10`),
`NaN` and `Infinity` stay those tokens (Python's json reads them; strict readers refuse them,
as they refuse the tap's own line), a lone surrogate is its escape (`"\\ud800"`)."""

from __future__ import annotations

import decimal
import json
import math

import msgspec


def json_text(value: object) -> str:
    """Compact JSON for `value` (dates as ISO text, anything else unknown as its str)."""
    try:
        text = _ENCODER.encode(value)
    except (UnicodeEncodeError, ValueError):  # a lone surrogate, a non-finite Decimal
        return _exact_text(value)
    if b"null" in text and _holds_non_finite_float(value):  # msgspec wrote it as null
        return _exact_text(value)
    return text.decode()


def _exact_text(value: object) -> str:
    """The slow path for what msgspec cannot write as sent."""
    if isinstance(value, dict):
        items = (f"{_string_text(str(key))}:{_exact_text(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_exact_text(item) for item in value) + "]"
    if isinstance(value, str):
        return _string_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        value = decimal.Decimal(value)
    if isinstance(value, decimal.Decimal) and not value.is_finite():
        return "NaN" if value.is_nan() else ("-Infinity" if value.is_signed() else "Infinity")
    try:
        return _ENCODER.encode(value).decode()
    except (UnicodeEncodeError, ValueError):  # an unknown object whose text has a surrogate
        return _string_text(str(value))


def _string_text(text: str) -> str:
    # UTF-8 has no form for a lone surrogate: `backslashreplace` writes it as `\ud800`,
    # which is its JSON escape too.
    return json.dumps(text, ensure_ascii=False).encode("utf-8", "backslashreplace").decode()


def _holds_non_finite_float(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_holds_non_finite_float(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_non_finite_float(item) for item in value)
    return False


_ENCODER = msgspec.json.Encoder(decimal_format="number", enc_hook=str)
