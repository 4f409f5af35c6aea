"""Test data builders. Grants come from the Salesforce emulator over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import delete, select

from app.crypto import TokenCipher
from app.db import Database
from app.models import Connection, GrantMethod, SalesforceGrant

CLIENT_ID = "emulator-client-id"
CLIENT_SECRET = "emulator-client-secret"
REDIRECT_URI = "http://testserver/v1/salesforce/oauth/callback"


def login_form_fields(page: str) -> dict[str, str]:
    """The hidden and visible inputs of the emulator's login page."""
    fields: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r"""name=["']([^"']*)["']""", tag)
        value = re.search(r"""value=(["'])(.*?)\1""", tag)
        if name:
            fields[name.group(1)] = html.unescape(value.group(2)) if value else ""
    return fields


async def grant_from_emulator(
    base_url: str, username: str, password: str = "emulator", scope: str = "api refresh_token id"
) -> dict[str, Any]:
    """Authorize as `username` (code + PKCE) and return the token endpoint's answer."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "state": "s",
        "scope": scope,
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
    }
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        page = await http.get("/services/oauth2/authorize", params=params)
        page.raise_for_status()
        form = login_form_fields(page.text)
        form.update({"username": username, "password": password, "decision": "allow"})
        redirect = await http.post("/services/oauth2/authorize", data=form)
        assert redirect.status_code in (302, 303), redirect.text
        code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
        token = await http.post(
            "/services/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
        )
        token.raise_for_status()
        answer: dict[str, Any] = token.json()
        return answer


async def insert_connection(
    db: Database,
    cipher: TokenCipher,
    workspace_id: str,
    grant: dict[str, Any],
    *,
    login_url: str,
    username: str = "user",
) -> Connection:
    """Store a connection as the connect flow would (tokens encrypted): the workspaces of
    one Salesforce user share its grant, which takes the new tokens."""
    org_id, user_id = grant["id"].rstrip("/").split("/")[-2:]
    async with db.transaction() as session:
        await session.execute(delete(Connection).where(Connection.workspace_id == workspace_id))
        stored = await session.scalar(
            select(SalesforceGrant).where(
                SalesforceGrant.method == GrantMethod.WEB_SERVER.value,
                SalesforceGrant.organization_id == org_id,
                SalesforceGrant.user_id == user_id,
            )
        )
        if stored is None:
            stored = SalesforceGrant(
                method=GrantMethod.WEB_SERVER.value, organization_id=org_id, user_id=user_id
            )
            session.add(stored)
        stored.login_url = login_url
        stored.access_token_encrypted = cipher.encrypt(grant["access_token"])
        stored.refresh_token_encrypted = cipher.encrypt(grant["refresh_token"])
        stored.tokens_refreshed_at = None
        await session.flush()
        row = Connection(
            workspace_id=workspace_id,
            status="connected",
            environment="production",
            login_url=login_url,
            instance_url=grant["instance_url"],
            identity_url=grant["id"],
            organization_id=org_id,
            organization_name=None,
            user_id=user_id,
            username=username,
            scopes=grant.get("scope", "").split(),
            grant_id=stored.id,
            connected_by="user-1",
        )
        session.add(row)
    return row


# --- auto-create helpers ------------------------------------------------------------------


async def set_webhook_key(db: Database, cipher: TokenCipher, workspace_id: str) -> str:
    """Give the workspace's connection a fresh webhook key (as connect does); return it."""
    from sqlalchemy import update

    from app.crypto import sha256_hex

    key = secrets.token_urlsafe(32)
    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.workspace_id == workspace_id)
            .values(webhook_key_hash=sha256_hex(key), webhook_key_encrypted=cipher.encrypt(key))
        )
    return key


async def set_auto_create(
    db: Database,
    workspace_id: str,
    *,
    enabled: bool = True,
    add_tag: bool = True,
    include_bulk_imports: bool = False,
    enabled_at: Any = None,
) -> None:
    """Store the workspace's auto-create settings as PUT settings would."""
    from datetime import UTC, datetime

    from sqlalchemy.dialects.postgresql import insert

    from app.models import WorkspaceSettings

    values = {
        "workspace_id": workspace_id,
        "auto_create_enabled": enabled,
        "auto_create_add_tag": add_tag,
        "auto_create_include_bulk_imports": include_bulk_imports,
        "auto_create_enabled_at": enabled_at or datetime.now(UTC),
    }
    statement = insert(WorkspaceSettings).values(**values)
    async with db.transaction() as session:
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["workspace_id"],
                set_={k: v for k, v in values.items() if k != "workspace_id"},
            )
        )


async def set_respondio_token(
    db: Database, cipher: TokenCipher, workspace_id: str, token: str
) -> None:
    from app.models import RespondioCredential

    async with db.transaction() as session:
        await session.merge(
            RespondioCredential(
                workspace_id=workspace_id, api_token_encrypted=cipher.encrypt(token)
            )
        )


async def connect_default_user(
    app: Any, sf_emulator: Any, org: Any, workspace_id: str = "ws-1"
) -> str:
    """Connect `workspace_id` to `org` as its default user, through the emulator's real OAuth
    flow, and store the connection as the connect flow would."""
    grant = await grant_from_emulator(sf_emulator.base_url, org.default_user.username)
    services = app.state.services
    await insert_connection(
        services.db, services.cipher, workspace_id, grant, login_url=sf_emulator.base_url
    )
    return workspace_id


async def grant_of(db: Database, workspace_id: str = "ws-1") -> SalesforceGrant | None:
    """The stored grant the workspace's connection uses (its tokens), or None."""
    async with db.transaction() as session:
        found: SalesforceGrant | None = await session.scalar(
            select(SalesforceGrant)
            .join(Connection, Connection.grant_id == SalesforceGrant.id)
            .where(Connection.workspace_id == workspace_id)
        )
    return found


async def stored_rows(db: Database, model: type[Any]) -> list[Any]:
    """Every row of a table, e.g. `await stored_rows(db, SalesforceGrant)`."""
    async with db.transaction() as session:
        return list((await session.scalars(select(model))).all())
