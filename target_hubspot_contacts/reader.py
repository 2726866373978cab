"""Reading Singer input: msgspec's fast decoder, the standard library's for what it refuses,
and each STATE value kept with the exact text the tap sent."""

from __future__ import annotations

import decimal
import json
import sys
import typing as t

import msgspec
from singer_sdk.singerlib.encoding.base import GenericSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_hubspot_contacts.logvalues import NOT_SHOWN, values_shown
from target_hubspot_contacts.state import SentState

_decoder = msgspec.json.Decoder(float_hook=decimal.Decimal)


class _StateLine(msgspec.Struct):
    value: msgspec.Raw


class SingerInputReader(GenericSingerReader[str]):
    """Decodes each line with msgspec; a line it refuses (`NaN`, `Infinity`, a lone surrogate
    escape) is decoded as the SDK's default reader would, so its record can be judged alone."""

    default_input = sys.stdin

    def process_lines(
        self, file_input: t.IO[str] | None, callbacks: dict[str, t.Callable[[dict], None]]
    ) -> t.Counter[str]:
        """As the SDK reads, skipping blank lines (which carry no message) instead of failing."""
        lines = file_input or self.default_input
        return super().process_lines((line for line in lines if line.strip()), callbacks)

    def deserialize_json(self, line: str) -> dict:
        """The message on one line; a STATE value remembers its text for relaying."""
        try:
            message = _decoder.decode(line)
            fast = True
        except msgspec.DecodeError:
            message = _tolerant_decode(line)
            fast = False
        if isinstance(message, dict) and message.get("type") == "STATE":
            value = message.get("value")
            if isinstance(value, dict):
                text = bytes(msgspec.json.decode(line, type=_StateLine).value) if fast else None
                message["value"] = SentState(value, text.decode() if text else None)
        return message

    @staticmethod
    def assert_line_requires(line_dict: dict, requires: set[str]) -> None:
        """As the SDK checks a message's keys; its error quotes the message only if values may
        be shown."""
        if values_shown() or requires.issubset(line_dict):
            GenericSingerReader.assert_line_requires(line_dict, requires)
            return
        missing = ", ".join(sorted(requires - set(line_dict)))
        msg = f"Line is missing required {missing} key(s) (the line is {NOT_SHOWN})"
        raise InvalidInputLine(msg)


def _tolerant_decode(line: str) -> dict:
    try:
        return json.loads(line, parse_float=decimal.Decimal)
    except ValueError as exc:
        shown = line if len(line) <= 200 else line[:200] + "..."
        if not values_shown():
            shown = f"the line is {NOT_SHOWN}"
        msg = f"Unable to parse line as JSON ({exc}): {shown}"
        raise InvalidInputLine(msg) from None
