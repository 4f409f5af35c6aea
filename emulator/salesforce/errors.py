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


def gone() -> SFError:
    """A retired API version: 410 with errorCode GONE (the documented status; clients report
    that code); the message is the emulator's own."""
    return SFError(410, "GONE", "The requested API version has been retired")


def invalid_session() -> SFError:
    return SFError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def api_disabled() -> SFError:
    return SFError(
        403, "API_DISABLED_FOR_ORG", "The REST API is not enabled for this Organization."
    )


def api_currently_disabled() -> SFError:
    """The user's profile lacks "API Enabled" (the org itself has the API)."""
    return SFError(403, "API_CURRENTLY_DISABLED", "API is disabled for this user")


def limit_exceeded() -> SFError:
    """The rolling 24-hour allocation is used up."""
    return SFError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


def concurrent_limit_exceeded() -> SFError:
    """Too many concurrent long-running (20 s+) requests in the org."""
    return SFError(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")


def unknown_exception() -> SFError:
    return SFError(
        500,
        "UNKNOWN_EXCEPTION",
        "An unexpected error occurred. Please include this ErrorId if you contact support: "
        "1987654321-12345 (-1234567890)",
    )


def server_unavailable() -> SFError:
    return SFError(
        503,
        "SERVER_UNAVAILABLE",
        "Unable to process your request. Please try again or contact your administrator.",
    )


FAULTS = {
    "request_limit_exceeded": limit_exceeded,
    "concurrent_limit_exceeded": concurrent_limit_exceeded,
    "server_unavailable": server_unavailable,
    "unknown_exception": unknown_exception,
    "api_disabled": api_disabled,
    "api_currently_disabled": api_currently_disabled,
}

# Record-level write rejections a test can ask for: errorCode -> (HTTP status, message).
# {field} and {id} are filled in from the fault and the record.
WRITE_ERRORS: dict[str, tuple[int, str]] = {
    "ENTITY_IS_LOCKED": (400, "the entity is locked for editing"),
    "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY": (
        400,
        "{object}Trigger: execution of BeforeUpdate caused by: System.NullPointerException: "
        "Attempt to de-reference a null object: Trigger.{object}Trigger: line 7, column 1",
    ),
    "INSUFFICIENT_ACCESS_OR_READONLY": (400, "insufficient access rights on object id"),
    "DUPLICATE_VALUE": (400, "duplicate value found: {field} on record with id: {id}"),
    "FIELD_FILTER_VALIDATION_EXCEPTION": (
        400,
        "Value does not exist or does not match filter criteria.",
    ),
    "STRING_TOO_LONG": (400, "{field}: data value too large (max length=255)"),
    "INSERT_UPDATE_DELETE_NOT_ALLOWED_DURING_MAINTENANCE": (
        400,
        "Updates can't be made during maintenance. Try again when maintenance is complete.",
    ),
    "INVALID_CROSS_REFERENCE_KEY": (400, "invalid cross reference id"),
    "UNABLE_TO_LOCK_ROW": (400, "unable to obtain exclusive access to this record"),
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": (400, "Validation rule failed."),
}
# How a "lost answer" looks after the write happened: an error status, a connection
# dropped mid-answer, or an answer that never comes in the client's time.
LOST_ANSWERS = ("error_500", "error_503", "drop", "hang")
