"""Salesforce REST error bodies: a JSON array of {message, errorCode[, fields]}."""

from __future__ import annotations

from typing import Any


class SFError(Exception):
    """An error answered as Salesforce's REST error array."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[str] | None = None,
        *,
        extra: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        item: dict[str, Any] = {"message": message, "errorCode": code}
        if fields is not None:
            item["fields"] = fields
        self.body = [item, *(extra or [])]

    @property
    def code(self) -> str:
        return self.body[0]["errorCode"]


def not_found() -> SFError:
    return SFError(404, "NOT_FOUND", "The requested resource does not exist")


def invalid_session() -> SFError:
    return SFError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def api_disabled() -> SFError:
    return SFError(
        403, "API_DISABLED_FOR_ORG", "The REST API is not enabled for this Organization."
    )


def limit_exceeded() -> SFError:
    return SFError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


def server_unavailable() -> SFError:
    return SFError(
        503,
        "SERVER_UNAVAILABLE",
        "Unable to process your request. Please try again or contact your administrator.",
    )


FAULTS = {
    "request_limit_exceeded": limit_exceeded,
    "server_unavailable": server_unavailable,
    "api_disabled": api_disabled,
}
