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
    except (UnicodeEncodeError, ValueError, RecursionError):  # a lone surrogate, a non-finite
        return _exact_text(value)  # Decimal, nesting deeper than msgspec goes from here
    if b"null" in text and _holds_non_finite_float(value):  # msgspec wrote it as null
        return _exact_text(value)
    return text.decode()


class _Written(str):
    """Text already in its JSON form, waiting its turn in _exact_text."""


def _exact_text(value: object) -> str:
    """The slow path for what msgspec cannot write as sent; a loop, not recursion, so that
    any nesting the input reader could read can be written."""
    parts: list[str] = []
    pending: list[object] = [value]  # popped from the end
    while pending:
        item = pending.pop()
        if type(item) is _Written:
            parts.append(item)
        elif isinstance(item, dict):
            pending.append(_Written("}"))
            for index, (key, member) in reversed(list(enumerate(item.items()))):
                pending.append(member)
                pending.append(_Written(("," if index else "") + _string_text(str(key)) + ":"))
            pending.append(_Written("{"))
        elif isinstance(item, (list, tuple)):
            pending.append(_Written("]"))
            for index, member in reversed(list(enumerate(item))):
                pending.append(member)
                if index:
                    pending.append(_Written(","))
            pending.append(_Written("["))
        else:
            parts.append(_scalar_text(item))
    return "".join(parts)


def _scalar_text(value: object) -> str:
    if isinstance(value, str):
        return _string_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        value = decimal.Decimal(value)
    if isinstance(value, decimal.Decimal) and not value.is_finite():
        return "NaN" if value.is_nan() else ("-Infinity" if value.is_signed() else "Infinity")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(decimal.Decimal(value))  # also past the 4,300 digits int's own str refuses
    try:
        return _ENCODER.encode(value).decode()
    except (UnicodeEncodeError, ValueError):  # an unknown object whose text has a surrogate
        return _string_text(str(value))


def _string_text(text: str) -> str:
    # UTF-8 has no form for a lone surrogate: `backslashreplace` writes it as `\ud800`,
    # which is its JSON escape too.
    return json.dumps(text, ensure_ascii=False).encode("utf-8", "backslashreplace").decode()


def _holds_non_finite_float(value: object) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
    return False


_ENCODER = msgspec.json.Encoder(decimal_format="number", enc_hook=str)
