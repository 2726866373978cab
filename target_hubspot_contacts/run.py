"""One run's shared parts: the client, the portal, the writer, STATE and the counts, built once."""

from __future__ import annotations

import typing as t
import uuid

from target_hubspot_contacts.auth import OAuthToken
from target_hubspot_contacts.client import HubSpotClient
from target_hubspot_contacts.concurrency import ConcurrencyController
from target_hubspot_contacts.contacts import MAX_INPUTS_PER_CALL, ContactsAPI
from target_hubspot_contacts.outcomes import RunCounts, report_run
from target_hubspot_contacts.outcomes_file import OutcomesFile
from target_hubspot_contacts.portal import Portal
from target_hubspot_contacts.progress import DEFAULT_PROGRESS_INTERVAL, ProgressReporter
from target_hubspot_contacts.ratelimit import DailyBudget, RateGovernor
from target_hubspot_contacts.rejects_file import Rejects, SentRecord
from target_hubspot_contacts.state import StateTracker
from target_hubspot_contacts.syncstore import open_sync_memory
from target_hubspot_contacts.writer import ContactWriter

if t.TYPE_CHECKING:
    import logging

    from target_hubspot_contacts.api_version import ApiPaths
    from target_hubspot_contacts.auth import StaticToken
    from target_hubspot_contacts.reach import Reach
    from target_hubspot_contacts.retries import Retrier


class RunningTarget(t.Protocol):
    """What a sink needs of the target that made it: the run it feeds, and the settings."""

    @property
    def run(self) -> Run: ...

    @property
    def config(self) -> t.Mapping[str, t.Any]: ...


class Run:
    """The parts one run shares between its sinks."""

    def __init__(
        self,
        config: t.Mapping[str, t.Any],
        token: StaticToken | OAuthToken,
        logger: logging.Logger,
        emit_state: t.Callable[[dict], None],
        *,
        paths: ApiPaths,
        retrier: Retrier,
        reach: Reach,
        on_failure: t.Callable[[BaseException], None] | None = None,
    ) -> None:
        self.dry_run = bool(config["dry_run"])
        self._finished = False
        self._retrier = retrier
        self.governor = RateGovernor(
            share=float(config["rate_limit_share"]), daily=_daily_budget(config, token, logger)
        )
        concurrency = ConcurrencyController(config["max_concurrency"], self.governor)
        self.client = HubSpotClient(
            api_url=config["api_url"],
            paths=paths,
            token=token,
            retrier=retrier,
            reach=reach,
            logger=logger,
            timeout=float(config["request_timeout"]),
            governor=self.governor,
            concurrency=concurrency,
        )
        # A dry run loads nothing, so it has nothing to checkpoint.
        self.tracker = StateTracker(_discard if self.dry_run else emit_state)
        self.counts = RunCounts()
        self.received: SentRecord | None = None  # the RECORD message being read, as sent
        self._records_received = 0
        self.run_id = str(uuid.uuid4())
        self.rejects = Rejects(
            config.get("rejects_path"),
            logger,
            run_id=self.run_id,
            limit=int(config.get("max_rejects") or 0),
            dry_run=self.dry_run,
        )
        # A dry run writes no file: the summary says what would have happened.
        outcomes_path = None if self.dry_run else config.get("outcomes_path")
        self.outcomes = OutcomesFile(outcomes_path, self.run_id)
        files = [path for path in (self.rejects.path, outcomes_path) if path and not self.dry_run]
        if files:
            logger.info("Run id %s marks this run's lines in %s.", self.run_id, " and ".join(files))
        self.portal = Portal(
            self.client,
            id_property=config["id_property"],
            property_mapping=config.get("property_mapping") or {},
            unmapped_fields=config["unmapped_fields"],
            create_missing_properties=config["create_missing_properties"],
            null_values=config["null_values"],
            logger=logger,
            dry_run=self.dry_run,
        )
        self.memory = open_sync_memory(config, self.client, logger, dry_run=self.dry_run)
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
            outcomes=self.outcomes,
            counts=self.counts,
            batch_size=config.get("batch_size_rows") or MAX_INPUTS_PER_CALL,
            concurrency=concurrency,
            logger=logger,
            on_failure=on_failure,
            memory=self.memory,
        )
        self.progress = ProgressReporter(
            logger,
            float(config.get("progress_interval", DEFAULT_PROGRESS_INTERVAL)),
            records_read=lambda: self.tracker.received,
            counts=self.counts,
            calls=self.client.stats,
            window_use=self.governor.window_use,
            dry_run=self.dry_run,
        )
        self.progress.start()

    def receive(self, stream: str, record: object) -> None:
        """A RECORD message is being read: keep its record as the tap sent it (before
        `stream_maps`), for the rejects file."""
        self._records_received += 1
        self.received = SentRecord(stream, record, self._records_received)

    def describe_stream(self, name: str, schema: dict, key_properties: list[str]) -> None:
        """Keep the schema of a tap's stream (before `stream_maps`) for the rejects file (replay
        needs it); records still pending under an older schema of the stream are settled first."""
        if self.rejects.describes(name) not in (None, (schema, key_properties)):
            self.writer.flush()
        self.rejects.describe(name, schema, key_properties)

    def finish(
        self, logger: logging.Logger, *, wait: bool = True, ended_by: str | None = None
    ) -> None:
        """Let calls in flight finish (unless not `wait`: their answers are then ignored),
        report once, release files; later calls do nothing. `ended_by`: what ended a run that
        fails or is stopped, for the outcome of each record it leaves unwritten."""
        if self._finished:
            return
        self._finished = True
        self.progress.stop()
        if not wait:
            self._retrier.abandon()
            self.writer.stop_settling()
        self.writer.close(wait=wait)
        if self.memory is not None:
            self.memory.close()
        try:
            self.outcomes.write_not_written(ended_by or "it was never settled")
        except OSError as exc:  # the report and the run's own error still follow
            logger.error("The outcomes file could not be completed: %s", exc)
        self.rejects.report()
        report_run(
            logger,
            self.counts,
            self.client.stats,
            records_read=self.tracker.received,
            dry_run=self.dry_run,
            run_id=self.run_id,
        )
        self.rejects.close()
        self.outcomes.close()


def _daily_budget(
    config: t.Mapping[str, t.Any], token: StaticToken | OAuthToken, logger: logging.Logger
) -> DailyBudget | None:
    """The daily budget guard `daily_reserve` asks for, if it can apply to these credentials."""
    reserve = float(config.get("daily_reserve") or 0)
    if reserve <= 0:
        return None
    if isinstance(token, OAuthToken):
        logger.warning("`daily_reserve` is ignored: OAuth calls have no daily limit in HubSpot.")
        return None
    return DailyBudget(reserve, logger)


def _discard(value: dict) -> None:
    """Print nothing."""
