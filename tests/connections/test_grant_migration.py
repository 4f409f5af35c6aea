"""Existing connections move into shared grants without anyone reconnecting: the migration
keeps, per Salesforce user, the tokens of the connection that works and was refreshed last,
and every workspace of that user looks up with them at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from app.auth import mint_token
from app.config import Settings
from app.crypto import TokenCipher
from app.main import create_app
from tests.helpers.database import SERVER_URL, admin, migrate, with_database
from tests.helpers.factories import grant_from_emulator
from tests.helpers.lookups import lookup

BEFORE = "0007_writeback_key_attempts"
ACME = "00D5g000003GIV7EAO"


@pytest.fixture
async def old_database() -> AsyncIterator[str]:
    """A database of its own, at the revision before shared grants."""
    name = f"sfint_grants_{uuid.uuid4().hex[:10]}"
    await admin(f'CREATE DATABASE "{name}"')
    url = with_database(SERVER_URL, name)
    try:
        await asyncio.to_thread(
            migrate, url.replace("postgresql://", "postgresql+asyncpg://", 1), BEFORE
        )
        yield url
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def insert_old_connection(
    conn: asyncpg.Connection,
    cipher: TokenCipher,
    workspace_id: str,
    grant: dict[str, Any],
    *,
    status: str = "connected",
    refreshed_at: datetime | None = None,
) -> None:
    org_id, user_id = grant["id"].rstrip("/").split("/")[-2:]
    await conn.execute(
        """INSERT INTO salesforce_connections (id, workspace_id, status, environment, login_url,
            instance_url, identity_url, organization_id, user_id, username, scopes,
            access_token_encrypted, refresh_token_encrypted, connected_by, tokens_refreshed_at,
            status_reason)
        VALUES ($1, $2, $3, 'production', $4, $4, $5, $6, $7, 'someone', '[]', $8, $9, 'u',
            $10, $11)""",
        uuid.uuid4(),
        workspace_id,
        status,
        grant["instance_url"],
        grant["id"],
        org_id,
        user_id,
        cipher.encrypt(grant["access_token"]),
        cipher.encrypt(grant["refresh_token"]),
        refreshed_at,
        "grant_expired_or_revoked" if status != "connected" else None,
    )


async def test_connections_move_into_shared_grants_and_keep_working(
    old_database: str, make_settings: Any, sf_emulator: Any
) -> None:
    host = sf_emulator.base_url.split("://", 1)[1]
    settings: Settings = make_settings(
        database_url=old_database.replace("postgresql://", "postgresql+asyncpg://", 1),
        salesforce_login_url=sf_emulator.base_url,
        salesforce_sandbox_login_url=sf_emulator.base_url,
        salesforce_extra_allowed_hosts=host,
    )
    cipher = TokenCipher(settings.encryption_keys)
    admin_user = sf_emulator.org(ACME).default_user.username
    older = await grant_from_emulator(sf_emulator.base_url, admin_user)
    newer = await grant_from_emulator(sf_emulator.base_url, admin_user)
    sales = await grant_from_emulator(sf_emulator.base_url, "sales@acme.example")
    sf_emulator.revoke_token(older["refresh_token"])  # ws-1's own grant had died
    now = datetime.now(UTC)
    conn = await asyncpg.connect(old_database)
    try:
        await insert_old_connection(
            conn, cipher, "ws-1", older, status="reauthorization_required", refreshed_at=now
        )
        await insert_old_connection(conn, cipher, "ws-2", newer, refreshed_at=now - timedelta(1))
        await insert_old_connection(conn, cipher, "ws-3", sales)
    finally:
        await conn.close()

    await asyncio.to_thread(migrate, settings.async_database_url)

    conn = await asyncpg.connect(old_database)
    try:
        grants = await conn.fetch("SELECT * FROM salesforce_grants ORDER BY user_id")
        rows = {
            r["workspace_id"]: r for r in await conn.fetch("SELECT * FROM salesforce_connections")
        }
    finally:
        await conn.close()
    assert len(grants) == 2 and {g["method"] for g in grants} == {"web_server"}
    assert rows["ws-1"]["grant_id"] == rows["ws-2"]["grant_id"] != rows["ws-3"]["grant_id"]
    shared = next(g for g in grants if g["id"] == rows["ws-1"]["grant_id"])
    assert cipher.decrypt(shared["refresh_token_encrypted"]) == newer["refresh_token"]
    assert rows["ws-1"]["status"] == "connected" and rows["ws-1"]["status_reason"] is None
    assert "access_token_encrypted" not in rows["ws-1"]

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

            def auth(ws: str = "ws-1", role: str = "agent") -> dict[str, str]:
                token = mint_token(settings, workspace_id=ws, role=role, user_id="u")
                return {"Authorization": f"Bearer {token}"}

            for ws in ("ws-1", "ws-2", "ws-3"):
                answer = await lookup(client, auth, ws=ws, email="ana.souza@example.com")
                assert answer.status_code == 200, answer.text
                assert answer.json()["matched"] is True
            status = await client.get(
                "/v1/workspaces/ws-2/salesforce/connection", headers=auth("ws-2")
            )
            assert status.json()["shared_grant_workspaces"] == 2

    # And back: each connection gets its grant's tokens again.
    await asyncio.to_thread(migrate, settings.async_database_url, BEFORE, down=True)
    conn = await asyncpg.connect(old_database)
    try:
        back = await conn.fetch("SELECT * FROM salesforce_connections ORDER BY workspace_id")
    finally:
        await conn.close()
    assert [cipher.decrypt(r["refresh_token_encrypted"]) for r in back] == [
        newer["refresh_token"],
        newer["refresh_token"],
        sales["refresh_token"],
    ]
