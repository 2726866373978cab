"""Command line: `hubspot-emulator` or `python -m target_hubspot_contacts.emulator`."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from target_hubspot_contacts.emulator.routing import COUNT_AT, COUNT_ON_ARRIVAL
from target_hubspot_contacts.emulator.server import Fault, HubSpotEmulator, make_fault


def build_parser() -> argparse.ArgumentParser:
    """The emulator's command-line options."""
    parser = argparse.ArgumentParser(
        prog="hubspot-emulator",
        description="Serve a local HubSpot contacts API on loopback until SIGTERM or Ctrl-C.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (0 = any free port)")
    parser.add_argument("--port-file", type=Path, help="write the chosen port here once listening")
    parser.add_argument(
        "--token", default="pat-test", help="private-app token to accept ('' = none)"
    )
    parser.add_argument(
        "--scopes",
        help="comma-separated scopes granted to every token (default: all contact scopes)",
    )
    parser.add_argument(
        "--rate-limit", type=int, default=190, help="calls per window (0 = no limit)"
    )
    parser.add_argument("--interval-ms", type=int, default=10_000, help="rolling window length")
    parser.add_argument(
        "--daily-limit", type=int, default=1_000_000, help="calls per day (0 = no limit)"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every call")
    parser.add_argument(
        "--count-at",
        choices=COUNT_AT,
        default=COUNT_ON_ARRIVAL,
        help="count a call against the rate limits as it arrives (as HubSpot does, the default) "
        "or once its latency has passed",
    )
    parser.add_argument(
        "--token-ttl", type=int, default=1800, help="OAuth access token lifetime (s)"
    )
    parser.add_argument(
        "--oauth-client",
        action="append",
        default=[],
        metavar="ID:SECRET:REFRESH",
        help="accept this OAuth app and refresh token (repeatable)",
    )
    parser.add_argument(
        "--rotate-refresh-tokens", action="store_true", help="issue a new refresh token per refresh"
    )
    parser.add_argument(
        "--no-partial-upserts",
        action="store_true",
        help="fail a whole upsert call for one bad input, as HubSpot's docs describe",
    )
    parser.add_argument(
        "--dated-only",
        action="store_true",
        help="answer /v1/../v4/ paths with 404 'Unable to route', as after HubSpot retires them",
    )
    parser.add_argument(
        "--require-property",
        action="append",
        default=[],
        type=parse_rule,
        metavar="NAME[:PROPERTY=VALUE]",
        help="a portal validation rule, enforced on writes through 2026-09 paths: NAME is "
        "required (only while PROPERTY holds VALUE) (repeatable)",
    )
    parser.add_argument(
        "--error-shape",
        choices=("embedded", "listed"),
        default="embedded",
        help="validation errors name their property inside the message (embedded) or only "
        "in an `errors` list (listed)",
    )
    parser.add_argument(
        "--untraced-errors",
        action="store_true",
        help="leave objectWriteTraceId out of 207 errors (the target must find the culprits)",
    )
    parser.add_argument(
        "--max-request-bytes",
        type=int,
        default=0,
        help="answer 413 to a request body larger than this (0 = no limit)",
    )
    parser.add_argument(
        "--portal-id",
        type=int,
        help="the account id that GET /account-info/.../details names (default 24681357)",
    )
    parser.add_argument(
        "--account-details-scope",
        metavar="SCOPE",
        help="the scope GET /account-info/.../details requires (HubSpot's docs list `oauth`; "
        "default: none)",
    )
    parser.add_argument(
        "--no-token-hub-id",
        action="store_true",
        help="leave hub_id (the portal id) out of the dated token endpoints' answers",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        type=parse_fault,
        metavar="PATH_SUFFIX:STATUS[page]|drop[xTIMES]",
        help="fail matching calls, e.g. /batch/upsert:503x3, /batch/upsert:drop, or "
        "/batch/upsert:521page (a CDN's HTML error page, without HubSpot's marks) "
        "(repeatable); at run time: POST /_emulator/faults with inject()'s arguments as JSON",
    )
    return parser


def parse_fault(spec: str) -> Fault:
    """`/batch/upsert:503x3` -> three 503s; `/batch/upsert:drop` -> one dropped connection;
    `/batch/upsert:521page` -> one 521 with a CDN's HTML page."""
    path_suffix, _, what = spec.rpartition(":")
    kind, _, times = what.partition("x")
    try:
        if kind == "drop":
            return make_fault(path_suffix, drop_connection=True, times=int(times or 1))
        if kind.endswith("page"):
            status = int(kind.removesuffix("page"))
            page = f"<!DOCTYPE html><title>{status}: an error page from a CDN</title>"
            return make_fault(path_suffix, status=status, raw_body=page, times=int(times or 1))
        return make_fault(path_suffix, status=int(kind), times=int(times or 1))
    except ValueError:
        msg = f"not a fault: {spec!r} (expected e.g. /batch/upsert:503x3 or /batch/upsert:drop)"
        raise argparse.ArgumentTypeError(msg) from None


def parse_rule(spec: str) -> tuple[str, dict[str, str] | None]:
    """`company` -> always required; `company:lifecyclestage=customer` -> required then."""
    name, _, condition = spec.partition(":")
    other, equals, value = condition.partition("=")
    if not name or (condition and not (other and equals)):
        msg = f"not a rule: {spec!r} (expected NAME or NAME:PROPERTY=VALUE)"
        raise argparse.ArgumentTypeError(msg)
    return name, ({other: value} if condition else None)


def build_emulator(args: argparse.Namespace) -> HubSpotEmulator:
    """An emulator configured from parsed options."""
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()] if args.scopes else None
    emulator = HubSpotEmulator(
        access_token=args.token or None,
        scopes=scopes,
        rate_limit=args.rate_limit or None,
        interval_ms=args.interval_ms,
        daily_limit=args.daily_limit or None,
        latency=args.latency_ms / 1000,
        count_at=args.count_at,
        token_ttl=args.token_ttl,
        partial_upserts=not args.no_partial_upserts,
        dated_only=args.dated_only,
        error_shape=args.error_shape,
        traced_errors=not args.untraced_errors,
        max_request_bytes=args.max_request_bytes or None,
        portal_id=args.portal_id,
        account_details_scope=args.account_details_scope,
        token_hub_id=not args.no_token_hub_id,
        host=args.host,
        port=args.port,
    )
    for fault in args.fault:
        emulator.inject(
            fault.path_suffix,
            status=fault.status,
            drop_connection=fault.drop_connection,
            times=fault.times,
            raw_body=fault.raw_body,
        )
    for name, when in args.require_property:
        emulator.require_property(name, when)
    for spec in args.oauth_client:
        client_id, client_secret, refresh_token = spec.split(":", 2)
        emulator.add_oauth_client(
            client_id, client_secret, refresh_token, rotate=args.rotate_refresh_tokens
        )
    return emulator


def _write_port_file(path: Path, port: int) -> None:
    """Write atomically, so a script polling for the file never reads it half written."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(f"{port}\n", encoding="utf-8")
    os.replace(partial, path)


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until SIGTERM or SIGINT; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if any(spec.count(":") < 2 for spec in args.oauth_client):
        parser.error("--oauth-client takes ID:SECRET:REFRESH")
    stopping = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    emulator = build_emulator(args)
    try:
        emulator.start()
    except OSError as exc:
        parser.exit(1, f"hubspot-emulator: cannot listen on {args.host}:{args.port}: {exc}\n")
    try:
        if args.port_file:
            _write_port_file(args.port_file, emulator.port)
        print(f"HubSpot emulator listening on {emulator.url}", flush=True)
        while not stopping.wait(0.2):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
