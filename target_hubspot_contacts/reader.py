"""Reading Singer input: msgspec's fast decoder, the standard library's for what it refuses,
and each STATE value kept with the exact text the tap sent.

Input is read as bytes and taken as UTF-8, whatever the locale or PYTHONIOENCODING: a byte
that is not UTF-8 (a Latin-1 `é`) becomes a lone surrogate (`\\udce9`), which rejects the
record holding it instead of stopping the run."""

from __future__ import annotations

import decimal
import json
import sys
import typing as t

import msgspec
from singer_sdk.singerlib.encoding.base import GenericSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_hubspot_contacts.errors import TargetError
from target_hubspot_contacts.logvalues import NOT_SHOWN, values_shown
from target_hubspot_contacts.state import SentState

_decoder = msgspec.json.Decoder(float_hook=decimal.Decimal)


class _StateLine(msgspec.Struct):
    value: msgspec.Raw


class SingerInputReader(GenericSingerReader[str]):
    """Decodes each line with msgspec; a line it refuses (`NaN`, `Infinity`, a lone surrogate
    escape, bytes that are not UTF-8, an integer of thousands of digits) is decoded as the
    SDK's default reader would, so its record can be judged alone."""

    default_input = sys.stdin
    _line_number: int | None = None  # of the line being read, blank lines included

    def process_lines(
        self, file_input: t.IO[str] | None, callbacks: dict[str, t.Callable[[dict], None]]
    ) -> t.Counter[str]:
        """As the SDK reads, skipping blank lines (which carry no message) instead of failing."""
        lines = self._messages(_raw_lines(file_input or self.default_input))
        return super().process_lines(lines, callbacks)  # type: ignore[arg-type]

    def _messages(self, lines: t.Iterable[str | bytes]) -> t.Iterator[str | bytes]:
        """The lines that are not blank, counting every line for the errors that name one."""
        for number, line in enumerate(lines, 1):
            if line.strip():
                self._line_number = number
                yield line

    def deserialize_json(self, line: str | bytes) -> dict:
        """The message on one line; a STATE value remembers its text for relaying."""
        try:
            message = _decoder.decode(line)
            fast = True
        except (msgspec.DecodeError, UnicodeEncodeError, RecursionError):  # see the class doc
            message = _tolerant_decode(line, self._line_number)
            fast = False
        if not isinstance(message, dict):
            why = "is JSON but not a Singer message (an object with a type)"
            raise _unreadable(self._line_number, why, _text(line))
        kind = message.get("type")
        if kind == "STATE":
            value = message.get("value")
            if isinstance(value, dict):
                text = bytes(msgspec.json.decode(line, type=_StateLine).value) if fast else None
                message["value"] = SentState(value, text.decode() if text else None)
        elif kind == "RECORD" and not isinstance(message.get("record"), dict):
            message["record"] = NotAnObject(message.get("record"))
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


def _raw_lines(stream: t.IO[str]) -> t.Iterable[str | bytes]:
    """The stream's lines as bytes when it has them underneath (stdin, a file), so that no
    locale decodes them; as text otherwise (a StringIO)."""
    binary = getattr(stream, "buffer", None)
    return stream if binary is None else binary


class UnreadableLineError(InvalidInputLine, TargetError):
    """A line that holds no Singer message this target can read: nothing tells which stream
    or record it held, so the run stops (a named error: its message is the whole story)."""


class NotAnObject(dict):
    """Stands for a RECORD message's record that is not a JSON object (`null`, an array, a
    string, or none at all), so that the SDK passes it on and the sink rejects it alone;
    `sent` is what the message held."""

    def __init__(self, sent: object) -> None:
        super().__init__()
        self.sent = sent


def _text(line: str | bytes) -> str:
    """A line as text, without its end: bytes that are not UTF-8 become lone surrogates."""
    text = line.decode("utf-8", "surrogateescape") if isinstance(line, bytes) else line
    return text.rstrip("\r\n")  # so that an error's position counts within this line


def _tolerant_decode(line: str | bytes, number: int | None) -> dict:
    text = _text(line)
    try:
        return json.loads(text, parse_float=decimal.Decimal, parse_int=_integer)
    except ValueError as exc:
        why = f"is not JSON ({exc})"
    except RecursionError:
        why = (
            "nests objects or arrays about 1,000 levels deep, deeper than any JSON reader here "
            "can read"
        )
    raise _unreadable(number, why, text) from None


def _unreadable(number: int | None, why: str, text: str | None = None) -> UnreadableLineError:
    where = f"Input line {number}" if number else "An input line"
    shown = f" The line: {_quoted(text)}" if text is not None else ""
    return UnreadableLineError(
        f"{where} {why}: no message can be read from it, so the run stops. Fix the tap's "
        f"output (or the step before this target) and rerun.{shown}"
    )


def _integer(digits: str) -> int | decimal.Decimal:
    try:
        return int(digits)
    except ValueError:  # more digits than Python's int() takes (4,300 unless set otherwise)
        return decimal.Decimal(digits)


def _quoted(text: str) -> str:
    """The line as an error may quote it: shortened, and only if values may be shown."""
    if not values_shown():
        return NOT_SHOWN
    shown = text if len(text) <= 200 else text[:200] + "..."
    return shown.encode("utf-8", "backslashreplace").decode()
