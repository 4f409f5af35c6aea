"""Caller authentication: JWTs minted by the respond.io gateway (docs/api.md,
"Authentication"). The dependencies routers use (`AnyMember`, `Manager`) are in app.deps."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import jwt
from fastapi.security import HTTPBearer

from app.config import Settings
from app.errors import Unauthenticated
from app.observability import TOKEN_CACHE_EVENTS

Role = Literal["owner", "manager", "agent"]
ROLES: frozenset[str] = frozenset({"owner", "manager", "agent"})
MANAGING_ROLES: frozenset[str] = frozenset({"owner", "manager"})
NUMERIC_DATE_CLAIMS = ("exp", "iat", "nbf")
# `sub` and `workspace_id` are stored in columns of this many characters (app.models).
MAX_ID_CLAIM_LENGTH = 64

BEARER_FORMAT = "JWT"
BEARER_DESCRIPTION = (
    "A respond.io gateway token (HS256). Mint one for development with "
    "`python -m app.cli dev-token --workspace W --role owner`."
)
bearer_scheme = HTTPBearer(
    auto_error=False, bearerFormat=BEARER_FORMAT, description=BEARER_DESCRIPTION
)
TOKEN_HIT, TOKEN_MISS, TOKEN_EXPIRED = (
    TOKEN_CACHE_EVENTS.labels(event) for event in ("hit", "miss", "expired")
)


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: str
    workspace_id: str
    role: str

    @property
    def can_manage(self) -> bool:
        return self.role in MANAGING_ROLES


class TokenVerifier:
    """Verifies caller tokens; built once per app so the hot path does no set-up work.

    A token that verified once is not decoded again: its caller is kept, under the SHA-256 of
    the token, until the token's `exp`, and refused from then on exactly as a fresh decode
    would refuse it. Tokens are stateless (there is no revocation list): a token is valid until
    it expires, cached or not. Only tokens that verified are kept, at most `max_cached`
    (the oldest go first); the workspace and role checks run on every request regardless.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        max_cached: int | None = None,
    ) -> None:
        self._secret = settings.service_jwt_secret
        self._audience = settings.service_jwt_audience
        self._issuer = settings.service_jwt_issuer
        self._algorithms = [settings.service_jwt_algorithm]
        required = ["exp", "aud", "sub", "workspace_id", "role"]
        if self._issuer:
            required.append("iss")
        self._options = {"require": required}
        self._clock = clock
        self._max_cached = max(
            0, settings.service_jwt_cache_max_entries if max_cached is None else max_cached
        )
        # sha256(token) -> (caller, exp): insertion order is the eviction order.
        self._verified: dict[bytes, tuple[Caller, float]] = {}

    @property
    def cached_tokens(self) -> int:
        """How many verified tokens are held (expired ones leave when next presented)."""
        return len(self._verified)

    def verify(self, token: str) -> Caller:
        key = hashlib.sha256(token.encode()).digest()
        held = self._verified.get(key)
        if held is not None:
            caller, expires_at = held
            # PyJWT's own rule (no leeway): expired once now >= exp.
            if self._clock() < expires_at:
                TOKEN_HIT.inc()
                return caller
            self._verified.pop(key, None)
            TOKEN_EXPIRED.inc()
            raise Unauthenticated("The token has expired.")
        caller, expires_at = self._decode(token)
        TOKEN_MISS.inc()
        if self._max_cached:
            while len(self._verified) >= self._max_cached:
                self._verified.pop(next(iter(self._verified)))
            self._verified[key] = (caller, expires_at)
        return caller

    def _decode(self, token: str) -> tuple[Caller, float]:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options=self._options,  # type: ignore[arg-type]
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("The token has expired.") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"The token is invalid: {exc}") from exc
        role = claims.get("role")
        workspace_id = claims.get("workspace_id")
        subject = claims.get("sub")
        for name in NUMERIC_DATE_CLAIMS:
            # PyJWT takes "exp": "1700000000" (a string) as a date; a gateway never mints one.
            value = claims.get(name)
            if name in claims and (not isinstance(value, int | float) or isinstance(value, bool)):
                raise Unauthenticated(f"The token's `{name}` is not a NumericDate.")
        if not isinstance(role, str) or role not in ROLES:
            raise Unauthenticated("The token carries an unknown role.")
        if not isinstance(workspace_id, str) or not workspace_id:
            raise Unauthenticated("The token carries no workspace.")
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated("The token carries no subject.")
        if len(workspace_id) > MAX_ID_CLAIM_LENGTH or len(subject) > MAX_ID_CLAIM_LENGTH:
            raise Unauthenticated(
                f"The token's `sub` and `workspace_id` are at most {MAX_ID_CLAIM_LENGTH} "
                "characters."
            )
        # jwt.decode has checked that exp is a number.
        return Caller(user_id=subject, workspace_id=workspace_id, role=role), float(claims["exp"])


def mint_token(
    settings: Settings, *, workspace_id: str, role: str, user_id: str = "dev-user", ttl: int = 3600
) -> str:
    """Development and test helper mirroring what the gateway mints."""
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": user_id,
        "workspace_id": workspace_id,
        "role": role,
        "aud": settings.service_jwt_audience,
        "iat": now,
        "exp": now + ttl,
    }
    if settings.service_jwt_issuer:
        claims["iss"] = settings.service_jwt_issuer
    return jwt.encode(claims, settings.service_jwt_secret, algorithm=settings.service_jwt_algorithm)
