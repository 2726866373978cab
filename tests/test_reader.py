"""Unit tests for reading Singer input lines (reader.py)."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from target_hubspot_contacts.errors import TargetError
from target_hubspot_contacts.reader import NotAnObject, SingerInputReader, UnreadableLineError
from target_hubspot_contacts.state import SentState


def read(line: bytes | str) -> dict:
    return SingerInputReader().deserialize_json(line)


def test_a_byte_that_is_not_utf8_becomes_a_lone_surrogate_in_its_value() -> None:
    message = read(b'{"type":"RECORD","stream":"s","record":{"name":"Ren\xe9"}}\n')
    assert message["record"] == {"name": "Ren\udce9"}


def test_utf8_text_is_read_as_such() -> None:
    message = read('{"type":"RECORD","stream":"s","record":{"name":"Zoë 😀"}}\n'.encode())
    assert message["record"] == {"name": "Zoë 😀"}


def test_a_state_is_kept_with_the_text_the_tap_sent() -> None:
    message = read(b'{"type":"STATE","value":{"bookmark":1.10, "at": 1e5}}\n')
    assert isinstance(message["value"], SentState)
    assert message["value"].text == '{"bookmark":1.10, "at": 1e5}'


def test_an_integer_of_thousands_of_digits_is_read_as_a_decimal() -> None:
    line = b'{"type":"RECORD","stream":"s","record":{"n":' + b"9" * 5000 + b"}}"
    assert read(line)["record"]["n"] == Decimal("9" * 5000)


@pytest.mark.parametrize(
    ("record", "sent"),
    [
        pytest.param(b"null", None, id="null"),
        pytest.param(b"[1,2]", [1, 2], id="array"),
        pytest.param(b'"x"', "x", id="string"),
    ],
)
def test_a_record_that_is_not_an_object_is_passed_on_to_be_rejected(
    record: bytes, sent: object
) -> None:
    message = read(b'{"type":"RECORD","stream":"s","record":' + record + b"}")
    assert isinstance(message["record"], NotAnObject)
    assert (message["record"], message["record"].sent) == ({}, sent)


def test_a_record_message_without_a_record_is_passed_on_to_be_rejected() -> None:
    message = read(b'{"type":"RECORD","stream":"s"}')
    assert isinstance(message["record"], NotAnObject)


@pytest.mark.parametrize(
    ("lines", "says"),
    [
        pytest.param(
            [b'{"type":"SCHEMA"}\n', b"\n", b'{"type": "RECORD", "stream"\n'],
            "Input line 3 is not JSON (Expecting ':' delimiter",
            id="not-json",
        ),
        pytest.param([b"[1, 2]\n"], "Input line 1 is JSON but not a Singer message", id="array"),
        pytest.param(
            [b'{"type":"RECORD","stream":"s","record":' + b"[" * 5000 + b"]" * 5000 + b"}\n"],
            "Input line 1 nests objects or arrays about 1,000 levels deep",
            id="too-deep",
        ),
    ],
)
def test_a_line_no_message_can_be_read_from_is_a_named_error_naming_its_line(
    lines: list[bytes], says: str
) -> None:
    reader = SingerInputReader()
    stream = io.TextIOWrapper(io.BytesIO(b"".join(lines)), encoding="ascii")

    with pytest.raises(UnreadableLineError) as caught:
        reader.process_lines(stream, {"SCHEMA": [].append})

    assert isinstance(caught.value, TargetError)  # its message is the run's last line
    assert str(caught.value).startswith(says)
    assert "Fix the tap's output" in str(caught.value)


def test_lines_are_read_as_utf8_bytes_whatever_the_stream_encoding() -> None:
    seen = []
    stream = io.TextIOWrapper(
        io.BytesIO('{"type":"RECORD","stream":"s","record":{"n":"Zoë"}}\n'.encode()),
        encoding="latin-1",
    )

    SingerInputReader().process_lines(stream, {"RECORD": seen.append})

    assert seen[0]["record"] == {"n": "Zoë"}
