"""The writer: records merge into contacts, go 100 to a call, and settle as HubSpot answers."""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import heapq
import threading
import time
import typing as t

from target_hubspot_contacts.contacts import MAX_INPUTS_PER_CALL, ContactInput, conflict_key
from target_hubspot_contacts.errors import CallAbandoned, TerminationRequested
from target_hubspot_contacts.logvalues import skipped_text
from target_hubspot_contacts.outcomes import (
    Rejected,
    Skipped,
    Unchanged,
    Written,
    outcome_name,
)
from target_hubspot_contacts.outcomes_file import RecordOutcome

if t.TYPE_CHECKING:
    import logging

    from target_hubspot_contacts.concurrency import ConcurrencyController
    from target_hubspot_contacts.contacts import ContactsAPI
    from target_hubspot_contacts.outcomes import Outcome, Reason, RunCounts
    from target_hubspot_contacts.outcomes_file import OutcomesFile
    from target_hubspot_contacts.rejects_file import Rejects, SentRecord
    from target_hubspot_contacts.state import StateTracker
    from target_hubspot_contacts.syncstore import SyncMemory

# Bounds memory (and a refused contact's replay) when records keep updating the same contacts.
MAX_RECORDS_PENDING = 1_000
# A partial call goes out once its first record has waited this long, even if input stops.
LINGER_SECONDS = 1.0
# Records rejected before sending share an fsync of the rejects file (one per line made runs
# with many rejects crawl): it comes with the next answer, with the flush the SDK asks for, once
# this many wait, or once the first has waited LINGER_SECONDS; STATE passes them only after it.
REJECTS_PER_SYNC = 1_000


@dataclasses.dataclass(frozen=True)
class Received:
    """A record handed to the writer: its number in the run, and its place in its stream."""

    sequence: int
    stream: str  # the stream it reached (after `stream_maps`)
    position: int  # in its stream: 1 for the stream's first record (the log names it so)
    sent: SentRecord  # as the tap sent it, for the rejects file


@dataclasses.dataclass(frozen=True)
class Source:
    """One record merged into a pending contact."""

    received: Received
    properties: dict[str, str]  # its own mapped properties


@dataclasses.dataclass
class PendingContact:
    """One contact in a call: the merge of every record for it since the last call."""

    id_value: str
    properties: dict[str, str]
    archive: bool  # a deletion in the source: archive the contact
    sources: list[Source]  # oldest first

    @classmethod
    def of(cls, id_value: str, source: Source, *, archive: bool) -> PendingContact:
        """A pending contact made of one record."""
        return cls(id_value, dict(source.properties), archive, [source])

    def merge(self, source: Source) -> None:
        """Apply a later record over this one, as if both writes ran in turn."""
        self.properties.update(source.properties)
        self.sources.append(source)


class ContactWriter:
    """Merges records by contact, forms calls of up to 100, and settles what HubSpot answers.

    Several calls may be in flight; a contact is never in two of them at once, so calls
    cannot race on one contact and records land in the order they were read. Each call
    settles in its own worker thread as soon as HubSpot answers, and a lingering thread
    sends a partial call once it has waited LINGER_SECONDS, so STATE moves even while the
    tap is quiet.
    """

    def __init__(
        self,
        *,
        api: ContactsAPI,
        tracker: StateTracker,
        rejects: Rejects,
        outcomes: OutcomesFile,
        counts: RunCounts,
        batch_size: int,
        concurrency: ConcurrencyController,
        logger: logging.Logger,
        on_failure: t.Callable[[BaseException], None] | None = None,
        memory: SyncMemory | None = None,
    ) -> None:
        self._api = api
        self._memory = memory
        self._on_failure = on_failure or (lambda _error: None)
        self.failure: BaseException | None = None  # the first call or thread that failed
        self._settling = True  # False once the run is ending: outcomes are no longer counted
        self._tracker = tracker
        self._rejects = rejects
        self._outcomes = outcomes
        self._counts = counts
        self._batch_size = max(1, min(batch_size, MAX_INPUTS_PER_CALL))
        self._concurrency = concurrency  # how many calls may be in flight right now
        self._logger = logger
        self._pending: dict[str, PendingContact] = {}  # by the contact's identity
        self._pending_conflicts: set[str] = set()  # their conflict keys
        self._pending_records = 0  # records merged into them
        self._pending_since = 0.0  # when the first of them arrived
        self._positions: collections.Counter[str] = collections.Counter()  # records per stream
        self._in_flight: dict[concurrent.futures.Future, set[str]] = {}
        self._lock = threading.RLock()  # pending and in-flight: the main and lingering threads
        self._settle_lock = threading.Lock()  # outcomes: the worker threads
        self._first_rejects: list[int] = []  # the max_rejects + 1 lowest rejected, negated (heap)
        self._unsynced_rejects: list[int] = []  # rejected before sending, not yet on disk
        self._unsynced_since = 0.0  # when the first of them was rejected
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=concurrency.maximum, thread_name_prefix="hubspot-call"
        )
        self.busy = 0  # >0 while the main thread waits inside the writer
        self.stop_signal: int | None = None
        self._stop_lingering = threading.Event()
        self._lingering = threading.Thread(
            target=self._send_lingering_calls, name="hubspot-linger", daemon=True
        )
        self._lingering.start()

    def receive(self, stream: str, id_value: object, sent: SentRecord) -> Received:
        """Number a record read from `stream` (after `stream_maps`); the outcomes file owes it
        a line from now on."""
        sequence = self._tracker.next_record()
        self._positions[stream] += 1
        position = self._positions[stream]
        self._outcomes.expect(sequence, stream, id_value, position)
        return Received(sequence, stream, position, sent)

    def add(
        self, received: Received, id_value: str, properties: dict, *, archive: bool = False
    ) -> None:
        """Queue a mapped record (or a deletion); send a call once enough contacts are pending."""
        with self._lock:
            self._add(Source(received, properties), id_value, archive=archive)

    def _add(self, source: Source, id_value: str, *, archive: bool) -> None:
        identity = self._api.identity(id_value)
        pending = self._pending.get(identity)
        self._pending_records += 1
        if pending is not None and pending.archive == archive:
            pending.merge(source)
            if self._pending_records >= MAX_RECORDS_PENDING:  # many updates of few contacts
                with self._busy():
                    self._send_pending()
            return
        # A write and an archive of one contact, or two contacts whose ids differ only by case
        # (which HubSpot refuses in one call), go out in separate calls, in read order.
        if pending is not None or conflict_key(id_value) in self._pending_conflicts:
            with self._busy():
                self._send_pending()
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending[identity] = PendingContact.of(id_value, source, archive=archive)
        self._pending_conflicts.add(conflict_key(id_value))
        if len(self._pending) >= self._batch_size:
            with self._busy():
                self._send_pending()

    def reject(self, received: Received, id_value: object, reason: Reason) -> None:
        """Record a record refused before sending."""
        sequence, stream, position = received.sequence, received.stream, received.position
        with self._settle_lock:
            self._counts.count(Rejected(reason), records=1)
            # Its line in the rejects file first: a record that cannot be kept is not_written.
            self._rejects.record([(stream, id_value, received.sent, reason, position)])
            outcome = RecordOutcome(
                stream, id_value, "rejected", reason=reason, position=position, sequence=sequence
            )
            self._outcomes.write([outcome])
            if not self._rejects.durable:
                self._tracker.never_passes(sequence)
                return
            self._hold_past_limit([sequence])
            if not self._unsynced_rejects:
                self._unsynced_since = time.monotonic()
            self._unsynced_rejects.append(sequence)
            if len(self._unsynced_rejects) >= REJECTS_PER_SYNC:
                self._sync_rejects()

    def _sync_rejects(self) -> None:
        """Under the settle lock: put the rejects file on disk, then settle the records
        rejected before sending that waited for it."""
        self._rejects.sync()
        if self._unsynced_rejects:
            self._tracker.settle(self._unsynced_rejects)
            self._unsynced_rejects = []

    def flush(self) -> None:
        """Send what is pending and wait until HubSpot answered every call."""
        with self._lock, self._busy():
            if self._pending:
                self._send_pending()
            self._wait(until=lambda: not self._in_flight)
        with self._settle_lock:
            self._sync_rejects()

    def finish_in_flight(self) -> None:
        """Wait for calls already sent (an abandoned one leaves its records unwritten); pending
        records are left unsent. Raises the first call's failure other than abandonment."""
        self._stop_lingering.set()
        with self._lock:
            self.stop_signal = None
            calls = list(self._in_flight)
            concurrent.futures.wait(calls)
            self._in_flight.clear()
        with self._settle_lock:
            self._sync_rejects()
        for call in calls:
            error = call.exception()
            if error is not None and not isinstance(error, CallAbandoned):
                raise error

    @property
    def calls_in_flight(self) -> int:
        """Calls sent whose answer has not been settled yet."""
        return sum(1 for call in list(self._in_flight) if not call.done())

    def stop_settling(self) -> None:
        """The run is ending: answers that arrive from now on are neither counted nor settled."""
        with self._settle_lock:
            self._settling = False

    def close(self, *, wait: bool = True) -> None:
        """Release the threads, after letting calls in flight finish if `wait`."""
        self._stop_lingering.set()
        if threading.current_thread() is not self._lingering:
            self._lingering.join()
        self._executor.shutdown(wait=wait, cancel_futures=True)

    def _send_lingering_calls(self) -> None:
        """In its own thread: send a partial call that has waited long enough."""
        try:
            self._linger()
        except Exception as error:  # handed to the main thread, which stops the run
            self._failed(error)

    def _linger(self) -> None:
        while not self._stop_lingering.wait(LINGER_SECONDS / 4):
            self._sync_lingering_rejects()
            if not self._lock.acquire(blocking=False):
                continue  # the main thread is sending or waiting: nothing lingers
            try:
                lingered = time.monotonic() - self._pending_since >= LINGER_SECONDS
                stopping = self._stop_lingering.is_set()
                if self._pending and lingered and not stopping and self._can_send_now():
                    self._submit_pending()
            finally:
                self._lock.release()

    def _sync_lingering_rejects(self) -> None:
        """Put records rejected before sending on disk once the first has waited long enough."""
        with self._settle_lock:
            waited = time.monotonic() - self._unsynced_since
            if self._unsynced_rejects and waited >= LINGER_SECONDS and self._settling:
                self._sync_rejects()

    def _can_send_now(self) -> bool:
        """A free slot, no call in flight for these contacts, and no call has failed."""
        running = [future for future in self._in_flight if not future.done()]
        failed = any(f.exception() for f in self._in_flight if f.done())
        return (
            not failed
            and self.stop_signal is None
            and len(running) < self._concurrency.limit()
            and not any(self._pending_conflicts & self._in_flight[f] for f in running)
        )

    def _busy(self) -> _BusyScope:
        return _BusyScope(self)

    def _send_pending(self) -> None:
        keys = self._pending_conflicts
        self._wait(
            until=lambda: (
                len(self._in_flight) < self._concurrency.limit()
                and not any(keys & busy_keys for busy_keys in self._in_flight.values())
            )
        )
        self._submit_pending()

    def _submit_pending(self) -> None:
        contacts = list(self._pending.values())
        future = self._executor.submit(self._write_and_settle, contacts)
        future.add_done_callback(self._report_failure)
        self._in_flight[future] = self._pending_conflicts
        self._pending, self._pending_conflicts, self._pending_records = {}, set(), 0

    def _report_failure(self, call: concurrent.futures.Future) -> None:
        """In the thread that ran the call: a failure is the main thread's to act on, now."""
        error = call.exception()
        if error is not None and not isinstance(error, CallAbandoned):
            self._failed(error)

    def _failed(self, error: BaseException) -> None:
        if self.failure is None:
            self.failure = error
        self._on_failure(error)

    def _wait(self, until: t.Callable[[], bool]) -> None:
        """Wait for calls to answer until `until()` holds; re-raise a call's failure."""
        while True:
            if self.stop_signal is not None:  # before a call abandoned for it is read as failed
                raise TerminationRequested(self.stop_signal)
            if self.failure is not None:
                raise self.failure
            self._forget_answered_calls()
            if until():
                return
            concurrent.futures.wait(self._in_flight, return_when=concurrent.futures.FIRST_COMPLETED)

    def _forget_answered_calls(self) -> None:
        for future in [future for future in self._in_flight if future.done()]:
            del self._in_flight[future]
            future.result()  # a failed call stops the run here, in the main thread

    def _write_and_settle(self, contacts: list[PendingContact]) -> None:
        """In a worker thread: make the calls, then settle their outcomes."""
        writes = [contact for contact in contacts if not contact.archive]
        archives = [contact for contact in contacts if contact.archive]
        if self._memory is not None:
            writes = self._settle_unchanged(writes, archives)
        outcomes: list[tuple[PendingContact, Outcome]] = []
        if writes:
            inputs = [ContactInput(contact.id_value, contact.properties) for contact in writes]
            for contact, outcome in zip(writes, self._api.write(inputs), strict=True):
                if isinstance(outcome, Rejected) and len(contact.sources) > 1:
                    outcomes.extend(self._replay(contact))
                else:
                    outcomes.append((contact, outcome))
        if archives:
            id_values = [contact.id_value for contact in archives]
            outcomes.extend(zip(archives, self._api.archive(id_values), strict=True))
        if self._memory is not None and self._settling:
            self._remember(outcomes)  # before STATE may pass them, outside the settle lock
        with self._settle_lock:
            if self._settling:
                self._settle(outcomes)

    def _settle_unchanged(
        self, writes: list[PendingContact], archives: list[PendingContact]
    ) -> list[PendingContact]:
        """Settle at once the contacts last written with these very properties; return the
        others, whose memory is dropped until HubSpot confirms them."""
        by_key = {self._api.identity(contact.id_value): contact for contact in writes}
        archived_keys = [self._api.identity(contact.id_value) for contact in archives]
        properties = {key: contact.properties for key, contact in by_key.items()}
        unchanged = self._memory.before_sending(properties, archived_keys)
        if not unchanged:
            return writes
        with self._settle_lock:
            if self._settling:
                self._settle([(by_key[key], Unchanged(id_)) for key, id_ in unchanged.items()])
        return [contact for key, contact in by_key.items() if key not in unchanged]

    def _replay(self, contact: PendingContact) -> list[tuple[PendingContact, Outcome]]:
        """HubSpot refused a merged contact: write its records again in two halves, in order,
        halving a refused half again, so one bad record does not take the good ones down."""
        middle = len(contact.sources) // 2
        replayed = []
        for half in (contact.sources[:middle], contact.sources[middle:]):
            part = PendingContact.of(contact.id_value, half[0], archive=False)
            for source in half[1:]:
                part.merge(source)
            (outcome,) = self._api.write([ContactInput(part.id_value, part.properties)])
            if isinstance(outcome, Rejected) and len(half) > 1:
                replayed.extend(self._replay(part))
            else:
                replayed.append((part, outcome))
        return replayed

    def _settle(self, outcomes: list[tuple[PendingContact, Outcome]]) -> None:
        settled: list[int] = []
        rejected: list[tuple[str, object, SentRecord, Reason, int]] = []
        self._outcomes.write(
            record_outcome
            for contact, outcome in outcomes
            for record_outcome in _each_record(contact, outcome)
        )
        for contact, outcome in outcomes:
            self._counts.count(outcome, records=len(contact.sources))
            if isinstance(outcome, Skipped):
                first = contact.sources[0]
                line = skipped_text(
                    contact.id_value, first.received.stream, first.received.position, outcome
                )
                self._logger.debug("%s", line)
            sequences = [source.received.sequence for source in contact.sources]
            if not isinstance(outcome, Rejected):
                settled.extend(sequences)
                continue
            rejected.extend(
                (
                    source.received.stream,
                    contact.id_value,
                    source.received.sent,
                    outcome.reason.with_values(source.properties),
                    source.received.position,
                )
                for source in contact.sources
            )
            if self._rejects.durable:
                self._hold_past_limit(sequences)
                settled.extend(sequences)
            else:
                self._tracker.never_passes(min(sequences))
        self._rejects.record(rejected)
        self._sync_rejects()  # one fsync: these lines, and any rejected before sending
        self._tracker.settle(settled)

    def _hold_past_limit(self, sequences: list[int]) -> None:
        """Keep STATE before the first rejected record past `max_rejects` in read order (calls
        answer in any order), so a rerun from it after the fix loads that record."""
        keep = self._rejects.limit + 1
        for sequence in sequences:
            heapq.heappush(self._first_rejects, -sequence)
            if len(self._first_rejects) > keep:
                heapq.heappop(self._first_rejects)
        if len(self._first_rejects) == keep:
            self._tracker.never_passes(-self._first_rejects[0])

    def _remember(self, outcomes: list[tuple[PendingContact, Outcome]]) -> None:
        """Remember the writes HubSpot confirmed, before STATE may pass them. Never under the
        settle lock: a slow store must not hold up other calls' settling or the run's end."""
        written = [
            (self._api.identity(contact.id_value), contact.properties, outcome.record_id)
            for contact, outcome in outcomes
            if isinstance(outcome, Written) and outcome.confirmed  # else the write is in doubt
        ]
        self._memory.after_answer(written)


def _each_record(contact: PendingContact, outcome: Outcome) -> list[RecordOutcome]:
    """What became of each record of a contact; records after the first rode in its call."""
    name = outcome_name(outcome)
    if isinstance(outcome, Rejected):
        return [
            RecordOutcome(
                source.received.stream,
                contact.id_value,
                name,
                reason=outcome.reason,
                position=source.received.position,
                sequence=source.received.sequence,
            )
            for source in contact.sources
        ]
    why = outcome.why if isinstance(outcome, Skipped) else None
    unconfirmed = isinstance(outcome, Written) and not outcome.confirmed
    return [
        RecordOutcome(
            source.received.stream,
            contact.id_value,
            name,
            outcome.record_id,
            why=why,
            merged=index > 0,
            unconfirmed=unconfirmed,
            position=source.received.position,
            sequence=source.received.sequence,
        )
        for index, source in enumerate(contact.sources)
    ]


class _BusyScope:
    def __init__(self, writer: ContactWriter) -> None:
        self._writer = writer

    def __enter__(self) -> None:
        self._writer.busy += 1

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        self._writer.busy -= 1
        # A signal that came while busy but after the last wait must not wait for more input.
        if exc_type is None and not self._writer.busy and self._writer.stop_signal is not None:
            raise TerminationRequested(self._writer.stop_signal)
