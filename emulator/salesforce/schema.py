"""Object schemas (Contact, Organization, User here; Lead, Task and TaskStatus in
schema_sales.py) and the registry of queryable objects.

Field metadata follows the keys of Salesforce's DescribeSObjectResult / Field so
that clients parsing a real describe can parse this one.
"""

from __future__ import annotations

from typing import Any

from .fields import (
    SOAP_TYPES,
    TEXT_TYPES,
    Field,
    SObjectType,
    audit_fields,
    full_name,
    owner,
    phone,
    read_only,
)

__all__ = ["LEAD", "SOAP_TYPES", "TASK", "TASK_STATUS", "TEXT_TYPES", "Field", "SObjectType"]

from .schema_customer import ACCOUNT, CASE, OPPORTUNITY
from .schema_sales import LEAD, LEAD_SOURCES, TASK, TASK_STATUS


def _engagement(rec: dict[str, Any]) -> str:
    score = rec.get("Customer_Score__c")
    if score is None:
        return "Unknown"
    return "High" if score >= 80 else "Medium" if score >= 50 else "Low"


CONTACT = SObjectType(
    "Contact",
    "Contact",
    "Contacts",
    "003",
    [
        read_only("Id", "Contact ID", "id", length=18, nillable=False),
        read_only("IsDeleted", "Deleted", "boolean", nillable=False, default=False),
        Field("AccountId", "Account ID", "reference", length=18, reference_to=("Account",)),
        Field("LastName", "Last Name", "string", length=80, nillable=False),
        Field("FirstName", "First Name", "string", length=40),
        Field(
            "Salutation",
            "Salutation",
            "picklist",
            length=40,
            picklist=("Mr.", "Ms.", "Mrs.", "Dr.", "Prof."),
        ),
        read_only("Name", "Full Name", "string", length=121, compute=full_name, name_field=True),
        Field("MailingCity", "Mailing City", "string", length=40),
        Field("MailingCountry", "Mailing Country", "string", length=80),
        phone("Phone", "Business Phone"),
        phone("Fax", "Business Fax"),
        phone("MobilePhone", "Mobile Phone"),
        phone("HomePhone", "Home Phone"),
        phone("OtherPhone", "Other Phone"),
        phone("AssistantPhone", "Asst. Phone"),
        Field("Email", "Email", "email", length=80),
        Field("Title", "Title", "string", length=128),
        Field("Department", "Department", "string", length=80),
        Field("LeadSource", "Lead Source", "picklist", length=255, picklist=LEAD_SOURCES),
        Field("Birthdate", "Birthdate", "date"),
        Field("Description", "Contact Description", "textarea", length=32000),
        Field("HasOptedOutOfEmail", "Email Opt Out", "boolean", nillable=False, default=False),
        Field("DoNotCall", "Do Not Call", "boolean", nillable=False, default=False),
        owner("User"),
        *audit_fields(),
        read_only("LastActivityDate", "Last Activity", "date"),
        Field(
            "Preferred_Language__c",
            "Preferred Language",
            "picklist",
            length=255,
            custom=True,
            restricted=True,
            picklist=("English", "Malay", "Mandarin", "Tamil", "Spanish", "Portuguese"),
        ),
        Field("Customer_Score__c", "Customer Score", "double", custom=True, precision=5, scale=2),
        read_only(
            "Engagement_Level__c",
            "Engagement Level",
            "string",
            length=1300,
            custom=True,
            calculated=True,
            formula='IF(ISBLANK(Customer_Score__c), "Unknown", IF(Customer_Score__c >= 80, '
            '"High", IF(Customer_Score__c >= 50, "Medium", "Low")))',
            compute=_engagement,
        ),
    ],
)

ORGANIZATION = SObjectType(
    "Organization",
    "Organization",
    "Organizations",
    "00D",
    [
        read_only("Id", "Organization ID", "id", length=18, nillable=False),
        read_only("Name", "Name", "string", length=80, nillable=False, name_field=True),
        read_only("Division", "Division", "string", length=80),
        read_only("OrganizationType", "Edition", "picklist", length=255),
        read_only("InstanceName", "Instance Name", "string", length=5),
        read_only("IsSandbox", "Is Sandbox", "boolean", nillable=False),
        read_only("Country", "Country", "string", length=80),
        read_only("PrimaryContact", "Primary Contact", "string", length=80),
        read_only("DefaultLocaleSidKey", "Locale", "picklist", length=255),
        read_only("LanguageLocaleKey", "Language", "picklist", length=255),
        read_only("TimeZoneSidKey", "Default Time Zone", "picklist", length=255),
        read_only("NamespacePrefix", "Namespace Prefix", "string", length=15),
        *audit_fields(),
    ],
    updateable=False,
    createable=False,
    deletable=False,
)

USER = SObjectType(
    "User",
    "User",
    "Users",
    "005",
    [
        read_only("Id", "User ID", "id", length=18, nillable=False),
        read_only("Username", "Username", "string", length=80, nillable=False),
        read_only("LastName", "Last Name", "string", length=80, nillable=False),
        read_only("FirstName", "First Name", "string", length=40),
        read_only("Name", "Full Name", "string", length=121, compute=full_name, name_field=True),
        read_only("Email", "Email", "email", length=128, nillable=False),
        read_only("Alias", "Alias", "string", length=8, nillable=False),
        read_only("IsActive", "Active", "boolean", nillable=False),
        read_only("UserType", "User Type", "picklist", length=255),
        read_only("TimeZoneSidKey", "Time Zone", "picklist", length=255),
        read_only("LocaleSidKey", "Locale", "picklist", length=255),
        read_only("LanguageLocaleKey", "Language", "picklist", length=255),
        *audit_fields(),
    ],
    updateable=False,
    createable=False,
    deletable=False,
)

SOBJECTS: dict[str, SObjectType] = {
    t.name.lower(): t
    for t in (CONTACT, LEAD, TASK, TASK_STATUS, ORGANIZATION, USER, ACCOUNT, OPPORTUNITY, CASE)
}


def sobject(name: str) -> SObjectType | None:
    return SOBJECTS.get(name.lower())


def with_computed(t: SObjectType, rec: dict[str, Any]) -> dict[str, Any]:
    """The record with calculated values (Name, formula fields) filled in."""
    out = dict(rec)
    for f in t.fields:
        if f.compute is not None:
            out[f.name] = f.compute(rec)
        elif f.name not in out:
            out[f.name] = None
    return out
