"""STATE bookkeeping: a STATE is released once every record received before it is settled."""

from __future__ import annotations

import collections
import heapq
import threading
import typing as t

from target_hubspot_contacts.jsontext import json_text


class SentState(dict):
    """A STATE value with the exact JSON text the tap sent (None if unknown), for relaying."""

    __slots__ = ("text",)

    def __init__(self, value: dict, text: str | None) -> None:
        super().__init__(value)
        self.text = text


def state_text(value: dict) -> str:
    """The JSON text to print for a STATE value: as sent, numbers exactly as the tap wrote them."""
    text = getattr(value, "text", None)
    return text if text is not None else json_text(value)


class StateTracker:
    """Numbers records as they arrive and emits each STATE once all records before it settle.

    A record is settled when HubSpot confirmed it, or when it was durably recorded as
    rejected. Records may settle in any order, from any thread; STATE follows the oldest
    unsettled one. A record that can never settle (rejected with no rejects file) holds
    every later STATE back for good, so nothing after it is kept waiting in memory.
    """

    def __init__(self, emit: t.Callable[[dict], None]) -> None:
        self._emit = emit
        self._next_sequence = 0
        self._settled_count = 0
        self._settled_below = 0  # every record numbered below this is settled
        self._settled_ahead: list[int] = []  # settled records above the watermark (a heap)
        self._stuck_at: int | None = None  # the first record that can never settle
        self._waiting: collections.deque[tuple[int, dict]] = collections.deque()
        self._last_received: dict | None = None
        self.last_emitted: dict | None = None
        self._lock = threading.RLock()

    def next_record(self) -> int:
        """Number the next record received."""
        with self._lock:
            sequence = self._next_sequence
            self._next_sequence += 1
            return sequence

    def receive_state(self, value: dict) -> None:
        """Hold a STATE until the records received before it are settled; ignore empty ones."""
        with self._lock:
            if not value or value == self._last_received:
                return
            self._last_received = value
            if self._stuck_at is not None:
                return  # it covers a record that will never settle
            self._waiting.append((self._next_sequence, value))
            self._release()

    def settle(self, sequences: t.Iterable[int]) -> None:
        """Mark records settled and emit the newest STATE they complete."""
        with self._lock:
            for sequence in sequences:
                self._settled_count += 1
                if self._stuck_at is not None and sequence >= self._stuck_at:
                    continue  # no STATE can reach it any more
                if sequence == self._settled_below:  # the usual case: in order
                    self._settled_below += 1
                else:
                    heapq.heappush(self._settled_ahead, sequence)
            while self._settled_ahead and self._settled_ahead[0] == self._settled_below:
                heapq.heappop(self._settled_ahead)
                self._settled_below += 1
            self._release()

    def never_passes(self, sequence: int) -> None:
        """No STATE after this record may be emitted, even once it settles (a record neither
        written nor kept never does)."""
        with self._lock:
            if self._stuck_at is not None and self._stuck_at <= sequence:
                return
            self._stuck_at = sequence
            self._settled_ahead = [s for s in self._settled_ahead if s < sequence]
            heapq.heapify(self._settled_ahead)
            self._waiting = collections.deque(w for w in self._waiting if w[0] <= sequence)

    @property
    def received(self) -> int:
        """How many records were received."""
        with self._lock:
            return self._next_sequence

    @property
    def unsettled(self) -> int:
        """How many records received are not settled."""
        with self._lock:
            return self._next_sequence - self._settled_count

    def _release(self) -> None:
        ready = None
        while self._waiting and self._waiting[0][0] <= self._settled_below:
            ready = self._waiting.popleft()[1]
        if ready is not None and ready != self.last_emitted:
            self.last_emitted = ready
            self._emit(ready)
