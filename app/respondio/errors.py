"""Typed errors of the respond.io client.

Messages never contain the API token. ``retryable`` tells the job queue whether trying the
same call again later can succeed.
"""

from __future__ import annotations


class RespondioError(Exception):
    """Base class: ``status`` is the HTTP status when respond.io answered, else None."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        if self.status is None:
            return self.message
        return f"{self.message} (HTTP {self.status})"


class RespondioRateLimited(RespondioError):
    """429: wait ``retry_after`` seconds before calling again."""

    retryable = True

    def __init__(self, retry_after: float, message: str = "respond.io rate limit reached") -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class RespondioUnavailable(RespondioError):
    """5xx, timeout, connection failure or an unreadable answer."""

    retryable = True


class RespondioAuthError(RespondioError):
    """401/403: the workspace's API token is missing, wrong or revoked."""


class RespondioBadRequest(RespondioError):
    """Any other 4xx: the request itself is wrong; repeating it will not help."""


class RespondioNotFound(RespondioBadRequest):
    """404 where a contact must exist (tagging, update by id)."""


class RespondioConflict(RespondioBadRequest):
    """409: e.g. creating a contact whose identifier already exists."""
