"""A do-nothing singer-sdk target: the baseline the benchmark compares the real target with.

It reads, validates and parses records exactly as any singer-sdk target does (default
settings, `validate_records` on) and then throws every batch away, so its CPU time is the
floor set by the SDK itself.

    python benchmarks/noop_target.py --config config.json < input.singer
"""

from __future__ import annotations

from singer_sdk import typing as th
from singer_sdk.sinks import BatchSink
from singer_sdk.target_base import Target


class NoopSink(BatchSink):
    """Keeps each batch as the SDK hands it over, then drops it."""

    def process_batch(self, context: dict) -> None:
        """Do nothing with the batch."""


class NoopTarget(Target):
    """Accepts any stream and writes nothing."""

    name = "target-noop"
    config_jsonschema = th.PropertiesList().to_dict()
    default_sink_class = NoopSink


if __name__ == "__main__":
    NoopTarget.cli()
