"""Run the respond.io emulator standalone: ``python -m emulator.respondio [--port 8556]``."""

from __future__ import annotations

import argparse

import uvicorn

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
    args = parser.parse_args(argv)
    state = RespondioEmulator(
        allowed_tokens=args.tokens,
        rate_limit_per_second=args.rate_limit,
        latency_ms=args.latency_ms,
    )
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
