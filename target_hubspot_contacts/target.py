"""The target: settings schema and the wiring of client, portal, writer and STATE."""

from __future__ import annotations

import os
import signal
import sys
import threading
import typing as t

import click
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.target_base import Target

from target_hubspot_contacts.api_version import API_VERSIONS, DEFAULT_API_VERSION, ApiPaths
from target_hubspot_contacts.auth import token_from_config
from target_hubspot_contacts.contacts import MAX_INPUTS_PER_CALL, WRITE_MODES
from target_hubspot_contacts.errors import (
    ConfigurationError,
    DailyReserveError,
    TargetError,
    TerminationRequested,
    UnwrittenRecordsError,
)
from target_hubspot_contacts.logvalues import error_text, show_values, traceback_text, values_shown
from target_hubspot_contacts.progress import DEFAULT_PROGRESS_INTERVAL
from target_hubspot_contacts.reach import HUBSPOT_API_URL, Reach
from target_hubspot_contacts.reader import NotAnObject, SingerInputReader
from target_hubspot_contacts.retries import Retrier
from target_hubspot_contacts.run import Run
from target_hubspot_contacts.settings import hide_secret_values, problems, withdraw_unsupported
from target_hubspot_contacts.sinks import ContactsSink
from target_hubspot_contacts.state import state_text
from target_hubspot_contacts.stream_maps import map_failure_reason, map_record_by_record

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.mapper import StreamMap

    from target_hubspot_contacts.rejects_file import SentRecord

# Sent by a worker thread to the main thread when a call fails: it wakes a blocking read of input.
CALL_FAILED_SIGNAL = getattr(signal, "SIGUSR1", None)


class TargetHubSpotContacts(Target):
    """Upserts contacts into HubSpot from any Singer tap."""

    name = "target-hubspot-contacts"
    package_name = "target-hubspot-contacts"
    default_sink_class = ContactsSink
    message_reader_class = SingerInputReader  # msgspec, and the SDK's reading where it refuses

    config_jsonschema = th.PropertiesList(
        th.Property(
            "access_token",
            th.StringType,
            secret=True,
            description="Service key, or a project or private app's token. Or use OAuth below.",
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
            default=HUBSPOT_API_URL,
            description="HubSpot API base URL (point it at the local emulator to try things).",
        ),
        th.Property(
            "api_version",
            th.StringType(allowed_values=list(API_VERSIONS)),
            default=DEFAULT_API_VERSION,
            description="HubSpot API version whose paths every call uses; `v3` for old proxies.",
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
            "outcomes_path",
            th.StringType,
            description=(
                "JSONL file with one line per record read: what became of it, and why. "
                "A file of its own, not the `rejects_path` file."
            ),
        ),
        th.Property(
            "log_values",
            th.BooleanType,
            default=True,
            description="`false`: no record value or id in the log (the files keep them).",
        ),
        th.Property(
            "progress_interval",
            th.NumberType(minimum=0),
            default=DEFAULT_PROGRESS_INTERVAL,
            description="Seconds between `Progress:` lines during a run; 0 turns them off.",
        ),
        th.Property(
            "max_rejects",
            th.IntegerType(minimum=0),
            default=0,
            description="Rejected records tolerated before the run exits non-zero.",
        ),
        th.Property(
            "skip_unchanged",
            th.BooleanType,
            default=False,
            description="Remember what each contact was last written with; skip unchanged rows.",
        ),
        th.Property(
            "sync_store",
            th.StringType,
            secret=True,  # a database URL may hold a password
            description=(
                "Where written contacts are remembered: a SQLite file (default "
                "`.target-hubspot-contacts/sync.db` in the project) or a SQLAlchemy URL such as "
                "`postgresql+psycopg://user:pass@host:5432/db`."
            ),
        ),
        th.Property(
            "full_resync",
            th.BooleanType,
            default=False,
            description="Send every row once, unchanged or not, and refresh the sync store.",
        ),
        th.Property(
            "resend_after_days",
            th.NumberType(exclusive_minimum=0),
            description="Send a row unchanged for longer than this anyway (default: never).",
        ),
        th.Property(
            "batch_size_rows",
            th.IntegerType(minimum=1, maximum=MAX_INPUTS_PER_CALL),
            default=MAX_INPUTS_PER_CALL,
            description="Contacts per upsert call (HubSpot allows at most 100).",
        ),
        th.Property(
            "max_concurrency",
            th.IntegerType(minimum=1, maximum=128),
            default=64,
            description="Most calls in flight at once; fewer are sent when fewer fill the window.",
        ),
        th.Property(
            "rate_limit_share",
            th.NumberType(exclusive_minimum=0, maximum=1),
            default=1,
            description="Share of the app's per-10-second limit this target may use (0-1].",
        ),
        th.Property(
            "daily_reserve",
            th.NumberType(minimum=0, exclusive_maximum=1),
            default=0,
            description="Share of the account's daily limit never spent; the run stops before.",
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

    _main_wakeable = False  # set by _setup_signal_handlers, which the SDK's __init__ calls
    _ending = False  # the run is reporting and exiting: signals and failures change nothing now

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        show_values(bool(self.config["log_values"]))
        self._run: Run | None = None
        self._stopping = False
        self._paths = ApiPaths(self.config["api_version"])
        self._retrier = Retrier(
            max_retry_seconds=float(self.config["max_retry_seconds"]), logger=self.logger
        )
        self._reach = Reach(self.config["api_url"])
        try:
            self._token = token_from_config(
                self.config,
                paths=self._paths,
                retrier=self._retrier,
                reach=self._reach,
                timeout=float(self.config["request_timeout"]),
                logger=self.logger,
            )
        except ConfigurationError as exc:
            raise ConfigValidationError(str(exc), errors=[str(exc)]) from None

    @classmethod
    def invoke(cls, **options: t.Any) -> None:  # type: ignore[override]
        """The SDK's entry point, with refused settings reported cause last: the SDK's own
        report ends on a bare "Config validation failed"."""
        try:
            super().invoke(**options)
        except ConfigValidationError as exc:
            refused = exc.errors or [str(exc)]
            cls.logger.error(
                "The settings were refused before any call (%d %s); fix and run again:",
                len(refused),
                "problem" if len(refused) == 1 else "problems",
            )
            for problem in refused:
                cls.logger.error("%s", problem)
            raise click.exceptions.Exit(1) from None

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict) -> None:
        """The SDK's own settings, less those that do nothing for this target."""
        super().append_builtin_config(config_jsonschema)
        withdraw_unsupported(config_jsonschema)

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Unknown keys, `api_url` and `rejects_path` first, then the SDK's schema check."""
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        own = problems(self._config, schema["properties"])
        try:
            errors = super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            errors = hide_secret_values(exc.errors, schema)
            raise ConfigValidationError(
                exc.args[0], errors=[*own, *errors], schema=schema
            ) from None
        if own and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=own, schema=schema)
        return [*own, *hide_secret_values(errors, schema)]

    @property
    def max_parallelism(self) -> int:
        """Every sink feeds one writer, so draining sinks in parallel gains nothing."""
        return 1

    @max_parallelism.setter
    def max_parallelism(self, new_value: int) -> None:
        """Ignored: see the getter."""

    @property
    def run(self) -> Run:
        """The run's client, portal, writer and STATE tracker, built on first use."""
        if self._run is None:
            self._run = Run(
                self.config,
                self._token,
                self.logger,
                _write_state,
                paths=self._paths,
                retrier=self._retrier,
                reach=self._reach,
                on_failure=self._call_failed,
            )
        return self._run

    def _process_schema_message(self, message_dict: dict) -> None:
        """As the SDK does; then the stream's maps fail record by record, and the rejects file
        knows the stream's schema as the tap sent it (replay sends it so)."""
        super()._process_schema_message(message_dict)
        stream = message_dict["stream"]
        map_record_by_record(self.mapper, stream, self._stream_map_failed)
        keys = list(message_dict.get("key_properties") or [])
        self.run.describe_stream(stream, message_dict["schema"], keys)

    def _process_record_message(self, message_dict: dict) -> None:
        """As the SDK does, keeping the record as the tap sent it (before `stream_maps`) for
        the rejects file, so that replay through the same settings makes the same run."""
        self._assert_line_requires(message_dict, requires={"stream", "record"})
        if self._run is not None:  # else no SCHEMA came yet, and the SDK stops the run
            record = message_dict["record"]
            sent = record.sent if isinstance(record, NotAnObject) else record  # null, [1, 2]
            self._run.receive(message_dict["stream"], sent)
        super()._process_record_message(message_dict)

    def _stream_map_failed(self, stream_map: StreamMap, error: Exception) -> None:
        """A map failed on the record being read: reject the record from the map's stream. An
        error that only surfaced there (a signal, a failed call) still ends the run."""
        run = self.run
        if isinstance(error, TerminationRequested) or error is run.writer.failure:
            raise error
        self._assert_sink_exists(stream_map.stream_alias)
        sink = t.cast("ContactsSink", self.get_sink(stream_map.stream_alias))
        stream = t.cast("SentRecord", run.received).stream  # the tap's, before the maps
        sink.reject_unmapped(map_failure_reason(stream, stream_map.stream_alias, error))

    def _process_state_message(self, message_dict: dict) -> None:
        """Hold each STATE until the records before it are in HubSpot (the SDK would not)."""
        self._assert_line_requires(message_dict, requires={"value"})
        self.run.tracker.receive_state(message_dict["value"])

    def process_endofpipe(self) -> None:
        """Flush everything, report, and fail if any record was neither written nor rejected."""
        super().process_endofpipe()
        if self._run is None:
            return
        self._ending = True  # every record is settled: a signal now must not cut the report short
        self._run.finish(self.logger)
        self._raise_if_incomplete()

    def listen(self, file_input: t.IO[str] | None = None) -> None:
        """Read messages until the end; any failure, in any thread, ends the run the same way."""
        try:
            super().listen(file_input)
        except TerminationRequested as stop:
            self._exit_after_signal(stop.signum)
        except Exception as exc:  # every failure gets the summary, then its own last line
            self._exit_after_failure(exc)

    def _exit_after_failure(self, error: Exception) -> t.NoReturn:
        """Report, then print the error as the run's last line; calls in flight are abandoned,
        except when `daily_reserve` stops the run: a stop, not a failure, so they finish."""
        self._ending = True
        expected = isinstance(error, TargetError)
        if not expected and values_shown():
            self.logger.error("Unexpected error:", exc_info=error)
        elif not expected:
            self.logger.error("Unexpected error:\n%s", traceback_text(error))
        if self._run is not None:
            cause = str(error) if expected else f"{type(error).__name__}: {error}"
            wait = isinstance(error, DailyReserveError)
            self._run.finish(self.logger, wait=wait, ended_by=cause)
        if expected:
            self.logger.error("%s", error)  # the message is the whole story: no traceback
        else:
            self.logger.error(
                "Stopped by an unexpected error (traceback above): %s", error_text(error)
            )
        self._exit(1)

    def _exit(self, code: int) -> t.NoReturn:
        """Exit now: calls still in flight (a hung attempt, say) are not waited for."""
        if self._run is not None and self._run.writer.calls_in_flight:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        sys.exit(code)

    def _raise_if_incomplete(self) -> None:
        problem = self._what_is_incomplete()
        if problem:
            raise UnwrittenRecordsError(problem)

    def _what_is_incomplete(self) -> str | None:
        """Why the run must not exit 0, or None when every record was written or kept."""
        run = self.run
        unsettled = run.tracker.unsettled
        if unsettled:
            return (
                f"{unsettled} record(s) were neither written to HubSpot nor kept in a rejects "
                "file (see the errors above); STATE stops before the first of them. Rerun from "
                "the last STATE; set `rejects_path` to keep rejected records and move past them."
            )
        max_rejects = run.rejects.limit
        if run.counts.rejected > max_rejects:
            if run.dry_run:
                return (
                    f"{run.counts.rejected} record(s) would be rejected, more than `max_rejects` "
                    f"({max_rejects}); a real run would exit non-zero too."
                )
            return (
                f"{run.counts.rejected} record(s) were rejected (kept in {run.rejects.path}), "
                f"more than `max_rejects` ({max_rejects}). Every valid record was written, but "
                "STATE stops before the first rejected record past the limit: fix the cause "
                "and rerun from the last STATE to load the records from there on."
            )
        return None

    def _setup_signal_handlers(self) -> None:
        """The SDK's SIGTERM and SIGINT handlers, and the one a failed call wakes us with."""
        super()._setup_signal_handlers()
        main = threading.current_thread() is threading.main_thread()
        if main and CALL_FAILED_SIGNAL is not None and hasattr(signal, "pthread_kill"):
            signal.signal(CALL_FAILED_SIGNAL, self._handle_call_failure)
            self._main_wakeable = True

    def _call_failed(self, error: BaseException) -> None:  # noqa: ARG002 - the writer keeps it
        """In a worker thread: wake the main thread, even in a blocking read, to end the run."""
        if self._main_wakeable and not self._ending:
            signal.pthread_kill(threading.main_thread().ident, CALL_FAILED_SIGNAL)

    def _handle_call_failure(self, signum: int, frame: FrameType | None) -> None:  # noqa: ARG002
        failure = self._run.writer.failure if self._run is not None else None
        if failure is not None and not self._ending:
            raise failure

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:  # noqa: ARG002
        """First signal: no more retries; finish the attempts in flight, then stop. Second
        signal: stop now."""
        if self._stopping:
            os._exit(128 + signum)
        self._stopping = True
        self.logger.warning("Received signal %d: finishing calls in flight, then stopping.", signum)
        self._retrier.abandon()
        if self._ending:
            return
        if self._run is not None and self._run.writer.busy:
            self._run.writer.stop_signal = signum
            return
        raise TerminationRequested(signum)

    def _exit_after_signal(self, signum: int) -> t.NoReturn:
        self._ending = True
        if self._run is None:
            sys.exit(0)
        try:
            self._run.writer.finish_in_flight()
        except Exception as exc:  # reported; the summary and the verdict follow
            self.logger.error("%s", exc)
        self._run.finish(self.logger, ended_by=f"stopped by signal {signum}")
        if self._what_is_incomplete():
            self.logger.error("Stopped by signal %d: %s", signum, self._left_after_signal())
            sys.exit(128 + signum)
        sys.exit(0)

    def _left_after_signal(self) -> str:
        """What a stop by signal left undone: the records not written, and rejects if any."""
        run = self.run
        rejected, limit = run.counts.rejected, run.rejects.limit
        kept_nowhere = 0 if run.rejects.durable else rejected
        unwritten = run.tracker.unsettled - kept_nowhere
        told = []
        if unwritten:
            verb = "checked (dry run)" if run.dry_run else "written"
            told.append(f"{unwritten} record(s) read were not {verb}: the signal came first")
        if rejected:
            where = f"kept in {run.rejects.path}" if run.rejects.durable else "kept nowhere"
            over = f", more than `max_rejects` ({limit})" if rejected > limit else ""
            told.append(f"{rejected} record(s) were rejected ({where}){over}")
        if run.dry_run:
            return "; ".join(told) + "."
        return "; ".join(told) + ". Rerun from the last STATE to load what it did not."


def _write_state(value: dict) -> None:
    """Print a STATE line in UTF-8, as Singer messages are, whatever stdout's encoding."""
    line = state_text(value) + "\n"
    binary = getattr(sys.stdout, "buffer", None)
    if binary is None:  # a text stream only (a test runner's)
        sys.stdout.write(line)
        sys.stdout.flush()
        return
    sys.stdout.flush()  # anything written as text goes first
    binary.write(line.encode("utf-8", "backslashreplace"))
    binary.flush()
