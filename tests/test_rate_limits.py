"""The account's limits: calls in flight follow latency; `rate_limit_share`, `daily_reserve`."""

from __future__ import annotations

import time

import pytest

from target_hubspot_contacts.emulator import HubSpotEmulator, RequestRecord
from tests.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    TOKEN,
    contact,
    lines,
    local_hubspot,
    printed_states,
    record,
    run_target,
    schema,
    start_target,
    state,
)


def contacts_input(count: int, first: int = 1) -> str:
    """`count` contacts from number `first`, each followed by a STATE naming it."""
    messages = [schema()]
    for number in range(first, first + count):
        messages += [record(contact(number)), state({"n": number})]
    return lines(messages)


def settings(hubspot: HubSpotEmulator, **extra) -> dict:
    """One contact a call, so calls are many and small."""
    return {"access_token": TOKEN, "api_url": hubspot.url, "batch_size_rows": 1, **extra}


def most_in_any_window(calls: list[RequestRecord], seconds: float) -> int:
    """The most calls HubSpot received within any `seconds`."""
    arrivals = sorted(call.at for call in calls)
    return max(sum(1 for t in arrivals if start <= t < start + seconds) for start in arrivals)


def most_in_flight(calls: list[RequestRecord]) -> int:
    """The most calls HubSpot was working on at once."""
    events = sorted([(call.at, 1) for call in calls] + [(call.answered_at, -1) for call in calls])
    in_flight = peak = 0
    for _, change in events:
        in_flight += change
        peak = max(peak, in_flight)
    return peak


def in_flight_at_arrivals(calls: list[RequestRecord]) -> list[int]:
    """For each call, in arrival order, how many HubSpot was working on once it arrived."""
    ordered = sorted(calls, key=lambda call: call.at)
    return [
        sum(1 for other in ordered if other.at <= call.at < (other.answered_at or float("inf")))
        for call in ordered
    ]


def answered_calls(hubspot: HubSpotEmulator, path_suffix: str) -> int:
    return sum(1 for call in hubspot.calls(path_suffix) if call.answered_at is not None)


def test_calls_in_flight_grow_with_hubspots_latency(tmp_path):
    with local_hubspot(rate_limit=40, interval_ms=1000, latency=0.5) as hubspot:
        result = run_target(tmp_path, settings(hubspot), contacts_input(60))

        assert result.returncode == 0, result.stderr
        assert len(hubspot.contacts) == 60
        # 40 calls a second at half a second each need about 20 in flight.
        assert most_in_flight(hubspot.calls("/batch/upsert")) >= 12


def test_max_concurrency_bounds_the_calls_in_flight(tmp_path):
    with local_hubspot(rate_limit=40, interval_ms=1000, latency=0.3) as hubspot:
        config = settings(hubspot, max_concurrency=3)
        result = run_target(tmp_path, config, contacts_input(20))

        assert result.returncode == 0, result.stderr
        assert len(hubspot.contacts) == 20
        assert most_in_flight(hubspot.calls("/batch/upsert")) <= 3


@pytest.mark.parametrize("status", [503, 423])
def test_calls_in_flight_drop_when_hubspot_struggles_then_grow_back(status, tmp_path):
    most = 24
    # A window that never binds, but spaces the first calls out, so they do not go in waves.
    with local_hubspot(rate_limit=60, interval_ms=1000, latency=0.5) as hubspot:
        target = start_target(tmp_path, settings(hubspot, max_concurrency=most))
        target.stdin.write(contacts_input(180))
        target.stdin.flush()
        deadline = time.monotonic() + 60
        while answered_calls(hubspot, "/batch/upsert") < most:  # calls in flight settled
            assert target.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # One failure, retried at once (Retry-After: 0, 423's least wait aside), so that
        # the calls in flight drop because the target backs off, not because calls wait to retry.
        hubspot.inject("/batch/upsert", status=status, headers={"Retry-After": "0"})
        target.communicate(timeout=120)

        assert target.returncode == 0
        assert len(hubspot.contacts) == 180
        calls = sorted(hubspot.calls("/batch/upsert"), key=lambda call: call.at)
    in_flight = in_flight_at_arrivals(calls)
    failed = next(n for n, call in enumerate(calls) if call.status == status)
    after = [n for n, call in enumerate(calls) if call.at > calls[failed].answered_at]
    assert len(after) >= 3 * most, "the failure came too late in the run to see its effect"
    before = max(in_flight[:failed])
    next_round = min(in_flight[n] for n in after[:most])
    later = max(in_flight[n] for n in after[most:])
    # Calls in flight halve once HubSpot fails one (the calls answered meanwhile grow them
    # back by half a call each, so they bottom out near two thirds)...
    assert before >= most - 2, in_flight
    assert next_round <= 0.75 * before, in_flight
    # ...and grow back to what they were as HubSpot answers again.
    assert later >= 0.9 * before, in_flight


def test_without_rate_limit_headers_at_most_100_calls_go_in_any_10_seconds(tmp_path):
    with local_hubspot(rate_limit=None, daily_limit=None) as hubspot:
        result = run_target(tmp_path, settings(hubspot), contacts_input(110))

        assert result.returncode == 0, result.stderr
        assert len(hubspot.contacts) == 110
        calls = hubspot.requests
    assert not any(name.startswith("X-HubSpot-RateLimit") for name in calls[-1].response_headers)
    assert len(calls) == 111  # the property definitions, then 110 upserts
    assert most_in_any_window(calls, 10.0) <= 100


def test_rate_limit_share_keeps_to_its_share_of_the_window(tmp_path):
    with local_hubspot(rate_limit=20, interval_ms=1000) as hubspot:
        config = settings(hubspot, rate_limit_share=0.5)
        result = run_target(tmp_path, config, contacts_input(30))

        assert result.returncode == 0, result.stderr
        assert len(hubspot.contacts) == 30
        assert [call for call in hubspot.requests if call.status == 429] == []
        assert most_in_any_window(hubspot.requests, 1.0) <= 10


def test_daily_reserve_stops_before_the_budget_falls_below_it(tmp_path):
    with local_hubspot(daily_limit=40) as hubspot:
        config = settings(hubspot, daily_reserve=0.5)
        result = run_target(tmp_path, config, contacts_input(40))

        assert result.returncode == 1
        message = result.stderr.strip().splitlines()[-1]  # the error that ends the run
        assert "daily HubSpot API budget (40 calls a day)" in message
        assert "`daily_reserve` (0.5, 20 calls kept" in message
        assert "20 calls are left today" in message
        assert "a later run resumes from the last STATE" in message
        answered = [call for call in hubspot.requests if call.status == 200]
        assert len(answered) == 20  # the properties read and 19 upserts
        assert (
            min(int(c.response_headers["X-HubSpot-RateLimit-Daily-Remaining"]) for c in answered)
            == 20
        )


def test_after_the_daily_reserve_stop_state_covers_what_was_written_and_a_rerun_resumes(tmp_path):
    with local_hubspot(daily_limit=60, latency=0.3) as hubspot:
        config = settings(hubspot, daily_reserve=0.5)
        result = run_target(tmp_path, config, contacts_input(40))

        assert result.returncode == 1
        last = printed_states(result.stdout)[-1]["n"]
        written = {n for n in range(1, 41) if hubspot.contact(f"person{n}@example.com")}
        # Every upsert that fits above the reserve of 30 calls went out, and those in flight
        # when the reserve was reached finished: STATE covers all of them.
        assert len(written) == 29
        assert last == min(set(range(1, 41)) - written) - 1

        hubspot.new_day()
        rerun = run_target(tmp_path, config, contacts_input(40 - last, first=last + 1))

        assert rerun.returncode == 0, rerun.stderr
        assert len(hubspot.contacts) == 40
        assert printed_states(rerun.stdout)[-1] == {"n": 40}


def test_daily_reserve_is_ignored_with_a_warning_for_oauth(tmp_path):
    with local_hubspot(daily_limit=10) as hubspot:
        hubspot.add_oauth_client(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)
        config = {
            "api_url": hubspot.url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN,
            "daily_reserve": 0.9,
        }
        result = run_target(tmp_path, config, contacts_input(5))

        assert result.returncode == 0, result.stderr
        assert len(hubspot.contacts) == 5
        assert "`daily_reserve` is ignored: OAuth calls have no daily limit" in result.stderr


def test_shares_outside_their_range_are_refused_naming_the_setting(hubspot, tmp_path):
    config = settings(hubspot, rate_limit_share=0, daily_reserve=1)

    result = run_target(tmp_path, config, contacts_input(1))

    assert result.returncode == 1
    assert "config['rate_limit_share']" in result.stderr
    assert "config['daily_reserve']" in result.stderr
    assert hubspot.requests == []
