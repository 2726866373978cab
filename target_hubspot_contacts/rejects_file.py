"""The rejects file (`rejects_path`): a line per rejected record, with its reason, and on the
first of a stream in a run the stream's schema, so that `target-hubspot-contacts-replay` can
send them again. Records are kept as the tap sent them, before `stream_maps`, so that a replay
through the same settings makes the run again."""

from __future__ import annotations

import dataclasses
import datetime
import os
import typing as t

from target_hubspot_contacts.files import open_private_for_append
from target_hubspot_contacts.jsontext import json_text
from target_hubspot_contacts.logvalues import record_ref
from target_hubspot_contacts.tally import RejectTally

if t.TYPE_CHECKING:
    import logging

    from target_hubspot_contacts.outcomes import Reason

# What a stream's records look like: its schema and key properties.
Description = tuple[dict, list[str]]


@dataclasses.dataclass(frozen=True)
class SentRecord:
    """A record as the tap sent it, before `stream_maps`: what the rejects file keeps."""

    stream: str  # the tap's stream name
    record: object  # a dict; what the message held when that is not an object (null)
    number: int  # among the RECORD messages the run read: 1 for the first


class Rejects:
    """Records rejected in this run: appended to the rejects file when one is set, else logged.

    A rejected record counts as settled (STATE may move past it) only once it is on disk:
    `record` writes lines, `sync` puts every line written so far on disk, so that many
    rejections can share one fsync. A dry run writes no file, but settles as the real run would.
    The line of a stream's first rejected record in the run (and the first after its schema
    changed) also holds the stream's schema and key properties. Callers serialize the calls.
    """

    def __init__(
        self,
        path: str | None,
        logger: logging.Logger,
        *,
        run_id: str = "",
        limit: int = 0,
        dry_run: bool = False,
    ) -> None:
        self.path = path
        self.limit = limit  # `max_rejects`: STATE stops before the first record past it
        self.dry_run = dry_run
        self._run_id = run_id
        self._file: t.TextIO | None = None
        self._unsynced = False  # lines written since the last fsync
        self.tally = RejectTally(logger, dry_run=dry_run)
        self._streams: dict[str, Description] = {}
        self._written: dict[str, Description] = {}  # the schema last written, by stream

    def describe(self, stream: str, schema: dict, key_properties: list[str]) -> None:
        """The schema and key properties of the tap's stream from now on (before `stream_maps`)."""
        self._streams[stream] = (schema, key_properties)

    def describes(self, stream: str) -> Description | None:
        """The schema and key properties known for a stream, if any."""
        return self._streams.get(stream)

    @property
    def durable(self) -> bool:
        """Whether rejected records are kept on disk (and so may be passed by STATE)."""
        return self.path is not None

    def record(self, entries: list[tuple[str, object, SentRecord, Reason, int]]) -> None:
        """Keep (stream, id, record as sent, reason, position in its stream) entries, `stream`
        being the one the record reached after `stream_maps`: their lines are written now, and
        on disk once `sync` returns."""
        for stream, id_value, _sent, reason, position in entries:
            self.tally.add(stream, record_ref(id_value, position), reason)
        if self.path is None or self.dry_run or not entries:
            return
        if self._file is None:
            self._file = open_private_for_append(self.path)
        now = datetime.datetime.now(datetime.timezone.utc).isoformat()
        lines = []
        for stream, id_value, sent, reason, position in entries:
            line = {
                "run_id": self._run_id,
                "rejected_at": now,
                "stream": sent.stream,
                **({"mapped_stream": stream} if stream != sent.stream else {}),
                "position": position,
                "id": id_value,
                "reason": reason.as_dict(),
                "record_number": sent.number,
                "record": sent.record,
                **self._description_once(sent.stream),
            }
            lines.append(json_text(line))
        self._file.write("\n".join(lines) + "\n")
        self._file.flush()
        self._unsynced = True

    def sync(self) -> None:
        """Put every line written so far on disk (one fsync for all of them)."""
        if self._unsynced and self._file is not None:
            os.fsync(self._file.fileno())
            self._unsynced = False

    def _description_once(self, stream: str) -> dict:
        """The stream's schema and key properties, unless a line of this run already holds them."""
        described = self._streams.get(stream)
        if described is None or self._written.get(stream) is described:
            return {}
        self._written[stream] = described
        return {"schema": described[0], "key_properties": described[1]}

    def report(self) -> None:
        """Log how many rejected records went unlogged, and the tally by code and property."""
        self.tally.report(kept_in=self.path, dry_run=self.dry_run)

    def close(self) -> None:
        """Close the rejects file if it was opened."""
        if self._file is not None:
            self._file.close()
            self._file = None
