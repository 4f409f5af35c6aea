"""Person Accounts, in orgs that enable them (`person_accounts_enabled` in the seed).

As in Salesforce: a person account is an Account with `IsPersonAccount = true` and a linked
person Contact (`IsPersonAccount = true`, `AccountId` the account). The Contact is read like
any Contact, but its data lives on the Account: `PersonEmail`, `PersonTitle`, `X__pc`, ...
(schema_customer.PERSON_FIELD_ON_ACCOUNT). A write to the person Contact is refused; a write
to the Account shows on the Contact at once (same LastModifiedDate).

Creating one: an Account given `LastName` (and no `Name`) in such an org. (Salesforce also
wants the person account record type; the emulator has no record types.)
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from .errors import SFError
from .fields import SObjectType
from .schema_customer import (
    PERSON_FIELD_ON_ACCOUNT,
    person_account_type,
    person_contact_type,
)

if TYPE_CHECKING:
    from .models import Org
    from .state import SalesforceEmulator


@cache
def org_type(name: str) -> SObjectType:
    """Contact or Account as an org with Person Accounts describes them."""
    from .schema import CONTACT

    if name == "Contact":
        return person_contact_type(CONTACT)
    return person_account_type(CONTACT)


def insert(state: SalesforceEmulator, org: Org, fields: dict[str, Any]) -> dict[str, Any]:
    """A seeded person account (Account fields, person fields under their Account names)."""
    rec = state._insert(org, org_type("Account"), {**fields, "IsPersonAccount": True})
    return rec


def person_contact(org: Org, account_id: str) -> dict[str, Any] | None:
    for rec in org.objects["Contact"].values():
        if rec.get("IsPersonAccount") and rec.get("AccountId") == account_id:
            return rec
    return None


def sync_contact(state: SalesforceEmulator, org: Org, account: dict[str, Any]) -> None:
    """After any write of a person account: its person Contact shows the Account's values
    (created with the account, deleted with it)."""
    if not account.get("IsPersonAccount"):
        return
    values = {
        contact_name: account.get(account_name)
        for contact_name, account_name in PERSON_FIELD_ON_ACCOUNT.items()
    }
    stamps = {
        key: account[key]
        for key in ("LastModifiedDate", "LastModifiedById", "SystemModstamp", "IsDeleted")
    }
    contact = person_contact(org, account["Id"])
    if contact is None:
        state._insert(
            org,
            org_type("Contact"),
            {
                **values,
                "AccountId": account["Id"],
                "IsPersonAccount": True,
                "OwnerId": account.get("OwnerId"),
                "CreatedDate": account["CreatedDate"],
                "CreatedById": account["CreatedById"],
                "LastModifiedDate": account["LastModifiedDate"],
            },
        )
        return
    contact.update(values)
    contact.update(stamps)
    # The search index sees the new values too (state.after_write, without a re-sync).
    state.after_write(org, org_type("Contact"), contact)


def refuse_contact_write(rec: dict[str, Any], body: Any) -> None:
    """A person Contact cannot be written through Contact: its fields are the Account's."""
    if not rec.get("IsPersonAccount"):
        return
    names = ", ".join(str(k) for k in body) if isinstance(body, dict) else ""
    raise SFError(
        400,
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to create/update fields: {names}. Please check the security settings of this "
        "field and verify that it is read/write for your profile or permission set.",
        list(body) if isinstance(body, dict) else [],
    )


def creating_person(org: Org, t: SObjectType, values: dict[str, Any]) -> dict[str, Any]:
    """An Account created with LastName in a Person Accounts org is a person account."""
    if org.person_accounts and t.name == "Account" and values.get("LastName"):
        if values.get("Name"):
            raise SFError(
                400,
                "INVALID_FIELD",
                "Name is not editable on a person account: give FirstName and LastName.",
                ["Name"],
            )
        return {**values, "IsPersonAccount": True}
    return values
