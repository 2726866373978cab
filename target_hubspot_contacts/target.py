"""The target: settings schema and the wiring of client, portal, writer and STATE."""

from __future__ import annotations

import json
import os
import sys
import typing as t

from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecReader
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.target_base import Target

from target_hubspot_contacts.auth import token_from_config
from target_hubspot_contacts.client import HubSpotClient
from target_hubspot_contacts.contacts import WRITE_MODES, ContactsAPI
from target_hubspot_contacts.errors import (
    ConfigurationError,
    TargetError,
    UnwrittenRecordsError,
)
from target_hubspot_contacts.outcomes import Rejects, RunCounts, report_run
from target_hubspot_contacts.portal import Portal
from target_hubspot_contacts.sinks import (
    MAX_INPUTS_PER_CALL,
    ContactsSink,
    ContactWriter,
    TerminationRequested,
)
from target_hubspot_contacts.state import StateTracker

if t.TYPE_CHECKING:
    import logging
    from types import FrameType

    from target_hubspot_contacts.auth import OAuthToken, StaticToken


class _Load:
    """The parts one run shares between its sinks."""

    def __init__(
        self,
        config: t.Mapping[str, t.Any],
        token: StaticToken | OAuthToken,
        logger: logging.Logger,
        emit_state: t.Callable[[dict], None],
    ) -> None:
        self.dry_run = bool(config["dry_run"])
        self._finished = False
        self.client = HubSpotClient(
            api_url=config["api_url"],
            token=token,
            logger=logger,
            timeout=float(config["request_timeout"]),
            max_retry_seconds=float(config["max_retry_seconds"]),
        )
        # A dry run loads nothing, so it has nothing to checkpoint.
        self.tracker = StateTracker(_discard if self.dry_run else emit_state)
        self.counts = RunCounts()
        self.rejects = Rejects(config.get("rejects_path"), logger)
        self.portal = Portal(
            self.client,
            id_property=config["id_property"],
            property_mapping=config.get("property_mapping") or {},
            unmapped_fields=config["unmapped_fields"],
            create_missing_properties=config["create_missing_properties"],
            null_values=config["null_values"],
            logger=logger,
        )
        api = ContactsAPI(
            self.client,
            id_property=config["id_property"],
            write_mode=config["write_mode"],
            dry_run=self.dry_run,
            logger=logger,
        )
        self.writer = ContactWriter(
            api=api,
            tracker=self.tracker,
            rejects=self.rejects,
            counts=self.counts,
            batch_size=config.get("batch_size_rows") or MAX_INPUTS_PER_CALL,
            max_concurrency=config["max_concurrency"],
            logger=logger,
        )

    def finish(self, logger: logging.Logger) -> None:
        """Let calls in flight finish, report once, release files; later calls do nothing."""
        if self._finished:
            return
        self._finished = True
        self.writer.close()
        report_run(logger, self.counts, self.client.stats, dry_run=self.dry_run)
        self.rejects.close()


class TargetHubSpotContacts(Target):
    """Upserts contacts into HubSpot from any Singer tap."""

    name = "target-hubspot-contacts"
    package_name = "target-hubspot-contacts"
    default_sink_class = ContactsSink
    message_reader_class = MsgSpecReader  # the SDK's faster reader; same Decimal semantics

    config_jsonschema = th.PropertiesList(
        th.Property(
            "access_token",
            th.StringType,
            secret=True,
            description="Private-app or service-key token (`pat-...`). Or use OAuth below.",
        ),
        th.Property("client_id", th.StringType, description="OAuth app client id."),
        th.Property(
            "client_secret", th.StringType, secret=True, description="OAuth app client secret."
        ),
        th.Property(
            "refresh_token",
            th.StringType,
            secret=True,
            description="OAuth refresh token; access tokens are refreshed ahead of expiry.",
        ),
        th.Property(
            "api_url",
            th.StringType,
            default="https://api.hubapi.com",
            description="HubSpot API base URL (point it at the local emulator to try things).",
        ),
        th.Property(
            "id_property",
            th.StringType,
            default="email",
            description="Contact property to upsert by: `email` or a unique-value property.",
        ),
        th.Property(
            "property_mapping",
            th.ObjectType(additional_properties=th.StringType),
            description="Record field -> HubSpot property name; wins over name matching.",
        ),
        th.Property(
            "unmapped_fields",
            th.StringType(allowed_values=["ignore", "fail"]),
            default="ignore",
            description="Fields matching no property: `ignore` (warn once) or `fail`.",
        ),
        th.Property(
            "create_missing_properties",
            th.BooleanType,
            default=False,
            description="Create custom properties for unmatched fields, typed from the schema.",
        ),
        th.Property(
            "null_values",
            th.StringType(allowed_values=["skip", "clear"]),
            default="skip",
            description="`skip`: a null never overwrites CRM data; `clear`: a null empties it.",
        ),
        th.Property(
            "write_mode",
            th.StringType(allowed_values=list(WRITE_MODES)),
            default="upsert",
            description="`upsert`, `update_only` (never creates), `create_only` (never modifies).",
        ),
        th.Property(
            "archive_deleted",
            th.BooleanType,
            default=False,
            description="Archive the contact of a record whose `_sdc_deleted_at` is set.",
        ),
        th.Property(
            "dry_run",
            th.BooleanType,
            default=False,
            description="Map, check and look up contacts; report what would happen, write nothing.",
        ),
        th.Property(
            "rejects_path",
            th.StringType,
            description="JSONL file that rejected records are appended to, with their reason.",
        ),
        th.Property(
            "max_rejects",
            th.IntegerType,
            default=0,
            description="Rejected records tolerated before the run exits non-zero.",
        ),
        th.Property(
            "batch_size_rows",
            th.IntegerType(minimum=1, maximum=MAX_INPUTS_PER_CALL),
            default=MAX_INPUTS_PER_CALL,
            description="Contacts per upsert call (HubSpot allows at most 100).",
        ),
        th.Property(
            "max_concurrency",
            th.IntegerType(minimum=1, maximum=32),
            default=8,
            description="Upsert calls in flight at once (paced by the account's rate limit).",
        ),
        th.Property(
            "request_timeout",
            th.NumberType,
            default=60,
            description="Seconds to wait for one HubSpot answer before retrying.",
        ),
        th.Property(
            "max_retry_seconds",
            th.NumberType,
            default=600,
            description="Total seconds one call may spend retrying transient failures.",
        ),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._load: _Load | None = None
        self._stopping = False
        try:
            timeout = float(self.config["request_timeout"])
            self._token = token_from_config(self.config, timeout=timeout, logger=self.logger)
        except ConfigurationError as exc:
            raise ConfigValidationError(str(exc), errors=[str(exc)]) from None

    @property
    def max_parallelism(self) -> int:
        """Every sink feeds one writer, so draining sinks in parallel gains nothing."""
        return 1

    @max_parallelism.setter
    def max_parallelism(self, new_value: int) -> None:
        """Ignored: see the getter."""

    @property
    def load(self) -> _Load:
        """The run's client, portal, writer and STATE tracker, built on first use."""
        if self._load is None:
            self._load = _Load(self.config, self._token, self.logger, _write_state)
        return self._load

    def _process_state_message(self, message_dict: dict) -> None:
        """Hold each STATE until the records before it are in HubSpot (the SDK would not)."""
        self._assert_line_requires(message_dict, requires={"value"})
        self.load.tracker.receive_state(message_dict["value"])

    def process_endofpipe(self) -> None:
        """Flush everything, report, and fail if any record was neither written nor rejected."""
        super().process_endofpipe()
        if self._load is None:
            return
        self._load.finish(self.logger)
        self._raise_if_incomplete()

    def listen(self, file_input: t.IO[str] | None = None) -> None:
        """Read messages until the end; stop cleanly on signals and on user-facing errors."""
        try:
            super().listen(file_input)
        except TerminationRequested as stop:
            self._exit_after_signal(stop.signum)
        except TargetError as exc:
            self.logger.error("%s", exc)  # the message is the whole story: no traceback
            if self._load is not None:
                self._load.finish(self.logger)
            sys.exit(1)

    def _raise_if_incomplete(self) -> None:
        problem = self._what_is_incomplete()
        if problem:
            raise UnwrittenRecordsError(problem)

    def _what_is_incomplete(self) -> str | None:
        """Why the run must not exit 0, or None when every record was written or kept."""
        load = self.load
        unsettled = load.tracker.unsettled
        if unsettled:
            return (
                f"{unsettled} record(s) were neither written to HubSpot nor kept in a rejects "
                "file (see the errors above); STATE stops before the first of them. Rerun from "
                "the last STATE; set `rejects_path` to keep rejected records and move past them."
            )
        max_rejects = int(self.config.get("max_rejects") or 0)
        if load.counts.rejected > max_rejects:
            return (
                f"{load.counts.rejected} record(s) were rejected (kept in {load.rejects.path}), "
                f"more than `max_rejects` ({max_rejects}). Every valid record was "
                + ("checked (dry run)." if load.dry_run else "written.")
            )
        return None

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:  # noqa: ARG002
        """First signal: finish the calls in flight, then stop. Second signal: stop now."""
        if self._stopping:
            os._exit(128 + signum)
        self._stopping = True
        self.logger.warning("Received signal %d: finishing calls in flight, then stopping.", signum)
        if self._load is not None and self._load.writer.busy:
            self._load.writer.stop_signal = signum
            return
        raise TerminationRequested(signum)

    def _exit_after_signal(self, signum: int) -> t.NoReturn:
        if self._load is None:
            sys.exit(0)
        try:
            self._load.writer.finish_in_flight()
        except TargetError as exc:
            self.logger.error("%s", exc)
        self._load.finish(self.logger)
        problem = self._what_is_incomplete()
        if problem:
            self.logger.error("Stopped by signal %d. %s", signum, problem)
            sys.exit(128 + signum)
        sys.exit(0)


def _discard(value: dict) -> None:
    """Print nothing."""


def _write_state(value: dict) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()
