"""What an org allows of the emulator's connected app: whether a user may authorize it when
it is not installed in the org, and how many approvals one user keeps.

Since September 2025 a user may authorize an app that is not installed in the org only with
"Approve Uninstalled Connected Apps"; anyone else sees Salesforce's own error page and the
browser never comes back to the app. Salesforce keeps at most five approvals of one app per
user: the sixth revokes the oldest (its refresh token and access tokens die).

Mixed into SalesforceEmulator, like tokens.TokenStore.
"""

from __future__ import annotations

import html
import threading
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

if TYPE_CHECKING:
    from .models import Org, User
    from .tokens import Grant

router = APIRouter()
ERROR_PAGE = "/setup/secur/RemoteAccessErrorPage.apexp"
NOT_INSTALLED = ("invalid_client", "app must be installed into org")


class Approvals:
    _lock: threading.RLock
    grants: dict[str, Grant]

    if TYPE_CHECKING:  # provided by SalesforceEmulator and TokenStore

        def org(self, org_id: str) -> Org: ...
        def count(self, key: str, n: int = 1) -> None: ...
        def _end_grant(self, grant: Grant) -> None: ...

    def may_authorize(self, org: Org, user: User) -> bool:
        """Whether `user` may approve the emulator's connected app in `org`."""
        return org.connected_app_installed or user.approve_uninstalled_apps

    def enforce_approval_limit(self, grant: Grant) -> None:
        """After `grant` was approved: revoke the user's oldest approvals of the same app
        beyond the org's limit (grants are kept in the order they were made)."""
        with self._lock:
            limit = self.org(grant.org_id).approval_limit
            if not limit:
                return
            live = [
                g
                for g in self.grants.values()
                if not g.revoked
                and g.flow == "authorization_code"
                and g.client_id == grant.client_id
                and g.org_id == grant.org_id
                and g.user_id == grant.user_id
            ]
            for oldest in live[: max(0, len(live) - limit)]:
                self._end_grant(oldest)
                self.count("approval_limit.revoked")


def not_installed_redirect(base_url: str) -> RedirectResponse:
    """Where Salesforce sends a user who may not approve an uninstalled app: its own page."""
    query = urlencode({"error": NOT_INSTALLED[0], "error_description": NOT_INSTALLED[1]})
    return RedirectResponse(f"{base_url}{ERROR_PAGE}?{query}", status_code=302)


@router.get(ERROR_PAGE)
async def remote_access_error_page(request: Request) -> Response:
    error = request.query_params.get("error", "")
    description = request.query_params.get("error_description", "")
    body = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Error | Salesforce</title>"
        "</head><body><main><h1>OAuth Error</h1>"
        f"<p>We can't authorize you because of an OAuth error. For more information, contact "
        f"your Salesforce administrator.</p><p>{html.escape(error)}: "
        f"{html.escape(description)}</p></main></body></html>"
    )
    return HTMLResponse(body)
