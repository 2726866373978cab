"""Retrier: retries within one budget per call, nested calls included, and none once abandoned."""

from __future__ import annotations

import logging

import pytest

from target_hubspot_contacts.errors import CallAbandoned, HubSpotAPIError
from target_hubspot_contacts.reach import FIRST_CONTACT_SECONDS, Reach
from target_hubspot_contacts.retries import Retrier, RetryableError

LOGGER = logging.getLogger("test")


class Clock:
    """Time that passes only when an attempt says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def failing_attempt(clock: Clock, seconds: float, attempts: list[str], name: str):
    """An attempt that takes `seconds` and fails with a transient error, asking to retry now."""

    def attempt():
        attempts.append(name)
        clock.now += seconds
        raise RetryableError("503 SERVICE_UNAVAILABLE", retry_after=0.0)

    return attempt


def test_a_call_made_inside_a_retried_call_shares_its_deadline():
    clock = Clock()
    retrier = Retrier(max_retry_seconds=10, logger=LOGGER, clock=clock)
    attempts: list[str] = []
    refresh = failing_attempt(clock, 1, attempts, "refresh")

    def upsert():
        attempts.append("upsert")
        if attempts.count("upsert") == 1:
            clock.now += 4
            raise RetryableError("503 SERVICE_UNAVAILABLE", retry_after=0.0)
        return retrier.call(refresh, what="the OAuth token refresh", advice="")

    with pytest.raises(HubSpotAPIError, match="kept failing the OAuth token refresh"):
        retrier.call(upsert, what="POST /batch/upsert", advice="")

    # The upsert's 10 s began at 0: its refresh, begun at 4 s, stops at 10 s, not at 14 s.
    assert clock.now == 10
    assert attempts == ["upsert", "upsert", *["refresh"] * 6]


def test_no_attempt_starts_once_calls_are_abandoned():
    retrier = Retrier(max_retry_seconds=10, logger=LOGGER)
    attempts: list[str] = []
    retrier.abandon()

    with pytest.raises(CallAbandoned):
        retrier.call(lambda: attempts.append("sent"), what="POST /batch/upsert", advice="")

    assert attempts == []


def test_abandoning_wakes_whoever_asked_to_be_told():
    retrier = Retrier(max_retry_seconds=10, logger=LOGGER)
    woken: list[str] = []
    retrier.on_abandon(lambda: woken.append("governor"))

    retrier.abandon()

    assert woken == ["governor"]


def test_before_hubspot_ever_answered_retries_end_with_the_short_first_contact_budget():
    clock = Clock()
    retrier = Retrier(max_retry_seconds=600, logger=LOGGER, clock=clock)
    attempts: list[str] = []
    edge_page = failing_attempt(clock, 4, attempts, "properties")

    with pytest.raises(HubSpotAPIError, match="before answering once"):
        retrier.call(edge_page, what="GET /crm/properties", advice="", reach=Reach("http://x"))

    # Tries of 4 s each: the first ends at 4 s, when the budget starts; the one that ends past
    # it is the last (far short of `max_retry_seconds`).
    assert 4 + FIRST_CONTACT_SECONDS <= clock.now < 4 + FIRST_CONTACT_SECONDS + 4
