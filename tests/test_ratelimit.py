"""RateGovernor and DailyBudget: calls paced to HubSpot's window as its headers report it."""

from __future__ import annotations

import itertools
import logging
import threading
import time

import pytest

from target_hubspot_contacts.errors import CallAbandoned, DailyReserveError
from target_hubspot_contacts.ratelimit import DailyBudget, RateGovernor

LOGGER = logging.getLogger("test")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def window_headers(limit: int, remaining: int, interval_ms: int = 10_000) -> dict[str, str]:
    return {
        "X-HubSpot-RateLimit-Max": str(limit),
        "X-HubSpot-RateLimit-Remaining": str(remaining),
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(interval_ms),
    }


def daily_headers(limit: int, remaining: int) -> dict[str, str]:
    return {
        **window_headers(190, 189),
        "X-HubSpot-RateLimit-Daily": str(limit),
        "X-HubSpot-RateLimit-Daily-Remaining": str(remaining),
    }


def governor_for(limit: int, *, share: float = 1.0, interval_ms: int = 10_000):
    """A governor with a fake clock that has learnt the window from one answer."""
    clock = Clock()
    governor = RateGovernor(share=share, clock=clock)
    ticket = governor.acquire()
    governor.release(ticket, window_headers(limit, limit - 1, interval_ms))
    return governor, clock


def send_as_allowed(governor: RateGovernor, clock: Clock, seconds: float) -> list[float]:
    """Send a call whenever the governor allows, for `seconds`; the send times."""
    sent = []
    end = clock.now + seconds
    while True:
        while (wait := governor.seconds_until_room()) > 0:
            clock.now += wait + 1e-9  # past float rounding
        if clock.now >= end:
            return sent
        governor.acquire()
        sent.append(clock.now)


def most_in_any_window(times: list[float], window: float) -> int:
    return max(sum(1 for other in times if start <= other < start + window) for start in times)


def test_without_headers_it_assumes_100_calls_per_10_seconds():
    clock = Clock()
    governor = RateGovernor(clock=clock)
    assert governor.allowed_per_window == 100
    assert governor.window_seconds == 10.0


def test_the_window_is_learnt_from_the_headers():
    governor, _ = governor_for(190, interval_ms=5_000)
    assert (governor.allowed_per_window, governor.window_seconds) == (190, 5.0)


def test_calls_are_spread_evenly_over_the_window():
    governor, clock = governor_for(190)
    sent = send_as_allowed(governor, clock, 60)
    gaps = {round(later - earlier, 4) for earlier, later in itertools.pairwise(sent)}
    assert gaps == {round(10.1 / 190, 4)}  # the window plus its 1 % margin, evenly


def test_a_window_never_holds_more_calls_than_the_limit():
    governor, clock = governor_for(190)
    sent = send_as_allowed(governor, clock, 60)
    assert most_in_any_window(sent, 10.0) <= 190
    assert len(sent) >= 0.98 * 6 * 190


def test_rate_limit_share_keeps_to_its_share_of_the_window():
    governor, clock = governor_for(190, share=0.5)
    sent = send_as_allowed(governor, clock, 60)
    assert governor.allowed_per_window == 95
    assert most_in_any_window(sent, 10.0) <= 95


def test_calls_that_fell_behind_catch_up_within_the_window():
    governor, clock = governor_for(190)
    clock.now += 30  # nothing to send for a while
    burst = 0
    while governor.seconds_until_room() <= 0:
        governor.acquire()
        burst += 1
    assert burst == 19  # a tenth of the window, no more


def test_calls_by_the_apps_other_work_shrink_the_room_left():
    governor, clock = governor_for(20, interval_ms=1_000)
    clock.now += 2
    ticket = governor.acquire()
    # HubSpot's window held 15 calls when it counted ours: 14 were someone else's.
    governor.release(ticket, window_headers(20, 5, 1_000))
    sent = send_as_allowed(governor, clock, 0.9)
    assert len(sent) == 5


def test_after_a_429_new_calls_wait_until_the_window_has_room_again():
    governor, clock = governor_for(20, interval_ms=1_000)
    clock.now += 2
    first = governor.acquire()
    clock.now += 0.1
    refused = governor.acquire()
    governor.release(refused, window_headers(20, 0, 1_000), refused=True)
    # HubSpot's window was full: 19 calls were someone else's, for up to a window.
    wait = governor.seconds_until_room()
    assert wait == pytest.approx(first.sent_at + 1 + governor.margin_seconds - clock.now)
    clock.now += wait + 0.01
    assert governor.seconds_until_room() == 0


def test_each_429_widens_the_margin_a_call_is_counted_for_up_to_5_percent():
    governor, clock = governor_for(190)
    assert governor.margin_seconds == pytest.approx(0.1)
    for refusals in range(1, 12):
        clock.now += 20  # past the window the 429 filled
        governor.release(governor.acquire(), window_headers(190, 0), refused=True)
        assert governor.margin_seconds == pytest.approx(min(0.5, 0.1 + 0.05 * refusals))


def test_retry_after_holds_every_call():
    governor, _ = governor_for(190)
    governor.pause(3)
    assert governor.seconds_until_room() == 3


def test_daily_reserve_stops_the_call_that_would_spend_it():
    budget = DailyBudget(0.1, LOGGER)
    budget.learn(1, daily_headers(1000, 102))
    budget.check(1)  # 102 left: this call leaves 101
    budget.check(2)  # and this one 100, the reserve
    with pytest.raises(DailyReserveError) as raised:
        budget.check(3)
    message = str(raised.value)
    assert "1,000 calls a day" in message
    assert "100 calls are left" in message
    assert "`daily_reserve`" in message
    assert "a later run resumes from the last STATE" in message


def test_daily_reserve_counts_calls_in_flight_as_spent():
    budget = DailyBudget(0.5, LOGGER)
    budget.learn(1, daily_headers(100, 60))
    budget.check(10)  # nine calls sent since: 51 left, this call leaves 50
    with pytest.raises(DailyReserveError):
        budget.check(11)  # ten since: 50 left, this call would leave 49


def test_daily_reserve_trusts_the_answer_to_the_latest_call():
    budget = DailyBudget(0.5, LOGGER)
    budget.learn(10, daily_headers(100, 60))
    budget.learn(3, daily_headers(100, 51))  # older news, answered late
    budget.check(10)  # 60 left as of call 10
    budget.learn(11, daily_headers(100, 80))  # the budget was reset at midnight
    budget.check(20)


def test_daily_reserve_is_not_enforced_before_hubspot_reports_the_budget():
    DailyBudget(0.5, LOGGER).check(1_000_000)


def test_daily_reserve_warns_once_when_answers_carry_no_daily_headers(caplog):
    budget = DailyBudget(0.5, LOGGER)
    with caplog.at_level(logging.WARNING):
        budget.learn(1, window_headers(190, 189))
        budget.learn(2, window_headers(190, 188))
        budget.check(3)
    assert [r.getMessage() for r in caplog.records] == [
        "HubSpot's answers carry no X-HubSpot-RateLimit-Daily headers, so `daily_reserve` "
        "cannot be enforced in this run."
    ]


def test_the_governor_refuses_a_call_that_would_spend_the_daily_reserve():
    clock = Clock()
    governor = RateGovernor(daily=DailyBudget(0.5, LOGGER), clock=clock)
    ticket = governor.acquire()
    governor.release(ticket, daily_headers(100, 50))
    clock.now += 60
    with pytest.raises(DailyReserveError):
        governor.acquire()


def test_abandoning_wakes_a_call_waiting_for_room_and_it_gives_up():
    governor = RateGovernor()  # the real clock: the call really waits
    governor.pause(600)  # a 429's Retry-After
    outcome: list[BaseException] = []
    waiter = threading.Thread(target=lambda: _acquire_into(governor, outcome), daemon=True)
    waiter.start()
    wait_until(lambda: governor.window_use().waiting)

    governor.abandon()

    waiter.join(timeout=30)
    assert not waiter.is_alive()
    assert [type(error) for error in outcome] == [CallAbandoned]


def test_no_call_starts_once_calls_are_abandoned():
    governor, _ = governor_for(190)

    governor.abandon()

    with pytest.raises(CallAbandoned):
        governor.acquire()


def _acquire_into(governor: RateGovernor, outcome: list[BaseException]) -> None:
    try:
        governor.acquire()
    except CallAbandoned as abandoned:
        outcome.append(abandoned)


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def test_window_use_shows_a_429s_window_as_full_with_the_apps_other_work():
    governor, clock = governor_for(190)
    clock.now += 1
    governor.release(governor.acquire(), window_headers(190, 0), refused=True)
    governor.pause(5)  # its Retry-After
    clock.now += 2

    use = governor.window_use()

    assert (use.calls, use.others, use.calls_per_window) == (2, 188, 190)
    assert use.paused_seconds == 3


def test_window_use_shows_no_other_work_once_its_window_has_passed():
    governor, clock = governor_for(190)
    clock.now += 1
    governor.release(governor.acquire(), window_headers(190, 100))
    clock.now += 10.5

    use = governor.window_use()

    assert (use.calls, use.others, use.paused_seconds) == (0, 0, 0)
