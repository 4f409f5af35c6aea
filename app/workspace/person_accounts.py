"""Person Accounts (docs/whole-customer.md): where an org has them, a person account's
Contact is read like any Contact but written through its Account, each field under its
person name (Salesforce's naming: `Title` as `PersonTitle`, custom `X__c` as `X__pc`, the
name fields as they are). A Contact field with no Account counterpart cannot be edited."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SAME_NAME = frozenset(
    {"FirstName", "LastName", "Salutation", "MiddleName", "Suffix", "Phone", "Fax"}
)
PERSON_PREFIXED = frozenset(
    {
        "Email",
        "Title",
        "Department",
        "Birthdate",
        "LeadSource",
        "MobilePhone",
        "HomePhone",
        "OtherPhone",
        "AssistantPhone",
        "AssistantName",
        "MailingStreet",
        "MailingCity",
        "MailingState",
        "MailingPostalCode",
        "MailingCountry",
        "OtherStreet",
        "OtherCity",
        "OtherState",
        "OtherPostalCode",
        "OtherCountry",
        "HasOptedOutOfEmail",
        "HasOptedOutOfFax",
        "DoNotCall",
    }
)


def account_field(contact_field: str) -> str | None:
    """The Account field holding a person account's Contact field, or None."""
    if contact_field in SAME_NAME:
        return contact_field
    if contact_field in PERSON_PREFIXED:
        return "Person" + contact_field
    if contact_field.endswith("__c"):
        return contact_field[:-3] + "__pc"
    return None


def is_person(record: Mapping[str, Any] | None) -> bool:
    """A person account's Contact (the lookup selects `IsPersonAccount` and `AccountId`
    wherever the describe has them)."""
    if not record:
        return False
    return bool(record.get("IsPersonAccount")) and bool(record.get("AccountId"))


def on_account(values: Mapping[str, Any]) -> dict[str, Any]:
    """Contact field values under their Account names (every one has a counterpart)."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        target = account_field(name)
        assert target is not None, name
        out[target] = value
    return out
