"""Run the Salesforce emulator in the foreground.

python -m emulator [--host 127.0.0.1] [--port 8555] [--pubsub-port 8557] [--seed PATH]
                   [--latency-ms N] [--rotate-refresh-tokens]
                   [--callback-url URL ...] [--no-pkce-required]
                   [--state-file PATH]

The connected app accepts only its registered callback URLs: the defaults, each
--callback-url, and PUBLIC_BASE_URL + /v1/salesforce/oauth/callback when that
environment variable is set (the service's redirect URI).
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import uvicorn

from .persistence import keep_state, load
from .salesforce import SalesforceEmulator, create_app
from .salesforce.pubsub_server import start_pubsub_server

log = logging.getLogger("emulator")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8555)
    parser.add_argument("--pubsub-port", type=int, default=8557, help="Pub/Sub API; 0: none")
    parser.add_argument("--seed", default=None, help="seed JSON (default: the bundled seed)")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--rotate-refresh-tokens", action="store_true")
    parser.add_argument("--client-id", default="emulator-client-id")
    parser.add_argument("--client-secret", default="emulator-client-secret")
    parser.add_argument(
        "--base-url", default=None, help="public URL if not http://HOST:PORT (e.g. behind a proxy)"
    )
    parser.add_argument(
        "--callback-url",
        action="append",
        default=[],
        help="register another OAuth callback URL on the connected app (repeatable)",
    )
    parser.add_argument(
        "--no-pkce-required", action="store_true", help="the connected app does not require PKCE"
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        help="keep the state (grants, records, switches) in this file across restarts",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    restored = load(args.state_file, SalesforceEmulator) if args.state_file else None
    state = restored or SalesforceEmulator(
        args.seed,
        rotate_refresh_tokens=args.rotate_refresh_tokens,
        latency_ms=args.latency_ms,
        client_id=args.client_id,
        client_secret=args.client_secret,
    )
    state.base_url = args.base_url or f"http://{args.host}:{args.port}"
    connected_app = state.apps[state.client_id]
    service = os.environ.get("PUBLIC_BASE_URL")
    extra = list(args.callback_url)
    if service:
        extra.append(service.rstrip("/") + "/v1/salesforce/oauth/callback")
    connected_app.callback_urls += [u for u in extra if u not in connected_app.callback_urls]
    connected_app.require_pkce = not args.no_pkce_required
    log.info("Salesforce emulator at %s (login host = instance)", state.base_url)
    log.info("Connected App: client_id=%s client_secret=%s", state.client_id, state.client_secret)
    log.info(
        "Callback URLs: %s (PKCE required: %s)",
        ", ".join(connected_app.callback_urls),
        connected_app.require_pkce,
    )
    for org in state.orgs.values():
        api = "REST API on" if org.api_enabled else "REST API disabled"
        log.info("org %s %r (%s, %s)", org.id, org.name, org.edition, api)
        for user in org.users.values():
            log.info("    user %s  password %s  (%s)", user.username, user.password, user.id)
    if args.pubsub_port:
        pubsub = start_pubsub_server(state, args.host, args.pubsub_port)
        log.info("Pub/Sub API (change events, gRPC) at %s", pubsub.address)
    app = create_app(state)
    if args.state_file:
        keep_state(app, args.state_file, state)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
