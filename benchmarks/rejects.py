"""Benchmark a run whose records are all rejected before any call (a bad email each).

Prints a markdown table: wall and CPU time of the target as a process on that input, the
records it rejects per second, and the bytes per line of the rejects file it writes, for a
stream with a wide schema (the schema is kept once per stream per run, not on every line).
Records rejected this way share their fsyncs; STATE still waits until they are on disk.

    .venv/bin/python benchmarks/rejects.py
    .venv/bin/python benchmarks/rejects.py --records 50000 --columns 200
    .venv/bin/python benchmarks/rejects.py --help
"""

from __future__ import annotations

import argparse
import contextlib
import json
import pathlib
import shlex
import sys
import tempfile

from run import (
    STREAM,
    TOKEN,
    environment,
    markdown_table,
    run_process,
    target_command,
    write_config,
)

from target_hubspot_contacts.emulator import HubSpotEmulator

STATE_EVERY = 1_000


def input_file(workdir: pathlib.Path, records: int, columns: int) -> pathlib.Path:
    """SCHEMA (email and `columns` more fields), then records with bad emails, STATE every
    STATE_EVERY records."""
    path = workdir / f"rejected-{records}-{columns}.singer"
    fields = {f"column_{number}": {"type": ["string", "null"]} for number in range(columns)}
    schema = {"type": "object", "properties": {"email": {"type": "string"}, **fields}}
    with path.open("w", encoding="utf-8") as out:
        message = {"type": "SCHEMA", "stream": STREAM, "schema": schema, "key_properties": []}
        out.write(json.dumps(message) + "\n")
        for number in range(1, records + 1):
            record = {"email": f"not-an-email-{number}", "column_0": f"value {number}"}
            out.write(json.dumps({"type": "RECORD", "stream": STREAM, "record": record}) + "\n")
            if number % STATE_EVERY == 0 or number == records:
                out.write(json.dumps({"type": "STATE", "value": {"n": number}}) + "\n")
    return path


def measure(args: argparse.Namespace, workdir: pathlib.Path) -> list[tuple[str, ...]]:
    """Run the target once; the table's rows."""
    rejects = workdir / "rejects.jsonl"
    source = input_file(workdir, args.records, args.columns)
    with HubSpotEmulator(
        access_token=TOKEN, rate_limit=None, daily_limit=None, dated_only=True
    ) as emulator:
        config = {
            "access_token": TOKEN,
            "api_url": emulator.url,
            "rejects_path": str(rejects),
            "max_rejects": args.records,
            "progress_interval": 0,
        }
        command = target_command(write_config(workdir, "config", config))
        run = run_process(command, source, workdir, "rejected", args.timeout)
    run.check()
    stdout = run.stdout.read_text(encoding="utf-8").splitlines()
    if not stdout or json.loads(stdout[-1]) != {"n": args.records}:
        sys.exit(f"the last STATE printed is not the input's last; see {run.stdout}")
    lines = rejects.read_text(encoding="utf-8").splitlines()
    if len(lines) != args.records:
        sys.exit(f"{len(lines)} lines in the rejects file, expected {args.records}")
    size = rejects.stat().st_size
    return [
        (
            f"{args.records:,} records rejected before any call, schema of {args.columns + 1} "
            "fields",
            f"{run.wall:.1f} s wall, {run.cpu:.1f} s CPU, {args.records / run.wall:,.0f} records/s",
            "",
            "",
        ),
        ("Rejects file", f"{size / len(lines):,.0f} bytes per line, {size:,} in all", "", ""),
    ]


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000, help="records in the input")
    parser.add_argument("--columns", type=int, default=120, help="fields beside the email")
    parser.add_argument("--workdir", type=pathlib.Path, help="keep files here (default: temp)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds for the run")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse options, run in a work directory (a temporary one by default), print the results."""
    args = build_parser().parse_args(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    temporary = tempfile.TemporaryDirectory(prefix="hubspot-rejects-bench-")
    with contextlib.nullcontext(args.workdir) if args.workdir else temporary as workdir:
        print(markdown_table(measure(args, pathlib.Path(workdir))))
    print()
    print(f"- {environment()}")
    print(f"- command: `{shlex.join(sys.orig_argv)}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
