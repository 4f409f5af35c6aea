"""Object schemas (Contact, Lead, Organization, User) and the describe payload.

Field metadata follows the keys of Salesforce's DescribeSObjectResult / Field so
that clients parsing a real describe can parse this one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "string": "xsd:string",
    "textarea": "xsd:string",
    "email": "xsd:string",
    "phone": "xsd:string",
    "picklist": "xsd:string",
    "url": "xsd:string",
    "boolean": "xsd:boolean",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "double": "xsd:double",
    "int": "xsd:int",
}
TEXT_TYPES = {"string", "textarea", "email", "phone", "picklist", "url"}


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: str
    length: int = 0
    updateable: bool = True
    createable: bool = True
    nillable: bool = True
    calculated: bool = False
    custom: bool = False
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    default: Any = None
    reference_to: tuple[str, ...] = ()
    formula: str | None = None
    compute: Callable[[dict[str, Any]], Any] | None = None
    precision: int = 0
    scale: int = 0
    name_field: bool = False
    external_id: bool = False

    @property
    def required_on_create(self) -> bool:
        return self.createable and not self.nillable and self.default is None


@dataclass
class SObjectType:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: list[Field] = field(default_factory=list)
    updateable: bool = True
    createable: bool = True
    deletable: bool = True

    def __post_init__(self) -> None:
        self.by_lower = {f.name.lower(): f for f in self.fields}

    def field(self, name: str) -> Field | None:
        return self.by_lower.get(name.lower())


def _name(rec: dict[str, Any]) -> str | None:
    parts = [p for p in (rec.get("FirstName"), rec.get("LastName")) if p]
    return " ".join(parts) or None


def _engagement(rec: dict[str, Any]) -> str:
    score = rec.get("Customer_Score__c")
    if score is None:
        return "Unknown"
    return "High" if score >= 80 else "Medium" if score >= 50 else "Low"


def _ro(name: str, label: str, type_: str, **kw: Any) -> Field:
    return Field(name, label, type_, updateable=False, createable=False, **kw)


def _audit_fields() -> list[Field]:
    return [
        _ro("CreatedDate", "Created Date", "datetime", nillable=False),
        _ro("CreatedById", "Created By ID", "reference", length=18, reference_to=("User",)),
        _ro("LastModifiedDate", "Last Modified Date", "datetime", nillable=False),
        _ro(
            "LastModifiedById",
            "Last Modified By ID",
            "reference",
            length=18,
            reference_to=("User",),
        ),
        _ro("SystemModstamp", "System Modstamp", "datetime", nillable=False),
    ]


def _phone(name: str, label: str) -> Field:
    return Field(name, label, "phone", length=40)


LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")

CONTACT = SObjectType(
    "Contact",
    "Contact",
    "Contacts",
    "003",
    [
        _ro("Id", "Contact ID", "id", length=18, nillable=False),
        _ro("IsDeleted", "Deleted", "boolean", nillable=False, default=False),
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
        _ro("Name", "Full Name", "string", length=121, compute=_name, name_field=True),
        Field("MailingCity", "Mailing City", "string", length=40),
        Field("MailingCountry", "Mailing Country", "string", length=80),
        _phone("Phone", "Business Phone"),
        _phone("Fax", "Business Fax"),
        _phone("MobilePhone", "Mobile Phone"),
        _phone("HomePhone", "Home Phone"),
        _phone("OtherPhone", "Other Phone"),
        _phone("AssistantPhone", "Asst. Phone"),
        Field("Email", "Email", "email", length=80),
        Field("Title", "Title", "string", length=128),
        Field("Department", "Department", "string", length=80),
        Field("LeadSource", "Lead Source", "picklist", length=255, picklist=LEAD_SOURCES),
        Field("Birthdate", "Birthdate", "date"),
        Field("Description", "Contact Description", "textarea", length=32000),
        Field("HasOptedOutOfEmail", "Email Opt Out", "boolean", nillable=False, default=False),
        Field("DoNotCall", "Do Not Call", "boolean", nillable=False, default=False),
        Field(
            "OwnerId",
            "Owner ID",
            "reference",
            length=18,
            nillable=False,
            default="$user",
            reference_to=("User",),
        ),
        *_audit_fields(),
        _ro("LastActivityDate", "Last Activity", "date"),
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
        _ro(
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

LEAD = SObjectType(
    "Lead",
    "Lead",
    "Leads",
    "00Q",
    [
        _ro("Id", "Lead ID", "id", length=18, nillable=False),
        _ro("IsDeleted", "Deleted", "boolean", nillable=False, default=False),
        Field("LastName", "Last Name", "string", length=80, nillable=False),
        Field("FirstName", "First Name", "string", length=40),
        _ro("Name", "Full Name", "string", length=121, compute=_name, name_field=True),
        Field("Company", "Company", "string", length=255, nillable=False),
        Field("Title", "Title", "string", length=128),
        _phone("Phone", "Phone"),
        _phone("MobilePhone", "Mobile Phone"),
        Field("Email", "Email", "email", length=80),
        Field("LeadSource", "Lead Source", "picklist", length=255, picklist=LEAD_SOURCES),
        Field(
            "Status",
            "Status",
            "picklist",
            length=255,
            nillable=False,
            default="Open - Not Contacted",
            picklist=(
                "Open - Not Contacted",
                "Working - Contacted",
                "Closed - Converted",
                "Closed - Not Converted",
            ),
        ),
        _ro("IsConverted", "Converted", "boolean", nillable=False, default=False),
        Field(
            "OwnerId",
            "Owner ID",
            "reference",
            length=18,
            nillable=False,
            default="$user",
            reference_to=("User", "Group"),
        ),
        *_audit_fields(),
    ],
)

ORGANIZATION = SObjectType(
    "Organization",
    "Organization",
    "Organizations",
    "00D",
    [
        _ro("Id", "Organization ID", "id", length=18, nillable=False),
        _ro("Name", "Name", "string", length=80, nillable=False, name_field=True),
        _ro("Division", "Division", "string", length=80),
        _ro("OrganizationType", "Edition", "picklist", length=255),
        _ro("InstanceName", "Instance Name", "string", length=5),
        _ro("IsSandbox", "Is Sandbox", "boolean", nillable=False),
        _ro("Country", "Country", "string", length=80),
        _ro("PrimaryContact", "Primary Contact", "string", length=80),
        _ro("DefaultLocaleSidKey", "Locale", "picklist", length=255),
        _ro("LanguageLocaleKey", "Language", "picklist", length=255),
        _ro("TimeZoneSidKey", "Default Time Zone", "picklist", length=255),
        _ro("NamespacePrefix", "Namespace Prefix", "string", length=15),
        *_audit_fields(),
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
        _ro("Id", "User ID", "id", length=18, nillable=False),
        _ro("Username", "Username", "string", length=80, nillable=False),
        _ro("LastName", "Last Name", "string", length=80, nillable=False),
        _ro("FirstName", "First Name", "string", length=40),
        _ro("Name", "Full Name", "string", length=121, compute=_name, name_field=True),
        _ro("Email", "Email", "email", length=128, nillable=False),
        _ro("Alias", "Alias", "string", length=8, nillable=False),
        _ro("IsActive", "Active", "boolean", nillable=False),
        _ro("UserType", "User Type", "picklist", length=255),
        _ro("TimeZoneSidKey", "Time Zone", "picklist", length=255),
        _ro("LocaleSidKey", "Locale", "picklist", length=255),
        _ro("LanguageLocaleKey", "Language", "picklist", length=255),
        *_audit_fields(),
    ],
    updateable=False,
    createable=False,
    deletable=False,
)

SOBJECTS: dict[str, SObjectType] = {t.name.lower(): t for t in (CONTACT, LEAD, ORGANIZATION, USER)}


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
