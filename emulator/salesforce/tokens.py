"""OAuth state: authorization codes, grants, access and refresh tokens.

Mixed into SalesforceEmulator; every method takes the emulator's lock.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field

CODE_TTL_SECONDS = 15 * 60
DEFAULT_SCOPE = "refresh_token api id"


class OAuthError(Exception):
    """An OAuth endpoint error: {"error": ..., "error_description": ...}."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str
    org_id: str
    user_id: str
    scope: str
    expires_at: float
    used: bool = False


@dataclass
class Grant:
    id: str
    org_id: str
    user_id: str
    client_id: str
    scope: str
    refresh_token: str | None
    retired_refresh_tokens: set[str] = field(default_factory=set)
    access_tokens: set[str] = field(default_factory=set)
    revoked: bool = False


@dataclass
class AccessToken:
    token: str
    org_id: str
    user_id: str
    grant_id: str
    client_id: str
    scope: str
    issued_at: float
    expires_at: float


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def normalise_scope(scope: str | None) -> str:
    if not scope:
        return DEFAULT_SCOPE
    seen: list[str] = []
    for item in scope.replace("+", " ").split():
        if item not in seen:
            seen.append(item)
    return " ".join(seen)


class TokenStore:
    _lock: threading.RLock
    clients: dict[str, str]
    rotate_refresh_tokens: bool
    session_seconds: int

    def _init_tokens(self) -> None:
        self.codes: dict[str, AuthCode] = {}
        self.grants: dict[str, Grant] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_index: dict[str, str] = {}  # refresh token (current or retired) -> grant id

    # -- clients ---------------------------------------------------------------
    def check_client(self, client_id: str | None, client_secret: str | None) -> None:
        if not client_id or client_id not in self.clients:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if client_secret is not None and not secrets.compare_digest(
            self.clients[client_id], client_secret
        ):
            raise OAuthError("invalid_client", "invalid client credentials")

    # -- codes -----------------------------------------------------------------
    def create_code(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        code_challenge: str | None,
        code_challenge_method: str | None,
        org_id: str,
        user_id: str,
        scope: str | None,
    ) -> str:
        code = "aPrx" + secrets.token_urlsafe(60)
        with self._lock:
            self.codes[code] = AuthCode(
                code=code,
                client_id=client_id,
                redirect_uri=redirect_uri,
                code_challenge=code_challenge or None,
                code_challenge_method=code_challenge_method or "S256",
                org_id=org_id,
                user_id=user_id,
                scope=normalise_scope(scope),
                expires_at=time.time() + CODE_TTL_SECONDS,
            )
        return code

    def exchange_code(
        self,
        *,
        code: str | None,
        client_id: str | None,
        client_secret: str | None,
        redirect_uri: str | None,
        code_verifier: str | None,
    ) -> tuple[AccessToken, str | None]:
        """Authorization code -> (access token, refresh token or None)."""
        self.check_client(client_id, client_secret or "")
        with self._lock:
            ac = self.codes.get(code or "")
            if ac is None or ac.used or ac.client_id != client_id:
                raise OAuthError("invalid_grant", "invalid authorization code")
            if ac.expires_at < time.time():
                raise OAuthError("invalid_grant", "expired authorization code")
            if ac.redirect_uri != redirect_uri:
                raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
            if ac.code_challenge is not None:
                if ac.code_challenge_method.upper() == "PLAIN":
                    ok = code_verifier == ac.code_challenge
                else:
                    ok = bool(code_verifier) and secrets.compare_digest(
                        pkce_challenge(code_verifier or ""), ac.code_challenge
                    )
                if not ok:
                    raise OAuthError("invalid_grant", "invalid code verifier")
            ac.used = True
            wants_refresh = any(s in ac.scope.split() for s in ("refresh_token", "offline_access"))
            refresh = ("5Aep861" + secrets.token_urlsafe(64)) if wants_refresh else None
            grant = Grant(
                id=secrets.token_hex(8),
                org_id=ac.org_id,
                user_id=ac.user_id,
                client_id=ac.client_id,
                scope=ac.scope,
                refresh_token=refresh,
            )
            self.grants[grant.id] = grant
            if refresh:
                self.refresh_index[refresh] = grant.id
            return self._issue_access(grant), refresh

    def _issue_access(self, grant: Grant) -> AccessToken:
        token = f"{grant.org_id[:15]}!AR" + secrets.token_urlsafe(72).replace("-", ".")
        now = time.time()
        at = AccessToken(
            token=token,
            org_id=grant.org_id,
            user_id=grant.user_id,
            grant_id=grant.id,
            client_id=grant.client_id,
            scope=grant.scope,
            issued_at=now,
            expires_at=now + self.session_seconds,
        )
        self.access_tokens[token] = at
        grant.access_tokens.add(token)
        return at

    # -- refresh ---------------------------------------------------------------
    def refresh(
        self, *, refresh_token: str | None, client_id: str | None, client_secret: str | None
    ) -> tuple[AccessToken, str | None]:
        """Refresh -> (access token, new refresh token when rotation is on)."""
        self.check_client(client_id, client_secret or "")
        with self._lock:
            gid = self.refresh_index.get(refresh_token or "")
            grant = self.grants.get(gid or "")
            if grant is None or grant.revoked or grant.client_id != client_id:
                raise OAuthError("invalid_grant", "expired access/refresh token")
            if refresh_token in grant.retired_refresh_tokens:
                # Reuse of a rotated-out refresh token: treat as theft, end the grant.
                self._end_grant(grant)
                raise OAuthError("invalid_grant", "expired access/refresh token")
            new_refresh = None
            if self.rotate_refresh_tokens:
                new_refresh = "5Aep861" + secrets.token_urlsafe(64)
                grant.retired_refresh_tokens.add(refresh_token or "")
                grant.refresh_token = new_refresh
                self.refresh_index[new_refresh] = grant.id
            return self._issue_access(grant), new_refresh

    def _end_grant(self, grant: Grant) -> None:
        grant.revoked = True
        for token in grant.access_tokens:
            self.access_tokens.pop(token, None)
        grant.access_tokens.clear()

    # -- revoke / introspect ---------------------------------------------------
    def revoke_token(self, token: str) -> bool:
        """Revoke an access token (just it) or a refresh token (the whole grant)."""
        with self._lock:
            at = self.access_tokens.pop(token, None)
            if at is not None:
                grant = self.grants.get(at.grant_id)
                if grant:
                    grant.access_tokens.discard(token)
                return True
            gid = self.refresh_index.get(token)
            grant = self.grants.get(gid or "")
            if grant is None or grant.revoked:
                return False
            self._end_grant(grant)
            return True

    def access_token(self, token: str | None) -> AccessToken | None:
        """The live access token, or None if unknown, revoked or expired."""
        if not token:
            return None
        with self._lock:
            at = self.access_tokens.get(token)
            if at is None:
                return None
            if at.expires_at < time.time():
                del self.access_tokens[token]
                return None
            return at

    def refresh_grant(self, token: str) -> Grant | None:
        with self._lock:
            grant = self.grants.get(self.refresh_index.get(token, ""))
            if grant is None or grant.revoked or token != grant.refresh_token:
                return None
            return grant

    # -- switches --------------------------------------------------------------
    def expire_access_tokens(self, org_id: str | None = None) -> int:
        """All current access tokens (of one org, or all) become invalid; refresh tokens stay."""
        with self._lock:
            dead = [
                t for t, at in self.access_tokens.items() if org_id is None or at.org_id == org_id
            ]
            for token in dead:
                at = self.access_tokens.pop(token)
                grant = self.grants.get(at.grant_id)
                if grant:
                    grant.access_tokens.discard(token)
            return len(dead)

    def revoke_grants(self, org_id: str | None = None) -> int:
        """Refresh and access tokens die; refreshing answers invalid_grant."""
        with self._lock:
            n = 0
            for grant in self.grants.values():
                if not grant.revoked and (org_id is None or grant.org_id == org_id):
                    self._end_grant(grant)
                    n += 1
            return n
