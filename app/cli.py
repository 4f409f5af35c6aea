"""Project command line: `python -m app.cli <command>` (also installed as `sfint`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from app.config import get_settings


def _dev_token(args: argparse.Namespace) -> int:
    from app.auth import mint_token

    settings = get_settings()
    print(
        mint_token(
            settings, workspace_id=args.workspace, role=args.role, user_id=args.user, ttl=args.ttl
        )
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from alembic import command

    from app.health import alembic_config

    if args.down:
        command.downgrade(alembic_config(), args.revision)
    else:
        command.upgrade(alembic_config(), args.revision)
    return 0


def _run(args: argparse.Namespace) -> int:
    from app.devserver import run_dev

    return run_dev(host=args.host, port=args.port, with_emulators=not args.no_emulators)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sfint", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    token = sub.add_parser("dev-token", help="mint a caller JWT for trying the API (/docs)")
    token.add_argument("--workspace", required=True)
    token.add_argument("--role", choices=["owner", "manager", "agent"], default="owner")
    token.add_argument("--user", default="dev-user")
    token.add_argument("--ttl", type=int, default=8 * 3600, help="seconds the token is valid")
    token.set_defaults(func=_dev_token)

    migrate = sub.add_parser("migrate", help="alembic upgrade to a revision (default head)")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.add_argument("--down", action="store_true", help="downgrade to the revision instead")
    migrate.set_defaults(func=_migrate)

    run = sub.add_parser(
        "run",
        help="development: embedded PostgreSQL when DATABASE_URL is unset, emulators, "
        "migrations, workers and the service",
    )
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--no-emulators", action="store_true")
    run.set_defaults(func=_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
