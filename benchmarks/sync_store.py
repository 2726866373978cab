"""Benchmark skipping unchanged rows: the same 100,000 contacts sent twice with `skip_unchanged`.

Prints a markdown table: HubSpot calls, wall time and peak memory of the first run (every contact
written) and of the rerun on the same input (every contact unchanged), then CPU per record on
that unchanged path beside a do-nothing singer-sdk target (`noop_target.py`) on the same input,
and the unchanged run's peak memory for a small input beside the large one (memory stays flat).
The first run goes against the local HubSpot server with latency and a rate limit like a real
portal's; the reruns make no write call, so only their own CPU bounds them. The first run sets
`full_resync`, so it writes every contact even where a store kept in `--workdir` (or named by
`--store`) remembers an earlier invocation's.

    .venv/bin/python benchmarks/sync_store.py
    .venv/bin/python benchmarks/sync_store.py --store postgresql+psycopg://user@host/db
    .venv/bin/python benchmarks/sync_store.py --help
"""

from __future__ import annotations

import argparse
import contextlib
import pathlib
import shlex
import statistics
import sys
import tempfile
import time

from run import (
    GOAL_CPU_RATIO,
    RECORDS_PER_CPU_FIGURE,
    TOKEN,
    ProcessRun,
    environment,
    final_bookmark,
    input_file,
    last_state,
    markdown_table,
    noop_command,
    run_process,
    target_command,
    verdict,
    write_config,
)

from target_hubspot_contacts.emulator import HubSpotEmulator


def run_sync(
    args: argparse.Namespace,
    workdir: pathlib.Path,
    emulator: HubSpotEmulator,
    label: str,
    *,
    records: int,
    full_resync: bool = False,
) -> tuple[ProcessRun, int]:
    """One run of the target with `skip_unchanged` on the first `records` contacts; its usage
    and the batch calls it made. `full_resync` writes every contact, remembered or not."""
    config = {
        "access_token": TOKEN,
        "api_url": emulator.url,
        "skip_unchanged": True,
        "full_resync": full_resync,
        "sync_store": args.store or str(workdir / "sync.db"),
    }
    calls_before = batch_calls(emulator)
    source = input_file(workdir, records)
    command = target_command(write_config(workdir, f"{label}-config", config))
    run = run_process(command, source, workdir, label, args.timeout)
    run.check()
    if last_state(run.stdout) != final_bookmark(records):
        sys.exit(f"{label}: the last STATE printed is not the input's last; see {run.stdout}")
    return run, batch_calls(emulator) - calls_before


def batch_calls(emulator: HubSpotEmulator) -> int:
    """Calls to the contact batch endpoints so far."""
    by_path = emulator.stats()["requestsByPath"]
    return sum(count for path, count in by_path.items() if "/batch/" in path)


def run_noop(args: argparse.Namespace, workdir: pathlib.Path, label: str) -> ProcessRun:
    """The do-nothing target on the same input."""
    config = write_config(workdir, "noop-config", {})
    source = input_file(workdir, args.records)
    run = run_process(noop_command(config), source, workdir, label, args.timeout)
    run.check()
    return run


def measure(args: argparse.Namespace, workdir: pathlib.Path) -> list[tuple[str, ...]]:
    """Run everything; the table's rows."""
    input_file(workdir, args.records)
    emulator = HubSpotEmulator(
        access_token=TOKEN,
        rate_limit=args.rate_limit,
        interval_ms=args.interval_ms,
        daily_limit=None,
        latency=args.latency_ms / 1000,
        dated_only=True,  # as HubSpot after retiring /v1/-/v4/ paths
    ).start()
    try:
        first, first_calls = run_sync(
            args, workdir, emulator, "first", records=args.records, full_resync=True
        )
        if emulator.stats()["contacts"] != args.records:
            sys.exit(f"first run: {emulator.stats()['contacts']} contacts, not {args.records}")
        reruns, noops = [], []
        for repeat in range(args.repeat):
            reruns.append(
                run_sync(args, workdir, emulator, f"unchanged-{repeat}", records=args.records)
            )
            noops.append(run_noop(args, workdir, f"noop-{repeat}"))
        small, small_calls = run_sync(
            args, workdir, emulator, "unchanged-small", records=args.small_records
        )
    finally:
        emulator.stop()
    if small_calls:
        sys.exit(f"unchanged-small: {small_calls} batch calls for rows the store remembers")
    return [*rows(args, first, first_calls, reruns, noops), memory_row(args, small, reruns)]


def rows(
    args: argparse.Namespace,
    first: ProcessRun,
    first_calls: int,
    reruns: list[tuple[ProcessRun, int]],
    noops: list[ProcessRun],
) -> list[tuple[str, ...]]:
    """Table rows for the two runs and the CPU comparison."""
    rerun = reruns[0][0]
    rerun_calls = max(calls for _, calls in reruns)
    per = RECORDS_PER_CPU_FIGURE / args.records
    target_cpu = statistics.median(run.cpu for run, _ in reruns) * per
    noop_cpu = statistics.median(run.cpu for run in noops) * per
    where = f"{args.latency_ms:g} ms latency, {args.rate_limit} calls per {args.interval_ms} ms"
    return [
        (
            f"First run, {args.records:,} new contacts ({where})",
            f"{first_calls:,} batch calls, {first.wall:.1f} s wall, {first.max_rss_mib:.0f} MiB",
            "",
            "",
        ),
        (
            f"Same input again, all unchanged (first of {len(reruns)})",
            f"{rerun_calls:,} batch calls, {rerun.wall:.1f} s wall, {rerun.max_rss_mib:.0f} MiB",
            "0 calls",
            verdict(rerun_calls == 0),
        ),
        (
            f"CPU s per {RECORDS_PER_CPU_FIGURE:,} unchanged records (median of {len(reruns)})",
            f"{target_cpu:.2f} s target vs {noop_cpu:.2f} s do-nothing = "
            f"{target_cpu / noop_cpu:.2f}x",
            f"<= {GOAL_CPU_RATIO:g}x",
            verdict(target_cpu / noop_cpu <= GOAL_CPU_RATIO),
        ),
    ]


def memory_row(
    args: argparse.Namespace, small: ProcessRun, reruns: list[tuple[ProcessRun, int]]
) -> tuple[str, ...]:
    """The unchanged run's peak memory for the small input beside the large one."""
    large = max(run.max_rss_mib for run, _ in reruns)
    return (
        f"Peak memory, all unchanged, {args.small_records:,} / {args.records:,} records",
        f"{small.max_rss_mib:.0f} MiB / {large:.0f} MiB",
        "flat in input size",
        "",
    )


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="contacts in the input")
    parser.add_argument(
        "--small-records",
        type=int,
        default=10_000,
        help="the smaller input whose unchanged run's peak memory is shown beside --records'",
    )
    parser.add_argument("--latency-ms", type=float, default=150.0, help="emulator latency per call")
    parser.add_argument("--rate-limit", type=int, default=190, help="calls per window")
    parser.add_argument("--interval-ms", type=int, default=10_000, help="rate-limit window")
    parser.add_argument("--repeat", type=int, default=3, help="unchanged and do-nothing runs")
    parser.add_argument(
        "--store", help="sync_store for the target (default: a SQLite file in the work dir)"
    )
    parser.add_argument(
        "--workdir", type=pathlib.Path, help="keep inputs, logs and the store here (default: temp)"
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per process")
    return parser


def report(args: argparse.Namespace, workdir: pathlib.Path) -> None:
    """Measure and print the table."""
    started = time.perf_counter()
    print(markdown_table(measure(args, workdir)))
    print()
    print(f"- {environment()}")
    print(f"- command: `{shlex.join(sys.orig_argv)}`")
    print(f"- benchmark run time: {time.perf_counter() - started:.0f} s")


def main(argv: list[str] | None = None) -> int:
    """Parse options, run in a work directory (a temporary one by default), print the results."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 < args.small_records < args.records:
        parser.error("--small-records must be above 0 and below --records")
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    temporary = tempfile.TemporaryDirectory(prefix="hubspot-sync-bench-")
    with contextlib.nullcontext(args.workdir) if args.workdir else temporary as workdir:
        report(args, pathlib.Path(workdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
