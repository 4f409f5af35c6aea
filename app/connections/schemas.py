"""Request and response bodies of the connection endpoints (docs/api.md, "Connection")."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from app.models import Connection, ConnectionStatus, GrantMethod, SalesforceGrant

Method = Literal["web_server", "client_credentials"]


class ConnectRequest(BaseModel):
    """Web-server flow (the default): every key optional, the answer is the link to open.
    Client credentials: `my_domain`, `client_id` and `client_secret` required, the answer is
    the connection (docs/connecting.md)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"environment": "production", "return_url": "https://app.respond.io/settings"},
                {
                    "method": "client_credentials",
                    "my_domain": "acme.my.salesforce.com",
                    "client_id": "3MVG9...",
                    "client_secret": "...",
                    "environment": "production",
                },
            ]
        },
    )

    method: Method = Field(
        default="web_server",
        description="`web_server`: a Salesforce user logs in and allows access in the browser. "
        "`client_credentials`: an External Client App with the client credentials flow and a "
        "run-as (integration) user; connects at once, without a browser.",
    )
    client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="The External Client App's consumer key (client credentials only).",
    )
    client_secret: SecretStr | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="The External Client App's consumer secret (client credentials only). "
        "Stored encrypted and never shown again.",
    )
    environment: Literal["production", "sandbox"] = Field(
        default="production", description="Which login host to use when `my_domain` is not given."
    )
    my_domain: str | None = Field(
        default=None,
        max_length=255,
        # Omit it (or null) for the login host of `environment`; an empty one is refused.
        pattern=r"\S",
        description="The org's My Domain host, e.g. `acme.my.salesforce.com`. Must be a "
        "Salesforce domain. A Lightning or setup host (`acme.lightning.force.com`, "
        "`acme.my.salesforce-setup.com`) is taken as its My Domain; only host-name characters "
        "(letters, digits, `-`, `.`) are accepted.",
    )
    return_url: str | None = Field(
        default=None,
        max_length=2048,
        description="Where the confirmation page links back to. Only configured hosts.",
        pattern=r"^https?://",
        json_schema_extra={"format": "uri"},
    )

    @model_validator(mode="after")
    def _keys_of_the_method(self) -> ConnectRequest:
        if self.method == "client_credentials":
            missing = [
                name
                for name in ("my_domain", "client_id", "client_secret")
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(f"client_credentials needs {', '.join(missing)}")
            if self.return_url:
                raise ValueError("return_url is for the web_server method only")
        elif self.client_id or self.client_secret:
            raise ValueError("client_id and client_secret are for the client_credentials method")
        return self


class ConnectStarted(BaseModel):
    authorize_url: str = Field(description="Open this in a new browser tab.")
    expires_at: datetime = Field(description="The authorization link stops working after this.")
    admin_guidance: str = Field(
        description="What a Salesforce admin may have to do first: Salesforce shows its own "
        "error page, and never comes back, when the app is not installed in the org and the "
        'user lacks the "Approve Uninstalled Connected Apps" permission.'
    )


class ConnectAttempt(BaseModel):
    """The workspace's last browser connect that has not come back (yet)."""

    started_at: datetime
    expires_at: datetime = Field(description="When its authorization link stops working.")
    outcome: Literal["pending", "abandoned"] = Field(
        description="`pending`: the link still works. `abandoned`: it expired and Salesforce "
        "never sent the browser back."
    )
    likely_causes: list[str] = Field(
        default_factory=list, description="For `abandoned`: what usually explains it."
    )


class PurposeCounts(BaseModel):
    lookup: int = 0
    edit: int = 0
    create: int = 0
    activity: int = 0
    autocreate: int = 0
    token: int = 0
    describe: int = 0


class ApiUsage(BaseModel):
    """The org's daily API allocation as last reported by Salesforce, and the calls this
    service made for the workspace today (UTC), by purpose."""

    used: int = Field(description="API requests the org has used in the last 24 hours.")
    limit: int = Field(description="The org's daily API allocation.")
    measured_at: datetime = Field(description="When Salesforce last reported it.")
    by_purpose_today: PurposeCounts


class ChangeStreamView(BaseModel):
    """Changes from Salesforce in real time (Change Data Capture; docs/real-time.md)."""

    state: Literal["streaming", "unavailable", "disabled"]
    reason: str | None = Field(
        default=None,
        description="Why there is no stream (e.g. `Contact is not selected for Change Data "
        "Capture`, `event delivery allocation used up`, `Pub/Sub API unreachable`).",
    )
    last_event_at: datetime | None = Field(
        default=None, description="When the last change event was processed."
    )


class ConnectionView(BaseModel):
    """The workspace's Salesforce connection; every field but `status` is null when
    disconnected."""

    status: ConnectionStatus
    organization_id: str | None = None
    organization_name: str | None = None
    instance_url: str | None = None
    environment: Literal["production", "sandbox"] | None = None
    username: str | None = None
    user_display_name: str | None = None
    scopes: list[str] | None = None
    connected_at: datetime | None = None
    connected_by: str | None = None
    status_reason: str | None = Field(
        default=None,
        description="Why the connection needs attention: `grant_expired_or_revoked`, "
        "`user_inactive`, `org_inactive`, `no_refresh_token` (with "
        "`reauthorization_required`); `token_rate_limited`, `login_restricted`, "
        "`client_rejected` (still `connected`, refreshes held back for a while). Null when "
        "all is well.",
    )
    status_detail: str | None = Field(
        default=None, description="The same, as a sentence for people."
    )
    api_usage: ApiUsage | None = Field(
        default=None, description="Null until Salesforce has reported the org's usage."
    )
    method: Method | None = Field(default=None, description="How the workspace connected.")
    shared_grant_workspaces: int | None = Field(
        default=None,
        description="How many workspaces use this connection's Salesforce grant (this one "
        "included): workspaces one Salesforce user connected share one.",
    )
    last_connect_attempt: ConnectAttempt | None = Field(
        default=None,
        description="A browser connect that has not come back; null once one came back. "
        "Shown also while disconnected.",
    )
    change_stream: ChangeStreamView | None = Field(
        default=None, description="The org's change stream; null when disconnected."
    )

    @classmethod
    def disconnected(cls) -> ConnectionView:
        return cls(status=ConnectionStatus.DISCONNECTED)


def view_of(
    row: Connection | None, grant: SalesforceGrant | None = None, shared: int = 1
) -> ConnectionView:
    if row is None:
        return ConnectionView.disconnected()
    return ConnectionView(
        method=GrantMethod(grant.method).value if grant else None,  # type: ignore[arg-type]
        shared_grant_workspaces=shared,
        status=ConnectionStatus(row.status),
        organization_id=row.organization_id,
        organization_name=row.organization_name,
        instance_url=row.instance_url,
        environment=row.environment,  # type: ignore[arg-type]
        username=row.username,
        user_display_name=row.user_display_name,
        scopes=list(row.scopes or []),
        connected_at=row.connected_at,
        connected_by=row.connected_by,
        status_reason=row.status_reason,
        status_detail=row.status_detail,
    )
