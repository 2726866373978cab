"""Benchmark the installed target as a process against the local HubSpot emulator.

Measures, and prints as markdown tables with the goal beside each figure:

* throughput (contacts/s) against a 190-per-10-s limit at several latencies per call
  (50 ms to 2 s) with the target's default settings, then with `rate_limit_share: 0.5`:
  a percentage of the ceiling (calls per window x 100 contacts / window) over whole windows,
  429s, the most calls in flight and the busiest window as the emulator saw them;
* CPU seconds per 10,000 records with no latency and no binding limit, beside a
  do-nothing singer-sdk target (`noop_target.py`) run on the same input in the same run;
* peak memory (max RSS) for a small and a large input.

Each target runs as its own process, started through `launch.py`, which waits for it with
`os.wait4` and reports its CPU time and peak memory. The emulator runs in this process.

    .venv/bin/python benchmarks/run.py              # defaults: about 6 minutes on 2 cores
    .venv/bin/python benchmarks/run.py --only throughput --sweep-windows 2   # quicker sweep
    .venv/bin/python benchmarks/run.py --profile    # also profile the target's CPU time
    .venv/bin/python benchmarks/run.py --help
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import datetime as dt
import json
import math
import os
import pathlib
import platform
import pstats
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from importlib import metadata

from target_hubspot_contacts.emulator import HubSpotEmulator

if t.TYPE_CHECKING:
    from target_hubspot_contacts.emulator import RequestRecord

HERE = pathlib.Path(__file__).resolve().parent
TOKEN = "pat-na1-00000000-benchmark-token"  # a fake token for the local emulator
STREAM = "contacts"
STATE_EVERY = 1_000
CONTACTS_PER_CALL = 100
UPSERT_SUFFIX = "/batch/upsert"
RECORDS_PER_CPU_FIGURE = 10_000

GOAL_THROUGHPUT_PCT = 95.0
GOAL_MAX_429_SHARE = 0.01  # more 429s than this share of the calls is a storm
GOAL_CPU_RATIO = 1.5

COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Corp")
TITLES = ("Engineer", "Manager", "Director", "Analyst", "Founder", "Designer")
PLANS = ("free", "Pro Plan", "enterprise", "pro", "Free", "Enterprise")  # values and labels

SCHEMA = {
    "type": "object",
    "properties": {
        "email": {"type": ["string"]},
        "first_name": {"type": ["string", "null"]},
        "last_name": {"type": ["string", "null"]},
        "company": {"type": ["string", "null"]},
        "job_title": {"type": ["string", "null"]},
        "signup_date": {"type": ["string", "null"], "format": "date"},
        "last_login_at": {"type": ["string", "null"], "format": "date-time"},
        "is_customer": {"type": ["boolean", "null"]},
        "lifetime_value": {"type": ["number", "null"]},
        "plan": {"type": ["string", "null"]},
    },
}


# --- input ------------------------------------------------------------------------------


def contact_record(number: int) -> dict[str, t.Any]:
    """A valid, unique contact record; the fields match the emulator's properties by name."""
    day = dt.date(2020, 1, 1) + dt.timedelta(days=number % 1_500)
    login = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=number * 37)
    return {
        "email": f"bench.person{number}@example.com",
        "first_name": f"Person{number}",
        "last_name": f"Bench{number % 997}",
        "company": COMPANIES[number % len(COMPANIES)],
        "job_title": TITLES[number % len(TITLES)],
        "signup_date": day.isoformat(),
        "last_login_at": login.isoformat().replace("+00:00", "Z"),
        "is_customer": number % 3 == 0,
        "lifetime_value": round((number % 10_000) * 1.37, 2),
        "plan": PLANS[number % len(PLANS)],
    }


def singer_lines(count: int) -> t.Iterator[str]:
    """SCHEMA, then `count` RECORDs with a STATE after every STATE_EVERY of them."""
    schema = {"type": "SCHEMA", "stream": STREAM, "schema": SCHEMA, "key_properties": ["email"]}
    yield json.dumps(schema)
    for number in range(count):
        yield json.dumps({"type": "RECORD", "stream": STREAM, "record": contact_record(number)})
        if (number + 1) % STATE_EVERY == 0 or number + 1 == count:
            yield json.dumps({"type": "STATE", "value": final_bookmark(number + 1)})


def input_file(workdir: pathlib.Path, count: int) -> pathlib.Path:
    """The `.singer` input with `count` records, written on first use."""
    path = workdir / f"contacts-{count}.singer"
    if not path.exists():
        partial = path.with_name(path.name + ".partial")
        with partial.open("w", encoding="utf-8") as out:
            for line in singer_lines(count):
                out.write(line + "\n")
        partial.replace(path)
    return path


# --- running a target as a process -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ProcessRun:
    """What one target process cost: wall and CPU seconds, peak memory, exit code."""

    label: str
    wall: float
    cpu: float  # user + system seconds of the child (all its threads)
    max_rss_mib: float
    returncode: int
    stdout: pathlib.Path
    stderr: pathlib.Path

    def check(self) -> None:
        """Stop the benchmark if the process failed: its figures would mean nothing."""
        if self.returncode != 0:
            tail = self.stderr.read_text(errors="replace")[-3_000:]
            sys.exit(f"{self.label} exited with {self.returncode}; stderr ends:\n{tail}")


def clean_env() -> dict[str, str]:
    """The environment without TARGET_* settings leaking into the targets' configs."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TARGET_")}


def run_process(
    command: list[str], stdin: pathlib.Path, workdir: pathlib.Path, label: str, timeout: float
) -> ProcessRun:
    """Run `command` on `stdin` through `launch.py`, which reports the command's own usage.

    The launcher waits for the command with `os.wait4`; going through it keeps this
    process's memory out of the command's `ru_maxrss` (see launch.py).
    """
    stdout, stderr = workdir / f"{label}.out", workdir / f"{label}.err"
    usage_path = workdir / f"{label}.usage.json"
    usage_path.unlink(missing_ok=True)
    launcher = [sys.executable, str(HERE / "launch.py"), str(usage_path), str(timeout)]
    with stdin.open("rb") as source, stdout.open("wb") as out, stderr.open("wb") as err:
        subprocess.run(
            [*launcher, *command],
            stdin=source,
            stdout=out,
            stderr=err,
            env=clean_env(),
            timeout=timeout + 30,
            check=False,
        )
    if not usage_path.exists():
        sys.exit(f"{label}: the launcher reported nothing; see {stderr}")
    usage = json.loads(usage_path.read_text(encoding="utf-8"))
    return ProcessRun(
        label=label,
        wall=usage["wall"],
        cpu=usage["user"] + usage["system"],
        max_rss_mib=usage["max_rss_kib"] / 1024,
        returncode=usage["returncode"],
        stdout=stdout,
        stderr=stderr,
    )


def write_config(workdir: pathlib.Path, name: str, config: dict[str, t.Any]) -> pathlib.Path:
    """Write a JSON config file and return its path."""
    path = workdir / f"{name}.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def target_config(
    workdir: pathlib.Path,
    emulator: HubSpotEmulator,
    args: argparse.Namespace,
    settings: dict[str, t.Any] | None = None,
) -> pathlib.Path:
    """The target's config for this emulator: these settings, its defaults otherwise."""
    config: dict[str, t.Any] = {"access_token": TOKEN, "api_url": emulator.url}
    if args.max_concurrency:
        config["max_concurrency"] = args.max_concurrency
    config.update(settings or {})
    return write_config(workdir, "target-config", config)


def target_command(config: pathlib.Path) -> list[str]:
    """The installed target, run as a module."""
    return [sys.executable, "-m", "target_hubspot_contacts", "--config", str(config)]


def noop_command(config: pathlib.Path) -> list[str]:
    """The do-nothing singer-sdk target."""
    return [sys.executable, str(HERE / "noop_target.py"), "--config", str(config)]


def fast_emulator(args: argparse.Namespace) -> HubSpotEmulator:
    """An emulator with no latency and a rate limit too high to bind (see `--open-limit`)."""
    limit = args.open_limit or None
    return HubSpotEmulator(
        access_token=TOKEN, rate_limit=limit, daily_limit=None, latency=0.0, dated_only=True
    )


def run_target(
    args: argparse.Namespace,
    workdir: pathlib.Path,
    emulator: HubSpotEmulator,
    count: int,
    label: str,
    settings: dict[str, t.Any] | None = None,
) -> ProcessRun:
    """Run the real target on `count` records against `emulator`; check all were written."""
    config = target_config(workdir, emulator, args, settings)
    run = run_process(
        target_command(config), input_file(workdir, count), workdir, label, args.timeout
    )
    run.check()
    written = emulator.stats()["contacts"]
    if written != count:
        sys.exit(f"{label}: {written} contacts in the emulator, expected {count}")
    if count and last_state(run.stdout) != final_bookmark(count):
        sys.exit(f"{label}: the last STATE printed is not the input's last; see {run.stdout}")
    return run


def final_bookmark(count: int) -> dict[str, t.Any]:
    """The value of the last STATE in an input of `count` records."""
    return {"bookmarks": {STREAM: {"replication_key_value": count}}}


def last_state(stdout: pathlib.Path) -> dict[str, t.Any] | None:
    """The last STATE value a target printed, if any."""
    lines = [line for line in stdout.read_text(encoding="utf-8").splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None


def run_noop(args: argparse.Namespace, workdir: pathlib.Path, count: int, label: str) -> ProcessRun:
    """Run the do-nothing target on the same input."""
    config = write_config(workdir, "noop-config", {})
    run = run_process(
        noop_command(config), input_file(workdir, count), workdir, label, args.timeout
    )
    run.check()
    return run


# --- throughput ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RateRun:
    """One rate-limited run: its latency and share, what it costs (a process)."""

    latency_ms: float
    share: float
    process: ProcessRun


@dataclasses.dataclass(frozen=True)
class Throughput:
    """Upsert calls seen by the emulator during one rate-limited run."""

    latency_ms: float
    share: float
    contacts: int
    calls: int
    rate_limited: int
    span: float  # first call's arrival to last call's answer, seconds
    windows: list[int]  # calls arriving in each whole rate-limit window from the first call
    window_seconds: float
    limit: int  # calls per window the app may make
    peak_in_flight: int  # most calls HubSpot was working on at once
    busiest_window: int  # most calls HubSpot received within any one window
    process: ProcessRun

    @property
    def ceiling(self) -> float:
        """Contacts/s the app's whole limit allows."""
        return self.limit * CONTACTS_PER_CALL / self.window_seconds

    @property
    def share_ceiling(self) -> float:
        """Contacts/s this run's share of the limit allows."""
        return math.floor(self.share * self.limit) * CONTACTS_PER_CALL / self.window_seconds

    @property
    def rate(self) -> float:
        """Contacts written per second from the first call to the last answer."""
        return self.contacts / self.span

    @property
    def windowed_rate(self) -> float:
        """Contacts per second over whole windows only (cannot exceed the ceiling)."""
        return sum(self.windows) * CONTACTS_PER_CALL / (len(self.windows) * self.window_seconds)

    @property
    def windowed_pct(self) -> float:
        """The whole-window rate as a percentage of the share's ceiling."""
        return 100 * self.windowed_rate / self.share_ceiling


def most_within(times: list[float], span: float) -> int:
    """The most of these times that fall within any `span` seconds."""
    times = sorted(times)
    return max((bisect.bisect_left(times, t + span) - i for i, t in enumerate(times)), default=0)


def peak_concurrency(calls: list[RequestRecord]) -> int:
    """The most calls in the emulator's hands at once."""
    events = sorted([(c.at, 1) for c in calls] + [(c.answered_at or c.at, -1) for c in calls])
    peak = in_flight = 0
    for _, change in events:
        in_flight += change
        peak = max(peak, in_flight)
    return peak


def summarize_calls(
    requests: list[RequestRecord], args: argparse.Namespace, run: RateRun
) -> Throughput:
    """Throughput figures from the emulator's log of requests."""
    calls = [call for call in requests if call.path.endswith(UPSERT_SUFFIX)]
    ok = [call for call in calls if 200 <= call.status < 300]
    first = min(call.at for call in calls)
    last = max(call.answered_at or call.at for call in ok)
    window = args.interval_ms / 1000
    windows = [
        sum(1 for call in ok if first + index * window <= call.at < first + (index + 1) * window)
        for index in range(int((last - first) // window))
    ]
    return Throughput(
        latency_ms=run.latency_ms,
        share=run.share,
        contacts=sum(len(call.body["inputs"]) for call in ok),
        calls=len(calls),
        rate_limited=sum(1 for call in requests if call.status == 429),
        span=last - first,
        windows=windows,
        window_seconds=window,
        limit=args.rate_limit,
        peak_in_flight=peak_concurrency(calls),
        busiest_window=most_within([c.at for c in requests if c.status != 429], window),
        process=run.process,
    )


def records_for(args: argparse.Namespace, share: float) -> int:
    """Contacts that keep a run at its ceiling for `--sweep-windows` whole windows and a half."""
    per_window = math.floor(share * args.rate_limit) * CONTACTS_PER_CALL
    return int((args.sweep_windows + 0.5) * per_window)


def measure_rate(
    args: argparse.Namespace, workdir: pathlib.Path, latency_ms: float, share: float
) -> Throughput:
    """Run the target against an emulator with this latency and a rolling-window limit."""
    count = records_for(args, share)
    emulator = HubSpotEmulator(
        access_token=TOKEN,
        rate_limit=args.rate_limit,
        interval_ms=args.interval_ms,
        daily_limit=None,
        latency=latency_ms / 1000,
        dated_only=True,  # as HubSpot after retiring /v1/-/v4/ paths
    ).start()
    settings = {} if share == 1 else {"rate_limit_share": share}
    label = f"rate-{latency_ms:g}ms-share-{share:g}"
    try:
        process = run_target(args, workdir, emulator, count, label, settings)
        requests = emulator.requests
    finally:
        emulator.stop()
    return summarize_calls(requests, args, RateRun(latency_ms, share, process))


def measure_sweep(args: argparse.Namespace, workdir: pathlib.Path) -> list[Throughput]:
    """One run per latency with the target's defaults, then one with `--share`."""
    runs = [measure_rate(args, workdir, latency, 1.0) for latency in args.latencies]
    if args.share < 1:
        runs.append(measure_rate(args, workdir, args.share_latency_ms, args.share))
    return runs


# --- CPU and memory ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CpuComparison:
    """Repeated runs of the target and the do-nothing target on the same input."""

    records: int
    target: list[ProcessRun]
    noop: list[ProcessRun]
    target_startup: ProcessRun
    noop_startup: ProcessRun

    def per_figure(self, runs: list[ProcessRun]) -> float:
        """Median CPU seconds, scaled to RECORDS_PER_CPU_FIGURE records."""
        return statistics.median(run.cpu for run in runs) * RECORDS_PER_CPU_FIGURE / self.records

    def per_figure_past_startup(self, runs: list[ProcessRun], startup: ProcessRun) -> float:
        """Median CPU seconds beyond startup, scaled to RECORDS_PER_CPU_FIGURE records."""
        extra = statistics.median(run.cpu for run in runs) - startup.cpu
        return extra * RECORDS_PER_CPU_FIGURE / self.records

    @property
    def ratio(self) -> float:
        """The target's CPU time over the do-nothing target's."""
        return self.per_figure(self.target) / self.per_figure(self.noop)


def measure_cpu(args: argparse.Namespace, workdir: pathlib.Path) -> CpuComparison:
    """Alternate target and do-nothing runs on one input; also time startup on no records."""
    count = args.cpu_records
    target_runs, noop_runs = [], []
    for repeat in range(args.repeat):
        with fast_emulator(args) as emulator:
            target_runs.append(run_target(args, workdir, emulator, count, f"cpu-target-{repeat}"))
        noop_runs.append(run_noop(args, workdir, count, f"cpu-noop-{repeat}"))
    with fast_emulator(args) as emulator:
        target_startup = run_target(args, workdir, emulator, 0, "startup-target")
    noop_startup = run_noop(args, workdir, 0, "startup-noop")
    return CpuComparison(count, target_runs, noop_runs, target_startup, noop_startup)


@dataclasses.dataclass(frozen=True)
class MemoryRun:
    """Peak memory of the target and the do-nothing target on one input size."""

    records: int
    max_concurrency: int | None  # None: the target's default
    target: ProcessRun
    noop: ProcessRun | None
    peak_in_flight: int


def measure_memory(args: argparse.Namespace, workdir: pathlib.Path) -> list[MemoryRun]:
    """Run both targets once per input size with no latency and no binding limit, calls in
    flight capped alike so only the input size differs; then the largest with the defaults."""
    runs = [(count, args.memory_max_concurrency) for count in args.memory_records]
    runs.append((max(args.memory_records), None))
    results = []
    for count, concurrency in runs:
        settings = {"max_concurrency": concurrency} if concurrency else {}
        label = f"memory-target-{count}-{concurrency or 'default'}"
        with fast_emulator(args) as emulator:
            target = run_target(args, workdir, emulator, count, label, settings)
            peak = peak_concurrency(emulator.calls(UPSERT_SUFFIX))
        noop = (
            None
            if args.skip_noop_memory or concurrency is None
            else run_noop(args, workdir, count, f"memory-noop-{count}")
        )
        results.append(MemoryRun(count, concurrency, target, noop, peak))
    return results


# --- profile ----------------------------------------------------------------------------

AREAS = (  # (label, substrings of "path function"), first match wins
    (
        "imports and startup",
        ("<frozen", "<module>", "marshal", "builtins.exec", "_imp.", "/re/_", "builtins.compile"),
    ),
    ("jsonschema validation", ("jsonschema", "referencing", "rpds")),
    (
        "JSON decoding (input lines, HTTP answers)",
        ("json/decoder.py", "json/scanner.py", "json/__init__.py loads", "scanstring"),
    ),
    ("JSON encoding of request bodies", ("json/encoder.py", "json/__init__.py dumps", "_json.")),
    ("singer-sdk (reading, parsing dates, sinks)", ("singer_sdk",)),
    ("our mapping (mapping.py)", ("target_hubspot_contacts/mapping.py",)),
    ("our sink, writer, client, state", ("target_hubspot_contacts/",)),
    (
        "HTTP (requests, urllib3, http.client, sockets)",
        ("requests/", "urllib3/", "http/", "socket", "ssl", "email/", "idna", "charset_normalizer"),
    ),
    ("threads and locks", ("threading.py", "concurrent/futures", "queue.py", "_thread")),
    ("logging", ("logging/",)),
)


def area_of(path: str, function: str) -> str:
    """The area a profiled Python function belongs to."""
    where = f"{path} {function}"
    for label, needles in AREAS:
        if any(needle in where for needle in needles):
            return label
    return "other"


def tottime_by_area(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Own (tottime) seconds summed per area, largest first.

    A built-in (`isinstance`, `dict.get`, a socket read) counts for the code calling it,
    split by what each caller spent in it.
    """
    totals: dict[str, float] = {}
    for (path, _line, function), row in stats.stats.items():  # type: ignore[attr-defined]
        callers = row[4]
        if path == "~" and callers:
            shares = [(area_of(caller[0], caller[2]), edge[2]) for caller, edge in callers.items()]
        else:
            shares = [(area_of(path, function), row[2])]
        for area, seconds in shares:
            totals[area] = totals.get(area, 0.0) + seconds
    return sorted(totals.items(), key=lambda item: -item[1])


def profile_target(args: argparse.Namespace, workdir: pathlib.Path) -> pathlib.Path:
    """Profile the target (all threads) on the CPU input; write and return the report."""
    count = args.cpu_records
    out = workdir / "target.prof"
    with fast_emulator(args) as emulator:
        config = target_config(workdir, emulator, args)
        command = [
            sys.executable,
            str(HERE / "profile_target.py"),
            str(out),
            "--config",
            str(config),
        ]
        run_process(command, input_file(workdir, count), workdir, "profile", args.timeout).check()
    report = workdir / "profile.txt"
    with report.open("w", encoding="utf-8") as text:
        stats = pstats.Stats(str(out), stream=text).strip_dirs()
        total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
        text.write(
            f"Profile of the target on {count:,} records, all threads: {total:.2f} thread CPU s "
            "under the profiler, whose overhead inflates them several times; read the shares.\n\n"
        )
        text.write("Own time by area:\n")
        for area, seconds in tottime_by_area(pstats.Stats(str(out))):
            text.write(f"  {area:<48} {seconds:6.2f} s {100 * seconds / total:5.1f} %\n")
        for order in ("cumulative", "tottime"):
            text.write(f"\nTop 25 by {order}:\n")
            stats.sort_stats(order).print_stats(25)
    return report


# --- report ----------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    """A word for the table."""
    return "met" if ok else "**missed**"


def sweep_table(runs: list[Throughput]) -> str:
    """A markdown table with one row per rate-limited run."""
    lines = [
        "| latency per call | `rate_limit_share` | contacts/s over whole windows "
        "| first call to last answer | 429s / calls | most calls in flight "
        "| busiest window (calls) | goal | |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        storms = run.rate_limited > GOAL_MAX_429_SHARE * run.calls
        met = run.windowed_pct >= GOAL_THROUGHPUT_PCT and not storms
        lines.append(
            f"| {run.latency_ms:,.0f} ms | {run.share:g} "
            f"| {run.windowed_rate:,.0f} = {run.windowed_pct:.1f} % of {run.share_ceiling:,.0f} "
            f"| {run.rate:,.0f}/s | {run.rate_limited} / {run.calls:,} | {run.peak_in_flight} "
            f"| {run.busiest_window} of {run.limit} "
            f"| >= {GOAL_THROUGHPUT_PCT:g} %, no 429 storm | {verdict(met)} |"
        )
    return "\n".join(lines)


def cpu_rows(result: CpuComparison) -> list[tuple[str, ...]]:
    """Table rows for the CPU comparison."""
    target, noop = result.per_figure(result.target), result.per_figure(result.noop)
    marginal = result.per_figure_past_startup(result.target, result.target_startup)
    marginal_noop = result.per_figure_past_startup(result.noop, result.noop_startup)
    per = f"per {RECORDS_PER_CPU_FIGURE:,} records"
    return [
        (
            f"CPU s {per} (no latency, limit never binds; median of {len(result.target)})",
            f"{target:.2f} s target vs {noop:.2f} s do-nothing = {result.ratio:.2f}x",
            f"<= {GOAL_CPU_RATIO:g}x",
            verdict(result.ratio <= GOAL_CPU_RATIO),
        ),
        (
            "CPU s for a SCHEMA alone: startup, included above",
            f"{result.target_startup.cpu:.2f} s target vs {result.noop_startup.cpu:.2f} s",
            "",
            "",
        ),
        (
            f"CPU s {per} beyond startup",
            f"{marginal:.2f} s target vs {marginal_noop:.2f} s = {marginal / marginal_noop:.2f}x",
            "",
            "",
        ),
    ]


def memory_rows(results: list[MemoryRun]) -> list[tuple[str, ...]]:
    """Table rows for peak memory."""
    capped = [result for result in results if result.max_concurrency]
    rows = []
    for result in capped:
        noop = f" (do-nothing: {result.noop.max_rss_mib:.0f} MiB)" if result.noop else ""
        rows.append(
            (
                f"Peak memory, {result.records:,} records, `max_concurrency` "
                f"{result.max_concurrency}",
                f"{result.target.max_rss_mib:.0f} MiB{noop}",
                "flat in input size",
                "",
            )
        )
    if len(capped) > 1:
        growth = capped[-1].target.max_rss_mib - capped[0].target.max_rss_mib
        rows[-1] = (*rows[-1][:3], verdict(growth < 0.25 * capped[0].target.max_rss_mib))
    rows += [
        (
            f"Peak memory, {result.records:,} records, default settings",
            f"{result.target.max_rss_mib:.0f} MiB, {result.peak_in_flight} calls in flight at most",
            "bounded by calls in flight",
            "",
        )
        for result in results
        if not result.max_concurrency
    ]
    return rows


def markdown_table(rows: list[tuple[str, ...]]) -> str:
    """A markdown table of (measure, result, goal, verdict) rows."""
    lines = ["| Measure | Result | Goal | |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def environment() -> str:
    """One line naming the machine and versions the figures come from."""
    return (
        f"Python {platform.python_version()}, singer-sdk {metadata.version('singer-sdk')}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    )


def details(
    throughput: list[Throughput], cpu: CpuComparison | None, memory: list[MemoryRun]
) -> list[str]:
    """Raw numbers behind the table, for whoever wonders."""
    lines = []
    for run in throughput:
        lines.append(
            f"- {run.latency_ms:g} ms, share {run.share:g}: {run.contacts:,} contacts; upsert "
            f"calls arriving in each whole {run.window_seconds:g} s window {run.windows}; "
            f"process wall {run.process.wall:.1f} s, CPU {run.process.cpu:.1f} s"
        )
    if cpu is not None:
        for name, runs in (("target", cpu.target), ("do-nothing", cpu.noop)):
            cpu_s = ", ".join(f"{run.cpu:.2f}" for run in runs)
            wall_s = ", ".join(f"{run.wall:.2f}" for run in runs)
            lines.append(f"- {name} on {cpu.records:,} records: CPU s {cpu_s}; wall s {wall_s}")
    for result in memory:
        runs = [("target", result.target), ("do-nothing", result.noop)]
        described = [
            f"{name} CPU {run.cpu:.1f} s, wall {run.wall:.1f} s, peak {run.max_rss_mib:.0f} MiB"
            for name, run in runs
            if run is not None
        ]
        concurrency = result.max_concurrency or "default"
        lines.append(
            f"- {result.records:,} records, max_concurrency {concurrency}: " + "; ".join(described)
        )
    return lines


# --- command line -----------------------------------------------------------------------


def counts(text: str) -> list[int]:
    """A comma-separated list of record counts."""
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--latencies",
        type=counts,
        default=[50, 150, 500, 1_000, 2_000],
        help="comma-separated emulator latencies (ms per call) for the sweep, default settings",
    )
    parser.add_argument(
        "--sweep-windows",
        type=int,
        default=3,
        help="whole rate-limit windows each sweep run lasts (its contacts follow from it)",
    )
    parser.add_argument(
        "--share", type=float, default=0.5, help="rate_limit_share of the extra run (1 = none)"
    )
    parser.add_argument(
        "--share-latency-ms", type=float, default=150.0, help="latency of the extra run"
    )
    parser.add_argument("--rate-limit", type=int, default=190, help="calls per window")
    parser.add_argument("--interval-ms", type=int, default=10_000, help="rate-limit window")
    parser.add_argument("--cpu-records", type=int, default=10_000, help="records for CPU runs")
    parser.add_argument("--repeat", type=int, default=5, help="CPU runs of each target")
    parser.add_argument(
        "--memory-records",
        type=counts,
        default=[10_000, 200_000],
        help="comma-separated record counts for peak memory (default 10000,200000)",
    )
    parser.add_argument(
        "--skip-noop-memory", action="store_true", help="no do-nothing runs for memory"
    )
    parser.add_argument(
        "--memory-max-concurrency",
        type=int,
        default=8,
        help="max_concurrency of the memory runs compared by input size (then one more run "
        "with the target's default)",
    )
    parser.add_argument(
        "--max-concurrency", type=int, help="the target's max_concurrency (default: its own)"
    )
    parser.add_argument(
        "--only",
        choices=("throughput", "cpu", "memory"),
        action="append",
        help="run only these measurements (repeatable)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="also profile the target on the CPU input"
    )
    parser.add_argument(
        "--workdir", type=pathlib.Path, help="keep inputs, logs and profile here (default: temp)"
    )
    parser.add_argument(
        "--open-limit",
        type=int,
        default=1_000_000,
        help="calls per window for the CPU and memory runs: high enough never to bind, but "
        "announced in X-HubSpot-RateLimit-* headers; 0 = no limit and no headers, so the "
        "target paces itself at its default 100 calls per 10 s",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per process")
    return parser


def run_all(args: argparse.Namespace, workdir: pathlib.Path) -> None:
    """Run the chosen measurements and print the tables."""
    only = set(args.only or ("throughput", "cpu", "memory"))
    started = time.perf_counter()
    throughput = measure_sweep(args, workdir) if "throughput" in only else []
    cpu = measure_cpu(args, workdir) if "cpu" in only else None
    memory = measure_memory(args, workdir) if "memory" in only else []
    report = profile_target(args, workdir) if args.profile else None
    if throughput:
        limit = f"{args.rate_limit} calls per {args.interval_ms / 1000:g} s"
        print(f"Throughput against a limit of {limit}, 100 contacts per call:\n")
        print(sweep_table(throughput))
        print()
    rows = cpu_rows(cpu) if cpu is not None else []
    rows += memory_rows(memory)
    if rows:
        print(markdown_table(rows))
        print()
    for line in details(throughput, cpu, memory):
        print(line)
    print(f"- {environment()}")
    print(f"- command: `{shlex.join(sys.orig_argv)}`")
    print(f"- benchmark run time: {time.perf_counter() - started:.0f} s")
    if report is not None:
        print(f"\n{report.read_text(encoding='utf-8')}")


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the benchmark in a work directory, print the results."""
    args = build_parser().parse_args(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        run_all(args, args.workdir)
        return 0
    with tempfile.TemporaryDirectory(prefix="hubspot-bench-") as workdir:
        run_all(args, pathlib.Path(workdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
