"""Singer streams: each record is checked, mapped to contact properties and handed to the writer."""

from __future__ import annotations

import sys
import typing as t

from singer_sdk.exceptions import InvalidRecord
from singer_sdk.helpers._typing import get_datelike_property_type
from singer_sdk.sinks import BatchSink

from target_hubspot_contacts.errors import ConfigurationError
from target_hubspot_contacts.logvalues import shown
from target_hubspot_contacts.mapping import RecordRejected
from target_hubspot_contacts.outcomes import Problem, Reason
from target_hubspot_contacts.reader import NotAnObject
from target_hubspot_contacts.validation import record_validator

if t.TYPE_CHECKING:
    from singer_sdk import Target
    from singer_sdk.sinks.core import BaseJSONSchemaValidator

    from target_hubspot_contacts.rejects_file import SentRecord
    from target_hubspot_contacts.run import RunningTarget
    from target_hubspot_contacts.writer import Received


class ContactsSink(BatchSink):
    """One Singer stream: maps each record to contact properties and hands it to the writer."""

    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict,
        key_properties: t.Sequence[str] | None,
    ) -> None:
        # Read (per record) by the SDK, starting in its __init__: settle it first.
        self._archive_deleted = bool(target.config.get("archive_deleted"))
        super().__init__(target, stream_name, schema, key_properties)
        self._run = t.cast("RunningTarget", target).run
        self._mapper = self._run.portal.mapper_for(stream_name, schema)
        # Of the record being processed: what is wrong, and the same without its values.
        self._schema_violation: tuple[str, str] | None = None
        # The SDK parses date fields as ISO strings only; a number there (an epoch) is left
        # for mapping to read. It parses only the fields its schema calls dates, and stops at
        # a field schema it cannot read (`true`, `"type": 5`): it gets these as they are, the
        # others as `{}`.
        datelike = {
            field: field_schema
            for field, field_schema in (self.schema.get("properties") or {}).items()
            if _is_datelike(field_schema)
        }
        self._date_fields = tuple(datelike)
        self._parse_schema = {
            **self.schema,
            "properties": {field: datelike.get(field, {}) for field in self.schema["properties"]},
        }

    def get_validator(self) -> BaseJSONSchemaValidator | None:
        """The compiled validator where the schema allows; the SDK's own otherwise."""
        if not self.validate_schema:
            return None
        return record_validator(
            self.stream_name,
            self.schema,
            validate_formats=self.validate_field_string_format,
            logger=self.logger,
        )

    @property
    def include_sdc_metadata_properties(self) -> bool:
        """Keep `_sdc_deleted_at` (the SDK strips it otherwise) when deletions archive contacts;
        never otherwise (`add_record_metadata` is refused: metadata is never contact data)."""
        return self._archive_deleted

    def _validate_and_parse(self, record: dict) -> dict:
        """As the SDK does, except that a record breaking its schema is rejected, not the run."""
        if isinstance(record, NotAnObject):
            self._schema_violation = _violation(
                "is not a JSON object", f": it is {shown(record.sent)}"
            )
            return record
        try:
            if self._validator is not None:
                self._validator.validate(record)
        except InvalidRecord as exc:
            self._schema_violation = _violation(
                "does not match the stream's schema", f": {exc.error_message}"
            )
            return record
        except Exception as exc:  # one odd value must not stop the run
            self._schema_violation = _violation(
                "could not be checked against the stream's schema",
                f" ({type(exc).__name__}: {exc})",
            )
            return record
        not_text = {
            field: record.pop(field)
            for field in self._date_fields
            if not isinstance(record.get(field), (str, type(None)))
        }
        try:
            self._parse_timestamps_in_record(
                record=record, schema=self._parse_schema, treatment=self.datetime_error_treatment
            )
        except ValueError as exc:
            self._schema_violation = _violation("has an unparseable date or time", f": {exc}")
        record.update(not_text)
        return record

    def _singer_validate_message(self, record: dict) -> None:
        """A record missing its key properties is rejected alone (the SDK would stop the run)."""
        missing = [key for key in self._key_properties if key not in record]
        if missing and self._schema_violation is None:
            self._schema_violation = _violation(f"is missing its key properties {missing}", "")

    def process_batch_files(self, encoding: object, files: t.Sequence[str]) -> None:  # noqa: ARG002
        """BATCH messages would bypass mapping, validation and STATE bookkeeping: refuse them."""
        msg = (
            f"Stream '{self.stream_name}' sent a BATCH message ({len(files)} file(s)); this "
            "target takes RECORD messages only. Turn off the tap's `batch_config`."
        )
        raise ConfigurationError(msg)

    @property
    def max_size(self) -> int:
        """The writer forms calls itself; the SDK never needs to drain this sink for size."""
        return sys.maxsize

    def process_record(self, record: dict, context: dict) -> None:  # noqa: ARG002
        """Map the record and queue it, or reject it here if HubSpot would refuse it."""
        read_id = record.get(self._mapper.id_field)
        received = self._receive(read_id)
        if self._schema_violation is not None:
            reason = _invalid_record_reason(*self._schema_violation)
            self._schema_violation = None
            self._run.writer.reject(received, read_id, reason)
            return
        try:
            if self._archive_deleted and record.get("_sdc_deleted_at"):
                id_value = self._mapper.id_value(record)
                self._run.writer.add(received, id_value, {}, archive=True)
                return
            id_value, properties = self._mapper.map(record)
        except RecordRejected as rejection:
            self._run.writer.reject(received, read_id, _local_reason(rejection))
            return
        self._run.writer.add(received, id_value, properties)

    def reject_unmapped(self, reason: Reason) -> None:
        """Reject the record being read, which `stream_maps` failed on before it reached this
        stream (so it has no id here)."""
        self.tally_record_read()  # as for any record: the drain at the end then settles it
        self._run.writer.reject(self._receive(None), None, reason)

    def _receive(self, id_value: object) -> Received:
        """Number the record being read; the rejects file keeps it as the tap sent it."""
        sent = t.cast("SentRecord", self._run.received)  # set by the target for each RECORD
        return self._run.writer.receive(self.stream_name, id_value, sent)

    def process_batch(self, context: dict) -> None:  # noqa: ARG002
        """Send every pending contact and wait until HubSpot answered for all of them."""
        self._run.writer.flush()


def _is_datelike(field_schema: object) -> bool:
    """Whether the SDK reads a field schema as a date, date-time or time (never for a schema
    of a shape it cannot read)."""
    try:
        return isinstance(field_schema, dict) and bool(get_datelike_property_type(field_schema))
    except (TypeError, AttributeError, KeyError):
        return False


def _violation(what: str, detail: str) -> tuple[str, str]:
    """How a record breaks its schema: in full (`detail` may quote values), and without values."""
    return f"Record {what}{detail}", f"the record {what}"


def _invalid_record_reason(message: str, summary: str) -> Reason:
    """The reason for a record that breaks its stream's schema."""
    return Reason.of_record("INVALID_RECORD", message, summary)


def _local_reason(rejection: RecordRejected) -> Reason:
    """The reason for a record the mapper refused, naming every bad value in it."""
    problems = tuple(
        Problem(
            code=problem.code,
            property=problem.property,
            message=problem.reason,
            field=problem.field,
            value=problem.value,
            summary=problem.summary,
        )
        for problem in rejection.problems
    )
    return Reason(
        source="local",
        message=str(rejection),
        code=rejection.code,
        property=rejection.property,
        field=rejection.field,
        problems=problems,
    )
