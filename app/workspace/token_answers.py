"""What the token endpoint's refusals mean for a connection (app.workspace.tokens): the
reason and sentence stored with `reauthorization_required`, and how long refreshes are held
back after a refusal that keeps the connection."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.errors import SalesforceClientRejected, SalesforceLoginRestricted
from app.models import SalesforceGrant
from app.salesforce.errors import (
    ClientRejected,
    InvalidGrant,
    LoginRestricted,
    SalesforceError,
    TokenRateLimited,
)

RECONNECT = "An owner or manager must reconnect Salesforce in Workspace Settings > Integrations."
NO_REFRESH_TOKEN = f"Salesforce gave no refresh token for this connection. {RECONNECT}"
_DEAD_GRANTS = {
    "inactive_user": (
        "user_inactive",
        "The Salesforce user who connected was deactivated. Another Salesforce user must "
        "reconnect Salesforce in Workspace Settings > Integrations.",
    ),
    "inactive_org": (
        "org_inactive",
        "The Salesforce organization is inactive (for example an expired trial or a suspended "
        f"org). Once it is active again, {RECONNECT[0].lower()}{RECONNECT[1:]}",
    ),
}
# How long refreshes are held back after each kind of refusal.
HOLD_BACK = {
    "token_rate_limited": timedelta(seconds=60),
    "login_restricted": timedelta(minutes=5),
    "client_rejected": timedelta(minutes=5),
}


def last_refreshed(grant: SalesforceGrant) -> datetime:
    """When the grant was last used to refresh (or obtained)."""
    return grant.tokens_refreshed_at or grant.issued_at


def dead_grant(exc: InvalidGrant) -> tuple[str, str]:
    """The reason and the sentence stored with `reauthorization_required`."""
    if exc.error in _DEAD_GRANTS:
        return _DEAD_GRANTS[exc.error]
    said = f" (Salesforce said: {exc.description[:200]})" if exc.description else ""
    return (
        "grant_expired_or_revoked",
        "Salesforce no longer accepts this connection's grant: it was revoked, or it expired "
        f"under the org's refresh-token policy{said}. {RECONNECT}",
    )


def rejected_credentials(exc: InvalidGrant | ClientRejected) -> tuple[str, str]:
    """A client-credentials connection whose consumer key, secret or run-as user Salesforce
    no longer accepts: only new credentials help."""
    said = exc.description or exc.error
    return (
        "credentials_rejected",
        f"Salesforce refused this connection's client credentials ({said[:200]}). An owner or "
        "manager must connect again with the External Client App's current consumer key and "
        "secret, and check that its client credentials flow and run-as user are enabled.",
    )


def refused_for_now(exc: SalesforceError) -> tuple[str, str, timedelta]:
    """A refusal that keeps the connection: reason, sentence, how long to hold back."""
    if isinstance(exc, LoginRestricted):
        return (
            "login_restricted",
            str(SalesforceLoginRestricted.detail),
            HOLD_BACK["login_restricted"],
        )
    if isinstance(exc, ClientRejected):
        return "client_rejected", str(SalesforceClientRejected.detail), HOLD_BACK["client_rejected"]
    return (
        "token_rate_limited",
        "Salesforce limits how often this connection may log in; the service waits before "
        "trying again.",
        HOLD_BACK["token_rate_limited"],
    )


def held_back(reason: str | None, detail: str | None, wait: timedelta) -> SalesforceError:
    """The error to raise while refreshes are held back, without asking Salesforce."""
    seconds = max(1.0, wait.total_seconds())
    if reason == "login_restricted":
        return LoginRestricted("invalid_grant", detail or "", status=400)
    if reason == "client_rejected":
        return ClientRejected("invalid_client", detail or "", status=400)
    error = TokenRateLimited(detail or "rate limit exceeded", error_code="rate_limit_exceeded")
    error.retry_after = seconds
    return error
