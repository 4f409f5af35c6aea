"""Shared helpers for the emulator's tests: seed ids and the OAuth dance over HTTP."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

ACME = "00D5g000003GIV7EAO"
GLOBEX = "00D8c000003VlcBEAS"
INITECH = "00D4w0000021va5EAA"
ACME_ADMIN = "0055g000000GR2fAAG"
ACME_SALES = "0055g000000GR44AAG"
ANA = "0035g0000006SevAAE"
CARLA = "0035g0000006SjLAAU"
TINY_SPACED = "0035g0000006SnlAAE"
TINY_PLAIN = "0035g0000006SpyAAE"
MEI = "0035g0000006SsBAAU"
SAM = "0035g0000006SuOAAU"
SAMANTHA = "0035g0000006SwbAAE"
DELETED = "0035g0000006SyoAAE"
LIAM = "0035g0000006T11AAE"
ZOE = "0035g0000006T3EAAU"
LEAD_ANA = "00Q5g0000006TMNEA2"
LEAD_ONLY = "00Q5g0000006TPJEA2"
LEAD_CARL = "00Q5g0000006TNqEAM"
LEAD_CONVERTED = "00Q5g0000006TQwEAM"
PRIYA = "0035g0000006T9rAAE"
GLOBEX_ANA = "0038c0000006TRWAA2"
REDIRECT = "https://app.example/oauth/callback"
V = "/services/data/v62.0"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize(
    client: httpx.Client,
    client_id: str,
    *,
    username: str = "admin@acme.example",
    password: str = "emulator",
    challenge: str | None = None,
    scope: str = "api refresh_token id",
    state: str = "st-123",
    decision: str = "allow",
    pkce: bool = True,
    redirect_uri: str = REDIRECT,
) -> httpx.Response:
    """The login form, then its submission; a PKCE challenge unless pkce=False."""
    if challenge is None and pkce:
        challenge = pkce_pair()[1]
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "scope": scope,
    }
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    page = client.get("/services/oauth2/authorize", params=params)
    if page.status_code != 200:
        return page  # refused before the login form (redirect_uri, PKCE...)
    form = {**params, "username": username, "password": password, "decision": decision}
    return client.post("/services/oauth2/authorize", data=form)


def code_from(resp: httpx.Response) -> str:
    assert resp.status_code == 302, resp.text
    return parse_qs(urlparse(resp.headers["location"]).query)["code"][0]


def login(
    client: httpx.Client, emu: Any, username: str = "admin@acme.example", **kw: Any
) -> dict[str, Any]:
    """Full authorize form -> code -> token exchange with PKCE; the token JSON."""
    verifier, challenge = pkce_pair()
    code = code_from(authorize(client, emu.client_id, username=username, challenge=challenge, **kw))
    resp = client.post(
        "/services/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": emu.client_id,
            "client_secret": emu.client_secret,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def bearer(token: dict[str, Any] | str) -> dict[str, str]:
    value = token if isinstance(token, str) else token["access_token"]
    return {"Authorization": f"Bearer {value}"}


def refresh(client: httpx.Client, emu: Any, refresh_token: str) -> httpx.Response:
    return client.post(
        "/services/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": emu.client_id,
            "client_secret": emu.client_secret,
        },
    )
