"""Rejected records back into Singer messages, to send them again once the cause is fixed.

    target-hubspot-contacts-replay output/rejects.jsonl | target-hubspot-contacts --config c.json

A rejects file holds each rejected record as the tap sent it (before `stream_maps`), under
the tap's stream name, so that a replay through the same settings makes the same run again
(earlier versions kept records after `stream_maps`; such files are read too). The line of a
stream's first record in a run also holds the stream's schema and key properties, which the
run's later lines for the stream share (earlier versions wrote them on every line). Records
are printed in file order, each stream's SCHEMA before its first RECORD (and again if its
schema changed); a record that `stream_maps` sent to several streams, and that more than one
of them rejected, is printed once. A file is read only as far as it reached when replay
started, so a run appending new rejects to it never feeds itself.
"""

from __future__ import annotations

import argparse
import decimal
import json
import os
import pathlib
import sys
import typing as t

import msgspec

from target_hubspot_contacts.jsontext import json_text

_NULL = msgspec.Raw(b"null")


class _Line(msgspec.Struct):
    """The parts of a rejects-file line that replay needs; values are passed through as is."""

    stream: str
    record: msgspec.Raw
    run_id: str | None = None
    schema: msgspec.Raw = _NULL  # on a stream's first line in a run (on every line, earlier)
    key_properties: list[str] | None = None
    record_number: int | None = None  # among the records its run read (not in earlier files)


class _Schema(msgspec.Struct, tag="SCHEMA", tag_field="type"):
    stream: str
    schema: msgspec.Raw
    key_properties: list[str]


class _Record(msgspec.Struct, tag="RECORD", tag_field="type"):
    stream: str
    record: msgspec.Raw


class ReplayError(Exception):
    """A rejects file that cannot be replayed; the message names the file and line."""


Description = tuple[bytes, list[str]]  # a stream's schema (as written) and key properties


def replay(paths: t.Iterable[pathlib.Path], out: t.BinaryIO) -> int:
    """Write the rejected records of these files to `out` as Singer messages; return how many."""
    decoder = msgspec.json.Decoder(_Line)
    encoder = msgspec.json.Encoder()
    printed: dict[str, Description] = {}  # last SCHEMA printed, by stream
    seen: dict[str | None, set[int]] = {}  # the record numbers printed, by run id
    replayed = 0
    for path in paths:
        described: dict[tuple[str | None, str], Description] = {}  # by run id and stream
        for number, line in _lines_present_at_start(path):
            where = f"{path}:{number}"
            entry = _decode(decoder, line, where)
            description = _description(entry, described, where)
            if entry.record_number is not None:
                printed_of_run = seen.setdefault(entry.run_id, set())
                if entry.record_number in printed_of_run:
                    continue  # rejected from another of the streams its maps made
                printed_of_run.add(entry.record_number)
            if printed.get(entry.stream) != description:
                printed[entry.stream] = description
                schema = _Schema(entry.stream, msgspec.Raw(description[0]), description[1])
                out.write(encoder.encode(schema) + b"\n")
            out.write(encoder.encode(_Record(entry.stream, entry.record)) + b"\n")
            replayed += 1
    return replayed


def _description(
    entry: _Line, described: dict[tuple[str | None, str], Description], where: str
) -> Description:
    """The schema and key properties of a line's record: its own, or those of the earlier line
    of its run and stream that held them (kept in `described`)."""
    key = (entry.run_id, entry.stream)
    if bytes(entry.schema) != b"null":
        described[key] = (bytes(entry.schema), entry.key_properties or [])
    elif key not in described:
        msg = (
            f"{where}: the line has no schema, and no earlier line of its run for stream "
            f"'{entry.stream}' has one: it was written before rejects files kept schemas, or "
            "the line that held it was removed, so it cannot be replayed as Singer messages."
        )
        raise ReplayError(msg)
    return described[key]


def _decode(decoder: msgspec.json.Decoder, line: bytes, where: str) -> _Line:
    """One line; a record holding `NaN`, `Infinity` or a lone surrogate, which msgspec refuses,
    is read as the target read it and passed on as sent, so that the target rejects it again."""
    try:
        return decoder.decode(line)
    except msgspec.DecodeError as exc:
        error = exc
    try:
        fields = json.loads(line, parse_float=decimal.Decimal)
        sent = {name: _raw(fields[name]) for name in ("record", "schema") if name in fields}
        return msgspec.convert({**fields, **sent}, _Line)
    except (ValueError, TypeError):  # msgspec.ValidationError is a ValueError
        msg = f"{where}: not a rejects-file line ({error})."
        raise ReplayError(msg) from None


def _raw(value: object) -> msgspec.Raw:
    """A value's JSON text as the target wrote it, to pass on untouched."""
    return msgspec.Raw(json_text(value).encode())


def _lines_present_at_start(path: pathlib.Path) -> t.Iterator[tuple[int, bytes]]:
    """Numbered non-blank lines, up to the size the file had when it was opened."""
    with path.open("rb") as file:
        remaining = os.fstat(file.fileno()).st_size
        for number, line in enumerate(file, start=1):
            if remaining <= 0:
                return
            remaining -= len(line)
            if line.strip():
                yield number, line


def main(argv: list[str] | None = None) -> int:
    """The `target-hubspot-contacts-replay` command."""
    parser = argparse.ArgumentParser(
        prog="target-hubspot-contacts-replay",
        description="Print the records of rejects files as Singer messages (SCHEMA, RECORD), "
        "to pipe into target-hubspot-contacts once the cause of the rejections is fixed.",
    )
    parser.add_argument(
        "files", nargs="+", type=pathlib.Path, metavar="REJECTS_FILE", help="a rejects_path file"
    )
    args = parser.parse_args(argv)
    try:
        count = replay(args.files, sys.stdout.buffer)
    except (OSError, ReplayError) as exc:
        sys.stdout.flush()
        print(f"target-hubspot-contacts-replay: {exc}", file=sys.stderr)
        return 1
    sys.stdout.flush()
    print(f"Replayed {count} rejected record(s).", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
