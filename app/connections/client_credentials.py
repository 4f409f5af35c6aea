"""Connecting with an integration user (contract 10.1): the customer's External Client App
with the client credentials flow and a run-as user. No browser: the consumer key and secret
get an access token at the org's My Domain at once; the identity, the REST check and the
storing are the web-server flow's (`verify_and_store`). The secret is kept encrypted with the
grant, so that app.workspace.tokens can ask for the next access token the same way.

Refusals store nothing: bad key or secret, or the flow not enabled, is 422
`salesforce_credentials_rejected` with Salesforce's `error_description`; a run-as user or org
without API access is 403 `salesforce_api_disabled`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import httpx

from app import errors
from app.config import Settings
from app.connections.checks import checked_login_url
from app.connections.errors import ConnectFailed
from app.connections.outcomes import Attempt, Connected, GrantKind, log_reason
from app.connections.schemas import ConnectionView, ConnectRequest
from app.models import GrantMethod
from app.salesforce import oauth
from app.salesforce.errors import (
    ClientRejected,
    HostNotAllowed,
    InvalidGrant,
    LoginRestricted,
    OAuthError,
    SalesforceError,
)

logger = logging.getLogger("app.connections")


class ClientCredentialsConnect:
    """Mixed into ConnectionService."""

    http: httpx.AsyncClient
    settings: Settings

    if TYPE_CHECKING:

        async def verify_and_store(
            self, attempt: Attempt, tokens: oauth.TokenAnswer, kind: GrantKind
        ) -> Connected: ...

    async def connect_client_credentials(
        self, workspace_id: str, user_id: str, request: ConnectRequest
    ) -> ConnectionView:
        assert request.client_id and request.client_secret  # the request model requires them
        attempt = Attempt(
            workspace_id, user_id, request.environment, checked_login_url(self.settings, request)
        )
        secret = request.client_secret.get_secret_value()
        try:
            tokens = await oauth.client_credentials_token(
                self.http, self.settings, attempt.login_url, request.client_id, secret
            )
        except SalesforceError as exc:
            logger.info(
                "salesforce.connect.failed",
                extra={
                    "workspace_id": workspace_id,
                    "reason": f"client_credentials:{log_reason(exc)}",
                },
            )
            raise refused(exc) from exc
        kind = GrantKind(GrantMethod.CLIENT_CREDENTIALS, request.client_id, secret)
        try:
            connected = await self.verify_and_store(attempt, tokens, kind)
        except ConnectFailed as failure:
            raise failure.error from None
        return connected.connection


def refused(exc: SalesforceError) -> errors.AppError:
    """The answer to a token request the client credentials did not pass."""
    if isinstance(exc, LoginRestricted):
        return errors.SalesforceLoginRestricted()
    if isinstance(exc, OAuthError) and (
        isinstance(exc, ClientRejected | InvalidGrant) or 400 <= exc.status < 500
    ):
        said = exc.description or exc.error
        return errors.SalesforceCredentialsRejected(
            f"Salesforce refused the client credentials: {said[:300]}. Check the External "
            "Client App's consumer key and secret, that its client credentials flow is enabled "
            "and that it has a run-as user. Nothing was connected."
        )
    if isinstance(exc, HostNotAllowed):
        return errors.SalesforceUnavailable(
            "Salesforce answered with an address outside Salesforce's domains; nothing was "
            "connected."
        )
    return errors.SalesforceUnavailable()
