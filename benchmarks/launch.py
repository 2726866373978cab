"""Run one command and write its own resource usage (CPU, peak memory, wall) as JSON.

Why a separate process: Linux carries the memory high-water mark of the process that calls
exec into the new program's `ru_maxrss`, so a target started straight from the benchmark
(which holds the emulator's data) would report the benchmark's peak, not its own. Started
from this small launcher it reports its own. The command inherits stdin, stdout and stderr.

    python benchmarks/launch.py USAGE.json TIMEOUT_S command [args...]
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import threading
import time


def main(argv: list[str]) -> int:
    """Run the command, write its usage to the JSON file, exit with its exit code."""
    if len(argv) < 3:
        sys.exit("usage: launch.py USAGE.json TIMEOUT_S command [args...]")
    usage_path, timeout, command = pathlib.Path(argv[0]), float(argv[1]), argv[2:]
    started = time.perf_counter()
    process = subprocess.Popen(command)
    watchdog = threading.Timer(timeout, process.kill)
    watchdog.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        watchdog.cancel()
    wall = time.perf_counter() - started
    process.returncode = returncode = os.waitstatus_to_exitcode(status)
    report = {
        "wall": wall,
        "user": usage.ru_utime,
        "system": usage.ru_stime,
        "max_rss_kib": usage.ru_maxrss,  # KiB on Linux
        "returncode": returncode,
    }
    usage_path.write_text(json.dumps(report), encoding="utf-8")
    return returncode if returncode >= 0 else 128 - returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
