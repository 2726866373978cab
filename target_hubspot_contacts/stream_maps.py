"""The SDK's `stream_maps`, one record at a time: an expression that fails on a record (a null
where a string was expected, a value `int()` cannot read) rejects that record alone, with the
reason, instead of stopping every run at the same record."""

from __future__ import annotations

import typing as t

from singer_sdk.exceptions import MapExpressionError, StreamMapConfigError

from target_hubspot_contacts.logvalues import NOT_SHOWN
from target_hubspot_contacts.outcomes import Reason

if t.TYPE_CHECKING:
    from singer_sdk.mapper import PluginMapper, StreamMap

STREAM_MAP_FAILED = "STREAM_MAP_FAILED"

# Told the map and the error when a map fails on a record; raises to stop the run instead.
OnFailure = t.Callable[["StreamMap", Exception], None]


class RecordByRecordStreamMap:
    """A stream map whose failure on a record goes to `on_failure`; that record then does not
    reach the map's stream (the stream's other maps still see it). Otherwise the map itself."""

    def __init__(self, inner: StreamMap, on_failure: OnFailure) -> None:
        self.inner = inner
        self._on_failure = on_failure

    def transform(self, record: dict) -> dict | None:
        """The map's record, or None when it filters the record out or fails on it."""
        try:
            return self.inner.transform(record)
        except StreamMapConfigError:
            raise  # the settings are wrong, not this record
        except Exception as error:  # whatever the expression raised, on this record
            self._on_failure(self.inner, error)
            return None

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self.inner, name)


def map_record_by_record(mapper: PluginMapper, stream: str, on_failure: OnFailure) -> None:
    """Make the maps of a stream the mapper has just registered fail record by record."""
    mapper.stream_maps[stream] = [
        stream_map
        if isinstance(stream_map, RecordByRecordStreamMap)
        else RecordByRecordStreamMap(stream_map, on_failure)
        for stream_map in mapper.stream_maps.get(stream, [])
    ]


def map_failure_reason(stream: str, alias: str, error: Exception) -> Reason:
    """Why a record `stream_maps` failed on is rejected: the stream, and the expression's error
    (in `summary`, without any message that may quote a value)."""
    onto = f" (mapped to stream '{alias}')" if alias != stream else ""
    where = f"`stream_maps` failed on this record of stream '{stream}'{onto}"
    message = f"{where}: {_error_text(error)}"
    summary = f"{where}: {_value_free_error_text(error)}"
    return Reason.of_record(STREAM_MAP_FAILED, message, summary)


def _error_text(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    cause = error.__cause__
    return f"{text} ({type(cause).__name__}: {cause})" if cause is not None else text


def _value_free_error_text(error: BaseException) -> str:
    """The SDK's own expression error names the expression (from the settings) and never a
    value; any other error's message may quote one."""
    if isinstance(error, MapExpressionError):
        cause = error.__cause__
        return f"{type(error).__name__}: {error}" + (
            f" ({type(cause).__name__})" if cause is not None else ""
        )
    return f"{type(error).__name__} (its message is {NOT_SHOWN})"
