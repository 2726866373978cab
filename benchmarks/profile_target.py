"""Run the target under cProfile with every thread profiled, and write one merged stats file.

`python -m cProfile` sees only the main thread, but the target sends its HTTP calls (and
encodes their JSON) in worker threads; here each thread gets its own profiler and all of
them are merged when the target exits. Profilers count thread CPU time, not wall time,
so a thread waiting for an answer or a lock costs nothing.

    python benchmarks/profile_target.py OUT.prof --config config.json < input.singer
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import threading
import time
import typing as t

_finished: list[cProfile.Profile] = []
_lock = threading.Lock()


def _profiling(run: t.Callable[[threading.Thread], None]) -> t.Callable[[threading.Thread], None]:
    """Wrap `Thread.run` so that each thread runs under its own profiler."""

    def profiled_run(self: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)
        try:
            profile.runcall(run, self)
        finally:
            with _lock:
                _finished.append(profile)

    return profiled_run


def _run_target() -> None:
    """Import and run the target's command line (the import counts in the profile too)."""
    from target_hubspot_contacts.target import TargetHubSpotContacts  # noqa: PLC0415

    TargetHubSpotContacts.cli()


def _dump(main: cProfile.Profile, path: str) -> None:
    """Merge the main thread's profile with every finished worker thread's and save it."""
    stats = pstats.Stats(main)
    with _lock:
        for profile in _finished:
            stats.add(profile)
    stats.dump_stats(path)


def main(argv: list[str]) -> None:
    """`argv` is the output path followed by the target's own arguments."""
    if not argv:
        sys.exit("usage: profile_target.py OUT.prof [target arguments...]")
    out, target_args = argv[0], argv[1:]
    sys.argv = ["target-hubspot-contacts", *target_args]
    threading.Thread.run = _profiling(threading.Thread.run)  # type: ignore[method-assign]
    profile = cProfile.Profile(time.thread_time)
    try:
        profile.runcall(_run_target)
    finally:
        _dump(profile, out)


if __name__ == "__main__":
    main(sys.argv[1:])
