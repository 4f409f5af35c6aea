"""Creating a person account instead of a Contact (docs/whole-customer.md), where the org
has Person Accounts and the workspace chose `record_creation.person_accounts`: the Contact
fields are sent to a new Account under their person names (Salesforce makes its person
Contact), and the answer is that person Contact as the lookup shows it."""

from __future__ import annotations

from typing import Any

from app import errors as app_errors
from app.salesforce.client import Credentials, SalesforceClient
from app.salesforce.errors import SalesforceUnavailable
from app.salesforce.soql import format_soql
from app.workspace.describes import ContactDescribe
from app.workspace.person_accounts import account_field, on_account


def makes_person_account(person_accounts: bool, describe: ContactDescribe) -> bool:
    """The workspace chose it and the org has the feature (the Contact describe says so)."""
    return person_accounts and describe.field("IsPersonAccount") is not None


def check_person_values(values: dict[str, Any]) -> None:
    """422 naming every given Contact field a person account cannot hold."""
    refused = [name for name in values if account_field(name) is None]
    if refused:
        raise app_errors.ValidationFailed(
            "A person account has no counterpart of: " + ", ".join(refused),
            errors=[
                {"field": f"fields.{name}", "message": "has no person account counterpart"}
                for name in refused
            ],
        )


async def create_person_account(
    salesforce: SalesforceClient,
    workspace_id: str,
    values: dict[str, Any],
    credentials: Credentials,
    *,
    allow_duplicates: bool = False,
) -> tuple[str, dict[str, Any]]:
    """POST the Account (one call) and find its person Contact (one query): the Contact's
    id, and what the answer needs besides the values written."""
    account_id = await salesforce.create_record(
        workspace_id,
        "Account",
        on_account(values),
        allow_duplicates=allow_duplicates,
        credentials=credentials,
        purpose="create",
    )
    rows = await salesforce.query(
        workspace_id,
        format_soql(
            "SELECT Id FROM Contact WHERE AccountId = {} AND IsPersonAccount = true LIMIT 1",
            account_id,
        ),
        credentials=credentials,
        purpose="create",
    )
    if not rows or not rows[0].get("Id"):
        raise SalesforceUnavailable("Salesforce made the person account without its Contact")
    return str(rows[0]["Id"]), {"AccountId": account_id, "IsPersonAccount": True}
