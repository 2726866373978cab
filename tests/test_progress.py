"""The `Progress:` line a long run logs every `progress_interval` seconds (30 by default)."""

from __future__ import annotations

import re

from tests.helpers import TOKEN, contact, lines, local_hubspot, record, run_target, schema

PROGRESS = re.compile(
    r"Progress: (?P<read>[\d,]+) records read in \d+ s; (?P<written>[\d,]+) contacts written "
    r"\((?P<created>[\d,]+) created, (?P<updated>[\d,]+) updated\), (?P<rejected>[\d,]+) "
    r"rejected.*; (?P<calls>[\d,]+) API calls; rate window (?P<used>\d+)/(?P<limit>\d+) calls "
    r"per (?P<window>[\d.]+) s in use(?:, about (?P<others>[\d,]+) more by the app's other "
    r"work)?, (?P<wait>.*)\.$"
)


PAUSED = r"waiting for room now: paused (?P<paused>[\d.]+) s more, as a 429 asked"


def progress_lines(stderr: str) -> list[re.Match]:
    found = [PROGRESS.search(line) for line in stderr.splitlines() if "Progress:" in line]
    assert all(found), [line for line in stderr.splitlines() if "Progress:" in line]
    return found


def one_by_one(count: int) -> str:
    """Contacts that go one to a call, the first one rejected."""
    messages = [schema(), record({"email": "not-an-email"})]
    return lines(messages + [record(contact(n)) for n in range(1, count)])


def test_a_slow_run_logs_progress_lines_that_count_up_to_the_summary(hubspot, config, tmp_path):
    hubspot.latency = 0.3
    config.update(
        progress_interval=0.2,
        batch_size_rows=1,
        max_concurrency=1,
        rejects_path=str(tmp_path / "rejects.jsonl"),
        max_rejects=1,
    )

    result = run_target(tmp_path, config, one_by_one(8))

    assert result.returncode == 0, result.stderr
    found = progress_lines(result.stderr)
    assert len(found) >= 3  # the run takes at least 7 calls x 0.3 s
    created = [int(match["created"]) for match in found]
    assert created == sorted(created), "figures only grow"
    assert 0 < created[-1] <= 7
    assert int(found[-1]["read"]) == 8
    assert int(found[-1]["rejected"]) == 1
    assert int(found[-1]["calls"]) >= created[-1]
    assert "7 created" in result.stderr.split("Progress:")[-1]  # then the summary


def test_a_dry_runs_progress_line_says_what_would_be_written_not_what_was(
    hubspot, config, tmp_path
):
    hubspot.latency = 0.3
    config.update(
        dry_run=True,
        progress_interval=0.2,
        batch_size_rows=1,
        max_concurrency=1,
        rejects_path=str(tmp_path / "rejects.jsonl"),
        max_rejects=1,
    )

    result = run_target(tmp_path, config, one_by_one(4))

    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if "Progress:" in line]
    assert progress, "the run takes at least 3 lookups x 0.3 s"
    assert all(
        re.search(
            r"Progress: dry run, \d+ records read in \d+ s; \d+ contacts would be written "
            r"\(\d+ created, \d+ updated\), \d+ would be rejected",
            line,
        )
        for line in progress
    ), progress


def test_the_progress_line_says_when_calls_wait_for_the_rate_window(tmp_path):
    with local_hubspot(rate_limit=2, interval_ms=1500) as hubspot:
        config = {
            "access_token": TOKEN,
            "api_url": hubspot.url,
            "progress_interval": 0.1,
            "batch_size_rows": 1,
        }

        result = run_target(
            tmp_path, config, lines([schema(), *map(record, map(contact, range(5)))])
        )

    assert result.returncode == 0, result.stderr
    found = progress_lines(result.stderr)
    assert {(match["limit"], match["window"]) for match in found[-3:]} == {("2", "1.5")}
    assert any(match["wait"] == "waiting for room now" for match in found)
    assert any(match["used"] == "2" for match in found)


def progress_through_a_429(tmp_path, headers: dict[str, str]) -> list[re.Match]:
    """The progress lines of a run whose first upsert hears a 429 with these headers, from a
    server with a 2 s window of 10 calls."""
    with local_hubspot(rate_limit=10, interval_ms=2000) as hubspot:
        hubspot.inject("/batch/upsert", status=429, headers=headers)
        config = {
            "access_token": TOKEN,
            "api_url": hubspot.url,
            "progress_interval": 0.1,
            "batch_size_rows": 1,
        }

        result = run_target(
            tmp_path, config, lines([schema(), *map(record, map(contact, range(3)))])
        )

    assert result.returncode == 0, result.stderr
    return progress_lines(result.stderr)


def test_while_a_429s_retry_after_holds_calls_the_progress_line_says_how_long_more(tmp_path):
    found = progress_through_a_429(tmp_path, {"Retry-After": "2"})

    paused = [
        float(pause["paused"]) for match in found if (pause := re.fullmatch(PAUSED, match["wait"]))
    ]
    assert paused, "a line while the 429's 2 s pause held the calls"
    assert all(0 < seconds <= 2 for seconds in paused)
    assert paused == sorted(paused, reverse=True)


def test_after_a_429_the_progress_line_shows_the_window_filled_by_the_apps_other_work(tmp_path):
    found = progress_through_a_429(tmp_path, {})  # no Retry-After: the window is full

    held = [m for m in found if m["others"] and m["wait"] == "waiting for room now"]
    assert held, "a line while calls waited for the window the 429 showed full"
    in_use = [int(match["used"]) + int(match["others"]) for match in held]
    assert max(in_use) == 10, held  # full, as the 429 said: never more than full


def test_a_progress_interval_of_0_turns_the_lines_off(hubspot, config, tmp_path):
    hubspot.latency = 0.3
    config.update(progress_interval=0, batch_size_rows=1, max_concurrency=1)

    result = run_target(tmp_path, config, lines([schema(), record(contact(1)), record(contact(2))]))

    assert result.returncode == 0, result.stderr
    assert "Progress:" not in result.stderr


def test_a_short_run_logs_no_progress_line_by_default(config, tmp_path):
    result = run_target(tmp_path, config, lines([schema(), record(contact(1))]))

    assert result.returncode == 0, result.stderr
    assert "Progress:" not in result.stderr
