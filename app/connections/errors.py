"""The OAuth callback's failure wrapper: an AppError plus where the page may link back to."""

from __future__ import annotations

import re

from app import errors

# What an OAuth error code looks like (`invalid_request`, `unsupported_response_type`): only
# such a code is repeated on the page, never free text.
OAUTH_ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class ConnectFailed(Exception):
    """A callback failure: the error to show plus where the page may link back to.

    `salesforce_error` is the `error` Salesforce sent to the callback: the browser page then
    shows that code and a fixed explanation instead of the problem's detail, which quotes the
    `error_description` of the query (anyone can link to the callback with any text)."""

    def __init__(
        self,
        error: errors.AppError,
        return_url: str | None = None,
        *,
        salesforce_error: str | None = None,
    ) -> None:
        super().__init__(error.code)
        self.error = error
        self.return_url = return_url
        self.salesforce_error = salesforce_error

    def page_problem(self) -> dict[str, object]:
        """The problem as the browser page shows it."""
        problem = self.error.to_problem()
        if self.salesforce_error is not None:
            code = self.salesforce_error
            named = f"the error code `{code}`" if OAUTH_ERROR_CODE.fullmatch(code) else "an error"
            problem["detail"] = (
                f"Salesforce answered with {named} instead of authorizing respond.io. Nothing "
                "was connected. Start connecting again; if it happens again, ask your "
                "Salesforce administrator whether the respond.io app may be used in this "
                "organization."
            )
        return problem


def invalid(field: str, message: str) -> errors.AppError:
    return errors.ValidationFailed(
        f"{field}: {message}", errors=[{"field": field, "message": message}]
    )
