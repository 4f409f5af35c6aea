"""Salesforce's duplicate rules on a create, shared by every feature that creates records
(docs/enterprise-orgs.md, "Duplicate rules"): the request key `allow_duplicates`, and the 409
naming the records Salesforce matched.

A rule that only alerts saves the record when the request asks for it
(`Sforce-Duplicate-Rule-Header: allowSave=true`, sent by the Salesforce client); a rule that
blocks refuses it either way.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool

from app import errors as app_errors
from app.salesforce.errors import DuplicatesDetected

AllowDuplicates = Annotated[
    StrictBool,
    Field(
        description="Save even when one of the org's duplicate rules matches, if that rule "
        "only alerts (Salesforce's `Sforce-Duplicate-Rule-Header: allowSave=true`). A rule "
        "that blocks still answers 409 `salesforce_duplicate`.",
    ),
]

DUPLICATE_DETAIL = (
    "Salesforce's duplicate rules found this {sobject} already exists; nothing was created. "
    "Open the matching record instead{hint}."
)
ALERT_HINT = ", or send `allow_duplicates: true` to save it anyway"


def duplicate_error(
    exc: DuplicatesDetected, sobject: str, *, allow_duplicates: bool
) -> app_errors.SalesforceDuplicate:
    """The 409 of a create Salesforce refused as a duplicate, with the ids it named. The hint
    about `allow_duplicates` is given only when the rule would let it save."""
    hint = ALERT_HINT if exc.save_allowed and not allow_duplicates else ""
    return app_errors.SalesforceDuplicate(
        DUPLICATE_DETAIL.format(sobject=sobject, hint=hint), duplicates=exc.duplicate_ids
    )
