"""Run the respond.io emulator standalone: ``python -m emulator.respondio [--port 8556]``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvicorn

from emulator.persistence import keep_state, load
from emulator.respondio import RespondioEmulator, create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulator.respondio", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8556)
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        help="requests per second allowed per token (default: unlimited)",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument(
        "--token",
        action="append",
        dest="tokens",
        help="accept only these tokens (repeatable; default: any non-empty token)",
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        help="keep the contacts and switches in this file across restarts",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    restored = load(args.state_file, RespondioEmulator) if args.state_file else None
    state = restored or RespondioEmulator(
        allowed_tokens=args.tokens,
        rate_limit_per_second=args.rate_limit,
        latency_ms=args.latency_ms,
    )
    app = create_app(state)
    if args.state_file:
        keep_state(app, args.state_file, state)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
