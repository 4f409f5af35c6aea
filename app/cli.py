"""Project command line: `python -m app.cli <command>` (also installed as `sfint`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.config import get_settings

if TYPE_CHECKING:
    from app.crypto import TokenCipher
    from app.db import Database


def _dev_token(args: argparse.Namespace) -> int:
    import os

    from app.auth import mint_token

    # A development tool: without ENVIRONMENT it mints with the development secret that
    # `make run` uses (a configured SERVICE_JWT_SECRET still wins).
    os.environ.setdefault("ENVIRONMENT", "development")
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


@dataclass
class RotationReport:
    """Per table: rows read, values re-encrypted under the first key, values that no
    configured key can decrypt (left as they are)."""

    rows: dict[str, int] = field(default_factory=dict)
    rotated: dict[str, int] = field(default_factory=dict)
    undecryptable: dict[str, int] = field(default_factory=dict)


def encrypted_columns() -> dict[str, list[str]]:
    """Every `*_encrypted` column of every table on Base.metadata, so new tables are covered."""
    import app.models  # noqa: F401 - registers the tables on Base.metadata
    from app.db import Base

    found: dict[str, list[str]] = {}
    for table in Base.metadata.sorted_tables:
        names = [c.name for c in table.columns if c.name.endswith("_encrypted")]
        if names:
            found[table.name] = names
    return found


async def rotate_encryption_keys(
    db: Database, cipher: TokenCipher, *, batch_size: int = 500
) -> RotationReport:
    """Re-encrypt every encrypted column under the first of TOKEN_ENCRYPTION_KEYS.

    Batches walk each table in primary-key order, one short transaction per batch; the rows
    of a batch are locked (FOR UPDATE) so a token refresh writing the same row meanwhile
    waits instead of being overwritten by the re-encrypted old value.
    """
    from cryptography.fernet import InvalidToken
    from sqlalchemy import select, tuple_, update

    from app.db import Base

    report = RotationReport()
    for table_name, column_names in encrypted_columns().items():
        table = Base.metadata.tables[table_name]
        key_columns = list(table.primary_key.columns)
        columns = [table.c[name] for name in column_names]
        report.rows[table_name] = report.rotated[table_name] = 0
        report.undecryptable[table_name] = 0
        last: tuple[Any, ...] | None = None
        while True:
            query = select(*key_columns, *columns).order_by(*key_columns).limit(batch_size)
            if last is not None:
                query = query.where(tuple_(*key_columns) > tuple_(*last))
            async with db.transaction() as session:
                rows = (await session.execute(query.with_for_update())).all()
                for row in rows:
                    key = tuple(row[: len(key_columns)])
                    values: dict[str, str] = {}
                    for column, ciphertext in zip(columns, row[len(key_columns) :], strict=True):
                        if ciphertext is None:
                            continue
                        try:
                            values[column.name] = cipher.rotate(ciphertext)
                        except InvalidToken:
                            report.undecryptable[table_name] += 1
                    if values:
                        await session.execute(
                            update(table)
                            .where(*(c == v for c, v in zip(key_columns, key, strict=True)))
                            .values(**values)
                        )
                        report.rotated[table_name] += len(values)
                    last = key
            report.rows[table_name] += len(rows)
            if len(rows) < batch_size:
                break
    return report


def _rotate_keys(args: argparse.Namespace) -> int:
    from app.crypto import TokenCipher
    from app.db import Database

    settings = get_settings()
    if not settings.database_url:
        print("DATABASE_URL is not set", file=sys.stderr)
        return 2

    async def run() -> RotationReport:
        db = Database.for_settings(settings, pool_size=2)
        try:
            return await rotate_encryption_keys(
                db, TokenCipher(settings.encryption_keys), batch_size=args.batch_size
            )
        finally:
            await db.dispose()

    report = asyncio.run(run())
    for table in report.rows:
        print(
            f"{table}: rows={report.rows[table]} rotated={report.rotated[table]} "
            f"undecryptable={report.undecryptable[table]}"
        )
    return 1 if any(report.undecryptable.values()) else 0


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

    rotate = sub.add_parser(
        "rotate-keys",
        help="re-encrypt every stored secret under the first of TOKEN_ENCRYPTION_KEYS "
        "(then the old keys can be removed)",
    )
    rotate.add_argument("--batch-size", type=int, default=500)
    rotate.set_defaults(func=_rotate_keys)

    run = sub.add_parser(
        "run",
        help="development: embedded PostgreSQL when DATABASE_URL is unset, emulators, "
        "migrations, workers and the service",
    )
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=None, help="default: PORT, else 8000")
    run.add_argument("--no-emulators", action="store_true")
    run.set_defaults(func=_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
