"""Caller authentication: JWTs minted by the respond.io gateway (docs/api.md,
"Authentication"). The dependencies routers use (`AnyMember`, `Manager`) are in app.deps."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import jwt
from fastapi.security import HTTPBearer

from app.config import Settings
from app.errors import Forbidden, Unauthenticated

Role = Literal["owner", "manager", "agent"]
ROLES: frozenset[str] = frozenset({"owner", "manager", "agent"})
MANAGING_ROLES: frozenset[str] = frozenset({"owner", "manager"})
NUMERIC_DATE_CLAIMS = ("exp", "iat", "nbf")

bearer_scheme = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="A respond.io gateway token (HS256). Mint one for development with "
    "`python -m app.cli dev-token --workspace W --role owner`.",
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
    """Verifies caller tokens; built once per app so the hot path does no set-up work."""

    def __init__(self, settings: Settings) -> None:
        self._secret = settings.service_jwt_secret
        self._audience = settings.service_jwt_audience
        self._issuer = settings.service_jwt_issuer
        self._algorithms = [settings.service_jwt_algorithm]
        required = ["exp", "aud", "sub", "workspace_id", "role"]
        if self._issuer:
            required.append("iss")
        self._options = {"require": required}

    def verify(self, token: str) -> Caller:
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
        return Caller(user_id=subject, workspace_id=workspace_id, role=role)


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


def member_of(workspace_id: str, caller: Caller) -> Caller:
    """Any role of the workspace named in the path."""
    if caller.workspace_id != workspace_id:
        raise Forbidden("The token does not belong to this workspace.")
    return caller


def manager_of(caller: Caller) -> Caller:
    """Owner or manager of the workspace named in the path."""
    if not caller.can_manage:
        raise Forbidden("Only workspace owners and managers may do this.")
    return caller
