"""Tokens, codes, states and verifiers are never readable at rest nor written to logs;
`rotate-keys` re-encrypts every stored secret under the new first key."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import select, text

from app import cli
from app.crypto import TokenCipher
from app.models import Connection, OAuthState, SalesforceGrant
from tests.helpers.browser import Browser


def emulator_secrets(sf_emulator: Any) -> set[str]:
    """Every access and refresh token the emulator ever issued."""
    found = set(sf_emulator.access_tokens)
    for grant in sf_emulator.grants.values():
        if grant.refresh_token:
            found.add(grant.refresh_token)
        found |= grant.retired_refresh_tokens
    return found


def formatted(record: logging.LogRecord) -> str:
    """The record as any handler could print it: message, arguments and every extra."""
    return json.dumps(vars(record), default=str) + record.getMessage()


async def raw_rows(app: Any, table: str) -> list[str]:
    async with app.state.services.db.engine.connect() as conn:
        result = await conn.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
        return [json.dumps(list(row), default=str) for row in result]


async def stored_secrets(app: Any) -> set[str]:
    """The plaintext of every secret stored right now."""
    cipher = app.state.services.cipher
    found: set[str] = set()
    async with app.state.services.db.transaction() as session:
        for row in (await session.scalars(select(Connection))).all():
            found.add(cipher.decrypt(row.webhook_key_encrypted))
        for grant in (await session.scalars(select(SalesforceGrant))).all():
            found.add(cipher.decrypt(grant.access_token_encrypted))
            found.add(cipher.decrypt(grant.refresh_token_encrypted))
        for state in (await session.scalars(select(OAuthState))).all():
            found.add(cipher.decrypt(state.code_verifier_encrypted))
    return found


async def test_no_secret_in_the_database_or_the_logs(
    browser: Browser, app: Any, sf_emulator: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    sf_emulator.rotate_refresh_tokens = True

    redirect = await browser.authorize(await browser.start(return_url="https://app.respond.io/x"))
    assert (await browser.callback(redirect)).status_code == 200
    secrets = {redirect.params["code"], redirect.params["state"]} | await stored_secrets(app)
    raw = (
        await raw_rows(app, "salesforce_connections")
        + await raw_rows(app, "salesforce_grants")
        + await raw_rows(app, "oauth_states")
    )

    sf_emulator.expire_access_tokens()
    credentials = await app.state.services.tokens.credentials("ws-1")
    refreshed = await app.state.services.tokens.refresh("ws-1", credentials.access_token)
    assert refreshed.access_token != credentials.access_token
    secrets |= await stored_secrets(app)
    raw += await raw_rows(app, "salesforce_connections") + await raw_rows(app, "salesforce_grants")
    assert (await browser.disconnect()).status_code == 204

    secrets |= emulator_secrets(sf_emulator)
    # code, state, verifier, webhook key, two access tokens, two refresh tokens (rotation)
    assert len(secrets) == 8
    for stored in raw:
        for secret in secrets:
            assert secret not in stored
    events = {r.getMessage() for r in caplog.records}
    assert {
        "salesforce.connect.started",
        "salesforce.connect.completed",
        "salesforce.token.refreshed",
        "salesforce.disconnect",
    } <= events
    completed = next(r for r in caplog.records if r.getMessage() == "salesforce.connect.completed")
    assert completed.workspace_id == "ws-1"  # type: ignore[attr-defined]
    assert completed.organization_id.startswith("00D")  # type: ignore[attr-defined]
    for line in (formatted(r) for r in caplog.records):
        for secret in secrets:
            assert secret not in line, line


async def test_failure_logs_carry_no_secrets(
    browser: Browser, sf_emulator: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    redirect = await browser.authorize(await browser.start())
    bad_code = "bogus-code-value-0123456789"
    response = await browser.callback(redirect.with_params(code=bad_code))
    assert response.status_code == 502
    assert "salesforce.connect.failed" in {r.getMessage() for r in caplog.records}
    for line in (formatted(r) for r in caplog.records):
        assert bad_code not in line
        assert redirect.params["state"] not in line
        assert redirect.params["code"] not in line


async def test_rotate_keys_reencrypts_every_encrypted_column(
    browser: Browser, app: Any, monkeypatch: Any, settings: Any, capsys: Any
) -> None:
    old_key = settings.encryption_keys[0]
    await browser.connect("ws-1")
    await browser.connect("ws-2")  # the same Salesforce user: one shared grant
    await browser.start("ws-3")  # a pending state with an encrypted verifier
    async with app.state.services.db.transaction() as session:
        before = {r.workspace_id: r for r in (await session.scalars(select(Connection))).all()}
        [before_grant] = (await session.scalars(select(SalesforceGrant))).all()
        before_state = (await session.scalars(select(OAuthState))).all()
    old = TokenCipher([old_key])
    plain = {ws: old.decrypt(r.webhook_key_encrypted) for ws, r in before.items()}
    plain_tokens = (
        old.decrypt(before_grant.access_token_encrypted),
        old.decrypt(before_grant.refresh_token_encrypted),
    )
    new_key = Fernet.generate_key().decode()
    cipher = TokenCipher([new_key, old_key])

    report = await cli.rotate_encryption_keys(app.state.services.db, cipher, batch_size=1)

    # Other tables with `*_encrypted` columns are covered too (empty here).
    assert set(report.rows) == set(cli.encrypted_columns())
    assert report.rows["salesforce_connections"] == 2
    assert report.rows["salesforce_grants"] == 1
    assert report.rows["oauth_states"] == 3
    assert report.rotated["salesforce_connections"] == 2
    assert report.rotated["salesforce_grants"] == 2
    assert report.rotated["oauth_states"] == 3
    assert not any(report.undecryptable.values())
    only_new = TokenCipher([new_key])
    async with app.state.services.db.transaction() as session:
        after = {r.workspace_id: r for r in (await session.scalars(select(Connection))).all()}
        [after_grant] = (await session.scalars(select(SalesforceGrant))).all()
        after_state = (await session.scalars(select(OAuthState))).all()
    for ws, row in after.items():
        assert only_new.decrypt(row.webhook_key_encrypted) == plain[ws]
        assert row.webhook_key_encrypted != before[ws].webhook_key_encrypted
    assert after_grant.refresh_token_encrypted is not None
    assert (
        only_new.decrypt(after_grant.access_token_encrypted),
        only_new.decrypt(after_grant.refresh_token_encrypted),
    ) == plain_tokens
    assert after_grant.access_token_encrypted != before_grant.access_token_encrypted
    assert {only_new.decrypt(s.code_verifier_encrypted) for s in after_state} == {
        old.decrypt(s.code_verifier_encrypted) for s in before_state
    }

    # The command line does the same, reporting counts; a second run finds nothing stale.
    capsys.readouterr()
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("DATABASE_URL", settings.async_database_url)
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", f"{new_key},{old_key}")
    cli.get_settings.cache_clear()
    try:
        code = await asyncio.to_thread(cli.main, ["rotate-keys", "--batch-size", "2"])
    finally:
        cli.get_settings.cache_clear()
    assert code == 0
    printed = capsys.readouterr().out
    assert "salesforce_connections: rows=2 rotated=2 undecryptable=0" in printed
    assert "salesforce_grants: rows=1 rotated=2 undecryptable=0" in printed
    assert "oauth_states: rows=3 rotated=3 undecryptable=0" in printed


def test_rotate_keys_covers_every_encrypted_column() -> None:
    columns = cli.encrypted_columns()
    assert columns["salesforce_connections"] == ["webhook_key_encrypted"]
    assert columns["salesforce_grants"] == [
        "client_secret_encrypted",
        "access_token_encrypted",
        "refresh_token_encrypted",
    ]
    assert columns["oauth_states"] == ["code_verifier_encrypted"]


async def test_rotate_keys_reports_undecryptable_values(app: Any, browser: Browser) -> None:
    await browser.start()
    stranger = TokenCipher([Fernet.generate_key().decode()])

    report = await cli.rotate_encryption_keys(app.state.services.db, stranger)

    assert report.undecryptable["oauth_states"] == 1
    assert report.rotated["oauth_states"] == 0
