"""ConcurrencyController: calls in flight for rate x latency, fewer while HubSpot struggles."""

from __future__ import annotations

import dataclasses

from target_hubspot_contacts.concurrency import ConcurrencyController


@dataclasses.dataclass
class Window:
    """A rate window as the governor reports it."""

    allowed_per_window: int = 190
    window_seconds: float = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def settled_at(latency: float, *, maximum: int = 64, window: Window | None = None):
    """A controller that has seen many answers taking `latency` seconds."""
    controller = ConcurrencyController(maximum, window or Window())
    for _ in range(200):
        controller.answered(latency)
    return controller


def test_before_any_answer_it_plans_for_a_one_second_latency():
    controller = ConcurrencyController(64, Window())
    assert controller.limit() == 25  # 19 calls/s x 1 s x 1.2, plus 2 spare


def test_calls_in_flight_follow_rate_times_latency():
    assert settled_at(0.05).limit() == 4
    assert settled_at(0.15).limit() == 6
    assert settled_at(1.0).limit() == 25
    assert settled_at(2.0).limit() == 48


def test_the_default_maximum_serves_two_seconds_at_the_highest_published_limit():
    assert settled_at(2.0, window=Window(allowed_per_window=250)).limit() == 62


def test_a_smaller_share_of_the_window_needs_fewer_calls_in_flight():
    assert settled_at(2.0, window=Window(allowed_per_window=95)).limit() == 25


def test_never_more_than_max_concurrency():
    assert settled_at(5.0, maximum=16).limit() == 16


def test_never_more_calls_in_flight_than_the_window_allows():
    assert settled_at(5.0, window=Window(allowed_per_window=10, window_seconds=1.0)).limit() == 10


def test_latency_that_varies_asks_for_more_calls_than_its_average():
    steady = settled_at(0.5)
    varying = ConcurrencyController(64, Window())
    for _ in range(100):
        varying.answered(0.2)
        varying.answered(0.8)
    assert varying.limit() > steady.limit()


def test_a_sudden_slowdown_raises_the_limit_within_a_few_answers():
    controller = settled_at(0.15)
    for _ in range(3):
        controller.answered(2.0)
    assert controller.limit() >= 40


def test_hubspot_struggling_halves_the_limit():
    controller = settled_at(2.0)
    controller.struggled()
    assert controller.limit() == 24


def test_failures_within_one_round_trip_count_once():
    clock = Clock()
    controller = ConcurrencyController(64, Window(), clock=clock)
    for _ in range(200):
        controller.answered(2.0)
    controller.struggled()
    clock.now += 1.0
    controller.struggled()  # a call sent before the first cut
    assert controller.limit() == 24
    clock.now += 10.0
    controller.struggled()
    assert controller.limit() == 12


def test_the_limit_grows_back_as_answers_come():
    controller = settled_at(2.0)
    controller.struggled()
    for _ in range(24):
        controller.answered(2.0)
    assert controller.limit() == 36
    for _ in range(30):
        controller.answered(2.0)
    assert controller.limit() == 48


def test_at_least_one_call_is_always_allowed():
    controller = settled_at(0.01, window=Window(allowed_per_window=1))
    for _ in range(5):
        controller.struggled()
    assert controller.limit() == 1
