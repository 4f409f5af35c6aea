"""OAuth state: authorization codes, grants, access and refresh tokens.

Mixed into SalesforceEmulator; every method takes the emulator's lock.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .apps import EXPIRED, TOKEN_FAULTS, ConnectedApp, TokenFault

if TYPE_CHECKING:
    from .clock import Clock

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
    last_used: float = 0.0  # clock time of the last refresh (or the grant)
    retired_refresh_tokens: set[str] = field(default_factory=set)
    access_tokens: set[str] = field(default_factory=set)
    revoked: bool = False
    # "authorization_code" (a user's approval of the app) or "client_credentials".
    flow: str = "authorization_code"


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
    apps: dict[str, ConnectedApp]
    clock: Clock
    rotate_refresh_tokens: bool
    session_seconds: int
    refresh_token_idle_days: int | None

    def _init_tokens(self) -> None:
        self.token_faults: list[TokenFault] = []
        self.codes: dict[str, AuthCode] = {}
        self.grants: dict[str, Grant] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_index: dict[str, str] = {}  # refresh token (current or retired) -> grant id

    # -- clients ---------------------------------------------------------------
    def app(self, client_id: str | None) -> ConnectedApp | None:
        with self._lock:
            return self.apps.get(client_id or "")

    def check_client(self, client_id: str | None, client_secret: str | None) -> None:
        app = self.app(client_id)
        if app is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if client_secret is not None and not secrets.compare_digest(
            app.client_secret, client_secret
        ):
            raise OAuthError("invalid_client", "invalid client credentials")

    # -- token endpoint faults ---------------------------------------------------
    def add_token_fault(
        self,
        fault: str | None = None,
        *,
        error: str | None = None,
        description: str | None = None,
        status: int | None = None,
        grant_type: str | None = None,
        count: int | None = None,
    ) -> TokenFault:
        """The next token requests (of grant_type, or all) answer this error."""
        if fault is not None and fault not in TOKEN_FAULTS:
            raise ValueError(f"unknown token fault {fault!r}; one of {sorted(TOKEN_FAULTS)}")
        base = TOKEN_FAULTS.get(fault or "", ("invalid_grant", EXPIRED, 400))
        tf = TokenFault(
            error=error or base[0],
            description=description or base[1],
            status=status or base[2],
            grant_type=grant_type,
            remaining=count,
        )
        with self._lock:
            self.token_faults.append(tf)
        return tf

    def clear_token_faults(self) -> None:
        with self._lock:
            self.token_faults.clear()

    def take_token_fault(self, grant_type: str | None) -> None:
        """Raise the first pending token fault that applies to this grant type."""
        with self._lock:
            for tf in self.token_faults:
                if tf.grant_type not in (None, grant_type):
                    continue
                if tf.remaining is not None:
                    tf.remaining -= 1
                    if tf.remaining <= 0:
                        self.token_faults.remove(tf)
                raise OAuthError(tf.error, tf.description, tf.status)

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
                expires_at=self.clock.time() + CODE_TTL_SECONDS,
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
            if ac.expires_at < self.clock.time():
                raise OAuthError("invalid_grant", "expired authorization code")
            if ac.redirect_uri != redirect_uri:
                raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
            app = self.apps[ac.client_id]
            if ac.code_challenge is None and app.require_pkce:
                raise OAuthError("invalid_request", "missing required code challenge")
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
                last_used=self.clock.time(),
            )
            self.grants[grant.id] = grant
            if refresh:
                self.refresh_index[refresh] = grant.id
            self.enforce_approval_limit(grant)
            return self._issue_access(grant), refresh

    def _issue_access(self, grant: Grant) -> AccessToken:
        token = f"{grant.org_id[:15]}!AR" + secrets.token_urlsafe(72).replace("-", ".")
        now = self.clock.time()
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
                raise OAuthError("invalid_grant", EXPIRED)
            if refresh_token in grant.retired_refresh_tokens:
                # Reuse of a rotated-out refresh token: treat as theft, end the grant.
                self._end_grant(grant)
                raise OAuthError("invalid_grant", EXPIRED)
            idle = self.refresh_token_idle_days
            now = self.clock.time()
            if idle and now - grant.last_used > idle * 86400:
                # Unused for longer than the org's idle limit: the grant is dead.
                self._end_grant(grant)
                raise OAuthError("invalid_grant", EXPIRED)
            if not self._user_active(grant.org_id, grant.user_id):
                raise OAuthError(*TOKEN_FAULTS["inactive_user"][:2])
            grant.last_used = now
            new_refresh = None
            if self.rotate_refresh_tokens:
                new_refresh = "5Aep861" + secrets.token_urlsafe(64)
                grant.retired_refresh_tokens.add(refresh_token or "")
                grant.refresh_token = new_refresh
                self.refresh_index[new_refresh] = grant.id
            return self._issue_access(grant), new_refresh

    def _user_active(self, org_id: str, user_id: str) -> bool:
        return True

    def enforce_approval_limit(self, grant: Grant) -> None:
        """Overridden in approvals.Approvals (at most N approvals per app and user)."""

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
            if at.expires_at < self.clock.time():
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
