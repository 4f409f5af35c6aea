"""The OAuth callback's failure wrapper: an AppError plus where the page may link back to."""

from __future__ import annotations

from app import errors


class ConnectFailed(Exception):
    """A callback failure: the error to show plus where the page may link back to."""

    def __init__(self, error: errors.AppError, return_url: str | None = None) -> None:
        super().__init__(error.code)
        self.error = error
        self.return_url = return_url


def invalid(field: str, message: str) -> errors.AppError:
    return errors.ValidationFailed(
        f"{field}: {message}", errors=[{"field": field, "message": message}]
    )
