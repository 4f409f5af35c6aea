"""The connected app as the org registered it (callback URLs, PKCE policy) and the
token endpoint errors a test can ask for."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_REFRESH_IDLE_DAYS = 30
# Callback URLs registered on the emulator's connected app: the service under test
# (tests and `make run` on its default port) and the emulator's own tests.
DEFAULT_CALLBACK_URLS = (
    "http://testserver/v1/salesforce/oauth/callback",
    "http://127.0.0.1:8000/v1/salesforce/oauth/callback",
    "http://localhost:8000/v1/salesforce/oauth/callback",
    "https://app.example/oauth/callback",
)
EXPIRED = "expired access/refresh token"
# Token endpoint errors a test can ask for (error, error_description, HTTP status).
TOKEN_FAULTS: dict[str, tuple[str, str, int]] = {
    "expired": ("invalid_grant", EXPIRED, 400),
    "ip_restricted": ("invalid_grant", "ip restricted or invalid login hours", 400),
    "authentication_failure": ("invalid_grant", "authentication failure", 400),
    "inactive_user": ("inactive_user", "user is inactive", 400),
    "inactive_org": ("inactive_org", "organization is inactive", 400),
    "rate_limit_exceeded": ("rate_limit_exceeded", "rate limit exceeded", 400),
    "invalid_client_id": ("invalid_client_id", "client identifier invalid", 400),
    "invalid_client": ("invalid_client", "invalid client credentials", 400),
    "server_error": ("server_error", "internal server error", 500),
}


@dataclass
class ConnectedApp:
    """A connected app (or External Client App) as the org registered it."""

    client_id: str
    client_secret: str
    callback_urls: list[str] = field(default_factory=lambda: list(DEFAULT_CALLBACK_URLS))
    require_pkce: bool = True
    # The client credentials flow (an External Client App of one org): the "run as" user
    # as (org id, user id), and whether the flow is enabled in the app's OAuth settings.
    run_as: tuple[str, str] | None = None
    client_credentials_enabled: bool = False

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "callback_urls": list(self.callback_urls),
            "require_pkce": self.require_pkce,
        }
        if self.run_as is not None:
            body["run_as"] = {"org_id": self.run_as[0], "user_id": self.run_as[1]}
            body["client_credentials_enabled"] = self.client_credentials_enabled
        return body


@dataclass
class TokenFault:
    error: str
    description: str
    status: int
    grant_type: str | None  # None: both grants
    remaining: int | None  # None: until cleared
