"""The describe payloads (DescribeSObjectResult and its Field entries), built from
the schema with every key a real describe carries."""

from __future__ import annotations

from typing import Any

from .schema import SOAP_TYPES, TEXT_TYPES, Field, SObjectType


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
            {
                "active": True,
                "defaultValue": v == f.default,
                "label": v,
                "validFor": None,
                "value": v,
            }
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
        "unique": f.unique,
        "updateable": f.updateable,
        "writeRequiresMasterRead": False,
    }


def child_relationships(parent: str) -> list[dict[str, Any]]:
    """The parent-to-child relationships SOQL subqueries name (soql_relations)."""
    from .schema import sobject
    from .soql_relations import CHILD_RELATIONSHIPS

    def spelled(child: str) -> str:
        t = sobject(child)
        return t.label_plural.replace(" ", "") if t else child

    return [
        {
            "cascadeDelete": False,
            "childSObject": child,
            "deprecatedAndHidden": False,
            "field": field,
            "junctionIdListNames": [],
            "junctionReferenceTo": [],
            "relationshipName": spelled(child),
            "restrictedDelete": False,
        }
        for (owner, _), (child, field) in CHILD_RELATIONSHIPS.items()
        if owner == parent.lower()
    ]


def describe(t: SObjectType, version: str) -> dict[str, Any]:
    base = f"/services/data/v{version}/sobjects/{t.name}"
    return {
        "actionOverrides": [],
        "activateable": False,
        "childRelationships": child_relationships(t.name),
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
