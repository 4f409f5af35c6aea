"""What the connect flow answers besides the connection: guidance for the Salesforce admin,
the last browser connect that never came back, and the errors of a refused token exchange."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app import errors
from app.connections.schemas import ConnectAttempt, ConnectionView
from app.models import GrantMethod, OAuthState
from app.salesforce.errors import (
    ClientRejected,
    HostNotAllowed,
    LoginRestricted,
    OAuthError,
    SalesforceError,
    UnusableGrant,
)

ADMIN_GUIDANCE = (
    "If the app is not installed in your Salesforce org, Salesforce shows its own error page "
    '("app must be installed into org") and never comes back here. Before connecting, a '
    "Salesforce admin installs the app (Setup > Connected Apps OAuth Usage > Install), or gives "
    'the connecting user the "Approve Uninstalled Connected Apps" permission (System '
    "Administrators have it)."
)
ABANDONED_CAUSES = [
    'The app is not installed in the Salesforce org and the user lacks the "Approve '
    'Uninstalled Connected Apps" permission: Salesforce showed "app must be installed into '
    'org" and never came back. A Salesforce admin installs the app (Setup > Connected Apps '
    "OAuth Usage > Install) or grants the permission.",
    "The Salesforce login page or the approval page was closed before allowing access.",
    "Salesforce showed another error page of its own (for example a login refused by the "
    "user's profile).",
]


@dataclass(frozen=True, slots=True)
class Connected:
    connection: ConnectionView
    return_url: str | None
    reauthorized: bool


@dataclass(frozen=True, slots=True)
class Attempt:
    """Who connects which workspace, where: from an OAuth state or a client-credentials
    request."""

    workspace_id: str
    user_id: str
    environment: str
    login_url: str
    return_url: str | None = None

    @classmethod
    def of(cls, state: OAuthState) -> Attempt:
        return cls(
            state.workspace_id, state.user_id, state.environment, state.login_url, state.return_url
        )


@dataclass(frozen=True, slots=True)
class GrantKind:
    """The method, and for client credentials the consumer key and secret to keep."""

    method: GrantMethod = GrantMethod.WEB_SERVER
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)


def last_attempt(
    state: OAuthState | None, connected_at: datetime | None, now: datetime
) -> ConnectAttempt | None:
    """The workspace's last browser connect while it has not come back: `pending` while its
    link works, then `abandoned` with the likely causes (states are kept a day)."""
    if state is None or state.used_at is not None:
        return None
    if connected_at is not None and state.created_at <= connected_at:
        return None  # connected since (for example with client credentials)
    if state.expires_at > now:
        return ConnectAttempt(
            started_at=state.created_at, expires_at=state.expires_at, outcome="pending"
        )
    return ConnectAttempt(
        started_at=state.created_at,
        expires_at=state.expires_at,
        outcome="abandoned",
        likely_causes=list(ABANDONED_CAUSES),
    )


def log_reason(exc: SalesforceError) -> str:
    """A log-safe failure reason: the error kind and code, never a response body."""
    return f"{type(exc).__name__}:{exc.error_code}"[:120]


def exchange_error(exc: SalesforceError) -> errors.AppError:
    if isinstance(exc, UnusableGrant) and exc.cause is not None:
        exc = exc.cause
    if isinstance(exc, HostNotAllowed):
        return errors.SalesforceUnavailable(
            "Salesforce answered with an address outside Salesforce's domains; nothing was "
            "connected."
        )
    if isinstance(exc, LoginRestricted):
        return errors.SalesforceLoginRestricted()
    if isinstance(exc, ClientRejected):
        return errors.SalesforceClientRejected()
    if isinstance(exc, OAuthError):
        return errors.SalesforceUnavailable(
            "Salesforce refused the authorization code "
            f"({exc.description or exc.error}). Start connecting again."
        )
    return errors.SalesforceUnavailable()
