"""respond.io Developer API v2 client."""

from app.respondio.client import RespondioClient, identifier_for, parse_retry_after
from app.respondio.errors import (
    RespondioAuthError,
    RespondioBadRequest,
    RespondioConflict,
    RespondioError,
    RespondioNotFound,
    RespondioRateLimited,
    RespondioUnavailable,
)

__all__ = [
    "RespondioAuthError",
    "RespondioBadRequest",
    "RespondioClient",
    "RespondioConflict",
    "RespondioError",
    "RespondioNotFound",
    "RespondioRateLimited",
    "RespondioUnavailable",
    "identifier_for",
    "parse_retry_after",
]
