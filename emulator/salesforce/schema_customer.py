"""Account, Opportunity and Case: the objects around a Contact, with the standard fields a
real org describes, and the Person Account variants of Account and Contact (only in orgs
that have the feature: `IsPersonAccount` and the `Person...` fields exist nowhere else)."""

from __future__ import annotations

import dataclasses
from typing import Any

from .fields import (
    Field,
    SObjectType,
    audit_fields,
    full_name,
    identity_fields,
    owner,
    phone,
    read_only,
)
from .schema_sales import INDUSTRIES

ACCOUNT_TYPES = ("Prospect", "Customer - Direct", "Customer - Channel", "Partner", "Other")
OPEN_STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Proposal/Price Quote",
    "Negotiation/Review",
)
CLOSED_STAGES = ("Closed Won", "Closed Lost")
CASE_STATUSES = ("New", "Working", "Escalated", "Closed")
CLOSED_CASE_STATUSES = ("Closed",)
CASE_ORIGINS = ("Phone", "Email", "Web", "WhatsApp")
CASE_PRIORITIES = ("High", "Medium", "Low")


def _account_name(rec: dict[str, Any]) -> Any:
    # A person account's Name is its person's; a business account's is the one given.
    if rec.get("IsPersonAccount"):
        return full_name(rec)
    return rec.get("Name")


ACCOUNT = SObjectType(
    "Account",
    "Account",
    "Accounts",
    "001",
    [
        *identity_fields("Account ID"),
        Field("Name", "Account Name", "string", length=255, nillable=False, name_field=True),
        Field("Type", "Account Type", "picklist", length=255, picklist=ACCOUNT_TYPES),
        Field("Industry", "Industry", "picklist", length=255, picklist=INDUSTRIES),
        phone("Phone", "Account Phone"),
        Field("Website", "Website", "url", length=255),
        Field("BillingCity", "Billing City", "string", length=40),
        Field("BillingCountry", "Billing Country", "string", length=80),
        Field("AnnualRevenue", "Annual Revenue", "currency", precision=18, scale=0),
        Field("NumberOfEmployees", "Employees", "int", precision=8),
        Field("Description", "Account Description", "textarea", length=32000),
        owner("User"),
        *audit_fields(),
    ],
)


def _opportunity_closed(rec: dict[str, Any]) -> bool:
    return rec.get("StageName") in CLOSED_STAGES


OPPORTUNITY = SObjectType(
    "Opportunity",
    "Opportunity",
    "Opportunities",
    "006",
    [
        *identity_fields("Opportunity ID"),
        Field("AccountId", "Account ID", "reference", length=18, reference_to=("Account",)),
        Field("Name", "Name", "string", length=120, nillable=False, name_field=True),
        Field(
            "StageName",
            "Stage",
            "picklist",
            length=255,
            nillable=False,
            picklist=OPEN_STAGES + CLOSED_STAGES,
        ),
        Field("Amount", "Amount", "currency", precision=18, scale=2),
        Field("Probability", "Probability (%)", "percent", precision=3, scale=0),
        Field("CloseDate", "Close Date", "date", nillable=False),
        Field("NextStep", "Next Step", "string", length=255),
        Field("Description", "Description", "textarea", length=32000),
        read_only("IsClosed", "Closed", "boolean", nillable=False, compute=_opportunity_closed),
        read_only(
            "IsWon",
            "Won",
            "boolean",
            nillable=False,
            compute=lambda rec: rec.get("StageName") == "Closed Won",
        ),
        owner("User"),
        *audit_fields(),
    ],
)


def _case_closed(rec: dict[str, Any]) -> bool:
    return rec.get("Status") in CLOSED_CASE_STATUSES


CASE = SObjectType(
    "Case",
    "Case",
    "Cases",
    "500",
    [
        *identity_fields("Case ID"),
        # An auto number: assigned on insert (state.after_write), never written.
        read_only("CaseNumber", "Case Number", "string", length=30, name_field=True),
        Field("ContactId", "Contact ID", "reference", length=18, reference_to=("Contact",)),
        Field("AccountId", "Account ID", "reference", length=18, reference_to=("Account",)),
        Field("Subject", "Subject", "string", length=255),
        Field("Description", "Description", "textarea", length=32000),
        Field(
            "Status",
            "Status",
            "picklist",
            length=255,
            nillable=False,
            default="New",
            picklist=CASE_STATUSES,
        ),
        Field(
            "Priority",
            "Priority",
            "picklist",
            length=255,
            nillable=False,
            default="Medium",
            picklist=CASE_PRIORITIES,
        ),
        Field("Origin", "Case Origin", "picklist", length=255, picklist=CASE_ORIGINS),
        Field(
            "Type",
            "Case Type",
            "picklist",
            length=255,
            picklist=("Question", "Problem", "Feature Request"),
        ),
        read_only("IsClosed", "Closed", "boolean", nillable=False, compute=_case_closed),
        read_only("ClosedDate", "Closed Date", "datetime"),
        owner("User"),
        *audit_fields(),
    ],
)

# Person Accounts: the person Contact's fields as the Account holds them (Salesforce's
# naming: standard fields gain a `Person` prefix, custom `X__c` become `X__pc`; the name
# fields keep their names).
PERSON_FIELD_ON_ACCOUNT = {
    "FirstName": "FirstName",
    "LastName": "LastName",
    "Salutation": "Salutation",
    "Email": "PersonEmail",
    "MobilePhone": "PersonMobilePhone",
    "HomePhone": "PersonHomePhone",
    "OtherPhone": "PersonOtherPhone",
    "Title": "PersonTitle",
    "Department": "PersonDepartment",
    "Birthdate": "PersonBirthdate",
    "LeadSource": "PersonLeadSource",
    "MailingCity": "PersonMailingCity",
    "MailingCountry": "PersonMailingCountry",
    "HasOptedOutOfEmail": "PersonHasOptedOutOfEmail",
    "DoNotCall": "PersonDoNotCall",
    "Phone": "Phone",
    "Preferred_Language__c": "Preferred_Language__pc",
    "Customer_Score__c": "Customer_Score__pc",
}

IS_PERSON_ACCOUNT = read_only(
    "IsPersonAccount", "Is Person Account", "boolean", nillable=False, default=False
)


def person_contact_type(contact: SObjectType) -> SObjectType:
    """Contact as an org with Person Accounts describes it."""
    return dataclasses.replace(contact, fields=[*contact.fields, IS_PERSON_ACCOUNT])


def person_account_type(contact: SObjectType) -> SObjectType:
    """Account with the person fields (their metadata copied from Contact's), `Name`
    computed from the person's name, and `IsPersonAccount`."""
    extra: list[Field] = []
    have = {f.name for f in ACCOUNT.fields}
    for contact_name, account_name in PERSON_FIELD_ON_ACCOUNT.items():
        source = contact.field(contact_name)
        if source is None or account_name in have:
            continue
        label = source.label if account_name == contact_name else f"{source.label} (Person)"
        # A business account has no LastName: required only of person accounts.
        extra.append(dataclasses.replace(source, name=account_name, label=label, nillable=True))
    fields = []
    for f in ACCOUNT.fields:
        if f.name == "Name":
            # Business accounts give Name; person accounts get it from First/LastName.
            f = dataclasses.replace(f, nillable=True, compute=_account_name)
        fields.append(f)
    return dataclasses.replace(ACCOUNT, fields=[*fields, *extra, IS_PERSON_ACCOUNT])


def number_case(org: Any, rec: dict[str, Any]) -> None:
    """Give a new Case its auto number (`00001001`, ...), once, and (as Salesforce does) the
    Account of its Contact when none is given; closing stamps ClosedDate."""
    if not rec.get("AccountId") and rec.get("ContactId"):
        contact_id = str(rec["ContactId"])[:15]
        contact = next(
            (c for c in org.objects["Contact"].values() if str(c["Id"])[:15] == contact_id), None
        )
        rec["AccountId"] = contact.get("AccountId") if contact else None
    if not rec.get("CaseNumber"):
        taken = [
            int(str(c.get("CaseNumber") or "0"))
            for c in org.objects["Case"].values()
            if str(c.get("CaseNumber") or "").isdigit()
        ]
        rec["CaseNumber"] = f"{max(taken, default=1000) + 1:08d}"
    if _case_closed(rec) and not rec.get("ClosedDate"):
        rec["ClosedDate"] = rec.get("LastModifiedDate")
    elif not _case_closed(rec):
        rec["ClosedDate"] = None
