"""Errors of the connect flow that the contract's table does not name, and the callback's
failure wrapper."""

from __future__ import annotations

from app import errors


class SalesforceAccessDenied(errors.AppError):
    status = 400
    code = "salesforce_access_denied"
    title = "Salesforce access was not allowed"
    detail = (
        "The Salesforce user did not allow respond.io to access the account. Nothing was "
        "connected. Start connecting again and choose Allow."
    )


class SalesforceAuthorizationFailed(errors.AppError):
    status = 400
    code = "salesforce_authorization_failed"
    title = "Salesforce did not authorize the connection"


class ConnectFailed(Exception):
    """A callback failure: the contract's error plus where the page may link back to."""

    def __init__(self, error: errors.AppError, return_url: str | None = None) -> None:
        super().__init__(error.code)
        self.error = error
        self.return_url = return_url


def invalid(field: str, message: str) -> errors.AppError:
    return errors.ValidationFailed(
        f"{field}: {message}", errors=[{"field": field, "message": message}]
    )
