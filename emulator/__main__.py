"""Run the Salesforce emulator in the foreground.

python -m emulator [--host 127.0.0.1] [--port 8555] [--seed PATH]
                   [--latency-ms N] [--rotate-refresh-tokens]
"""

from __future__ import annotations

import argparse
import logging

import uvicorn

from .salesforce import SalesforceEmulator, create_app

log = logging.getLogger("emulator")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8555)
    parser.add_argument("--seed", default=None, help="seed JSON (default: the bundled seed)")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--rotate-refresh-tokens", action="store_true")
    parser.add_argument("--client-id", default="emulator-client-id")
    parser.add_argument("--client-secret", default="emulator-client-secret")
    parser.add_argument(
        "--base-url", default=None, help="public URL if not http://HOST:PORT (e.g. behind a proxy)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    state = SalesforceEmulator(
        args.seed,
        rotate_refresh_tokens=args.rotate_refresh_tokens,
        latency_ms=args.latency_ms,
        client_id=args.client_id,
        client_secret=args.client_secret,
    )
    state.base_url = args.base_url or f"http://{args.host}:{args.port}"
    log.info("Salesforce emulator at %s (login host = instance)", state.base_url)
    log.info("Connected App: client_id=%s client_secret=%s", state.client_id, state.client_secret)
    for org in state.orgs.values():
        api = "REST API on" if org.api_enabled else "REST API disabled"
        log.info("org %s %r (%s, %s)", org.id, org.name, org.edition, api)
        for user in org.users.values():
            log.info("    user %s  password %s  (%s)", user.username, user.password, user.id)
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
