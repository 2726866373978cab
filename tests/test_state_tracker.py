"""StateTracker: a STATE is emitted only once every record received before it is settled."""

from __future__ import annotations

from target_hubspot_contacts.state import StateTracker


def make_tracker() -> tuple[StateTracker, list[dict]]:
    emitted: list[dict] = []
    return StateTracker(emitted.append), emitted


def test_state_before_any_record_is_emitted_at_once():
    tracker, emitted = make_tracker()
    tracker.receive_state({"bookmark": 0})
    assert emitted == [{"bookmark": 0}]


def test_state_waits_for_the_records_received_before_it():
    tracker, emitted = make_tracker()
    first, second = tracker.next_record(), tracker.next_record()
    tracker.receive_state({"bookmark": 2})
    tracker.settle([first])
    assert emitted == []
    tracker.settle([second])
    assert emitted == [{"bookmark": 2}]


def test_records_after_a_state_do_not_hold_it_back():
    tracker, emitted = make_tracker()
    before = tracker.next_record()
    tracker.receive_state({"bookmark": 1})
    tracker.next_record()
    tracker.settle([before])
    assert emitted == [{"bookmark": 1}]


def test_out_of_order_settlement_releases_state_only_when_the_gap_closes():
    tracker, emitted = make_tracker()
    records = [tracker.next_record() for _ in range(4)]
    tracker.receive_state({"bookmark": 4})
    tracker.settle(records[2:])
    tracker.settle([records[1]])
    assert emitted == []
    assert tracker.unsettled == 1
    tracker.settle([records[0]])
    assert emitted == [{"bookmark": 4}]
    assert tracker.unsettled == 0


def test_only_the_newest_covered_state_is_emitted():
    tracker, emitted = make_tracker()
    first = tracker.next_record()
    tracker.receive_state({"bookmark": 1})
    second = tracker.next_record()
    tracker.receive_state({"bookmark": 2})
    tracker.next_record()
    tracker.receive_state({"bookmark": 3})
    tracker.settle([first, second])
    assert emitted == [{"bookmark": 2}]


def test_a_repeated_state_is_not_emitted_twice():
    tracker, emitted = make_tracker()
    tracker.receive_state({"bookmark": 1})
    tracker.receive_state({"bookmark": 1})
    record = tracker.next_record()
    tracker.receive_state({"bookmark": 1})
    tracker.settle([record])
    assert emitted == [{"bookmark": 1}]


def test_unsettled_counts_records_neither_written_nor_rejected():
    tracker, _ = make_tracker()
    records = [tracker.next_record() for _ in range(3)]
    tracker.settle([records[1]])
    assert tracker.unsettled == 2


def test_a_record_that_never_settles_holds_back_every_later_state():
    tracker, emitted = make_tracker()
    first, stuck = tracker.next_record(), tracker.next_record()
    tracker.receive_state({"bookmark": 1})
    tracker.never_passes(stuck)
    later = tracker.next_record()
    tracker.receive_state({"bookmark": 3})
    tracker.settle([first, later])
    assert emitted == []
    assert tracker.unsettled == 1


def test_a_state_before_a_record_that_never_settles_is_still_emitted():
    tracker, emitted = make_tracker()
    first = tracker.next_record()
    tracker.receive_state({"bookmark": 1})
    stuck = tracker.next_record()
    tracker.never_passes(stuck)
    tracker.settle([first])
    assert emitted == [{"bookmark": 1}]


def test_nothing_accumulates_behind_a_record_that_never_settles():
    tracker, _ = make_tracker()
    tracker.never_passes(tracker.next_record())
    for number in range(1000):
        tracker.settle([tracker.next_record()])
        tracker.receive_state({"bookmark": number})
    assert tracker._settled_ahead == []
    assert len(tracker._waiting) == 0


def test_a_record_kept_past_a_limit_settles_but_state_never_passes_it():
    tracker, emitted = make_tracker()
    written = tracker.next_record()
    tracker.receive_state({"bookmark": 1})
    held = tracker.next_record()
    tracker.receive_state({"bookmark": 2})
    tracker.never_passes(held)
    tracker.settle([held, written])
    assert emitted == [{"bookmark": 1}]
    assert tracker.unsettled == 0
