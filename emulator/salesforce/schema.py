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


def describe_field(f: Field) -> dict[str, Any]:
    is_text = f.type in TEXT_TYPES
    return {
        "aggregatable": f.type not in ("textarea",),
        "aiPredictionField": False,
        "autoNumber": False,
        "byteLength": f.length * 3 if is_text or f.type in ("id", "reference") else 0,
        "calculated": f.calculated,
        "calculatedFormula": f.formula,
        "cascadeDelete": False,
        "caseSensitive": False,
        "compoundFieldName": "Name" if f.name in ("FirstName", "LastName", "Salutation") else None,
        "controllerName": None,
        "createable": f.createable,
        "custom": f.custom,
        "defaultValue": f.default if f.default not in (None, "$user") else None,
        "defaultValueFormula": None,
        "defaultedOnCreate": f.default is not None,
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": 0,
        "displayLocationInDecimal": False,
        "encrypted": False,
        "externalId": f.external_id,
        "extraTypeInfo": "personname" if f.name in ("FirstName", "LastName", "Name") else None,
        "filterable": f.type != "textarea",
        "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False,
        "groupable": f.type not in ("textarea", "double", "datetime"),
        "highScaleNumber": False,
        "htmlFormatted": False,
        "idLookup": f.type == "id" or f.type == "email" or f.name == "Username",
        "inlineHelpText": None,
        "label": f.label,
        "length": f.length if (is_text or f.type in ("id", "reference")) else 0,
        "mask": None,
        "maskType": None,
        "name": f.name,
        "nameField": f.name_field,
        "namePointing": False,
        "nillable": f.nillable,
        "permissionable": f.nillable and not f.calculated and f.createable,
        "picklistValues": [
            {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v}
            for v in f.picklist
        ],
        "polymorphicForeignKey": len(f.reference_to) > 1,
        "precision": f.precision,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": list(f.reference_to),
        "relationshipName": (f.name[:-2] if f.type == "reference" else None),
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": f.restricted,
        "scale": f.scale,
        "searchPrefilterable": f.type == "reference",
        "soapType": SOAP_TYPES.get(f.type, "xsd:string"),
        "sortable": f.type != "textarea",
        "type": f.type,
        "unique": False,
        "updateable": f.updateable,
        "writeRequiresMasterRead": False,
    }


def describe(t: SObjectType, version: str) -> dict[str, Any]:
    base = f"/services/data/v{version}/sobjects/{t.name}"
    return {
        "actionOverrides": [],
        "activateable": False,
        "childRelationships": [],
        "compactLayoutable": True,
        "createable": t.createable,
        "custom": False,
        "customSetting": False,
        "deepCloneable": False,
        "defaultImplementation": None,
        "deletable": t.deletable,
        "deprecatedAndHidden": False,
        "extendedBy": None,
        "extendsInterfaces": None,
        "feedEnabled": t.name in ("Contact", "Lead"),
        "fields": [describe_field(f) for f in t.fields],
        "hasSubtypes": False,
        "implementedBy": None,
        "implementsInterfaces": None,
        "isInterface": False,
        "isSubtype": False,
        "keyPrefix": t.key_prefix,
        "label": t.label,
        "labelPlural": t.label_plural,
        "layoutable": t.name in ("Contact", "Lead"),
        "listviewable": None,
        "lookupLayoutable": None,
        "mergeable": t.name in ("Contact", "Lead"),
        "mruEnabled": t.name in ("Contact", "Lead"),
        "name": t.name,
        "namedLayoutInfos": [],
        "networkScopeFieldName": None,
        "queryable": True,
        "recordTypeInfos": [],
        "replicateable": True,
        "retrieveable": True,
        "searchLayoutable": True,
        "searchable": t.name in ("Contact", "Lead", "User"),
        "sobjectDescribeOption": "FULL",
        "supportedScopes": [{"label": "All contacts", "name": "everything"}],
        "triggerable": t.name in ("Contact", "Lead"),
        "undeletable": t.deletable,
        "updateable": t.updateable,
        "urls": {
            "compactLayouts": f"{base}/describe/compactLayouts",
            "rowTemplate": f"{base}/{{ID}}",
            "approvalLayouts": f"{base}/describe/approvalLayouts",
            "uiDetailTemplate": "/{ID}",
            "uiEditTemplate": "/{ID}/e",
            "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
            "describe": f"{base}/describe",
            "uiNewRecord": f"/{t.key_prefix}/e",
            "quickActions": f"{base}/quickActions",
            "layouts": f"{base}/describe/layouts",
            "sobject": base,
        },
    }


def basic_info(t: SObjectType, version: str) -> dict[str, Any]:
    """The short per-object entry used by the global describe."""
    base = f"/services/data/v{version}/sobjects/{t.name}"
    return {
        "activateable": False,
        "createable": t.createable,
        "custom": False,
        "customSetting": False,
        "deletable": t.deletable,
        "deprecatedAndHidden": False,
        "feedEnabled": t.name in ("Contact", "Lead"),
        "keyPrefix": t.key_prefix,
        "label": t.label,
        "labelPlural": t.label_plural,
        "layoutable": t.name in ("Contact", "Lead"),
        "mergeable": t.name in ("Contact", "Lead"),
        "name": t.name,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": t.name in ("Contact", "Lead", "User"),
        "triggerable": t.name in ("Contact", "Lead"),
        "undeletable": t.deletable,
        "updateable": t.updateable,
        "urls": {
            "rowTemplate": f"{base}/{{ID}}",
            "describe": f"{base}/describe",
            "sobject": base,
        },
    }
