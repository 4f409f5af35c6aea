"""Duplicate rules (Setup > Duplicate Rules) the admin API can switch on.

A rule: {"object": "Contact", "fields": ["Email"], "action": "block" | "alert",
"match_objects": ["Contact"], "name": ..., "message": ...}. A new or changed record whose
non-blank values of all `fields` equal (case-insensitively) an existing record's is
refused with DUPLICATES_DETECTED, in the REST shape Salesforce answers:

[{"duplicateResut": {"allowSave", "duplicateRule", "duplicateRuleEntityType",
  "errorMessage", "matchResults": [{"entityType", "errors", "matchEngine",
  "matchRecords": [{"additionalInformation", "fieldDiffs", "matchConfidence",
  "record": {"attributes": {...}, "Id"}}], "rule", "size", "success"}]},
  "errorCode": "DUPLICATES_DETECTED", "message"}]

An "alert" rule lets the save through only when the request carries
`Sforce-Duplicate-Rule-Header: allowSave=true` (then allowSave is true in the error).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import SFError

DEFAULT_MESSAGE = (
    "You're creating a duplicate record. We recommend you use an existing record instead."
)
MATCH_RULES = {
    "Contact": "Standard_Contact_Match_Rule_v1_1",
    "Lead": "Standard_Lead_Match_Rule_v1_0",
}


def _norm(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def allow_save_header(value: str | None) -> bool:
    """Sforce-Duplicate-Rule-Header: allowSave=true[, includeRecordDetails=...]."""
    for part in (value or "").split(","):
        key, _, val = part.partition("=")
        if key.strip().lower() == "allowsave" and val.strip().lower() == "true":
            return True
    return False


def check(
    rules: list[dict[str, Any]],
    type_name: str,
    record: dict[str, Any],
    records_of: Callable[[str], list[dict[str, Any]]],
    *,
    allow_save: bool,
    version: str,
) -> None:
    """Raise DUPLICATES_DETECTED when an active rule for this object matches."""
    for rule in rules:
        if rule.get("object", "Contact").lower() != type_name.lower():
            continue
        if rule.get("active", True) is False:
            continue
        fields = list(rule.get("fields") or ["Email"])
        wanted = {f: _norm(record.get(f)) for f in fields}
        if any(v in (None, "") for v in wanted.values()):
            continue
        alert = rule.get("action", "block") == "alert"
        if alert and allow_save:
            continue
        results = []
        for entity in rule.get("match_objects") or [type_name]:
            matches = [
                r
                for r in records_of(entity)
                if not r.get("IsDeleted")
                and r["Id"] != record.get("Id")
                and not (entity == "Lead" and r.get("IsConverted"))
                and all(_norm(r.get(f)) == v for f, v in wanted.items())
            ]
            if matches:
                results.append(_match_result(entity, matches, version))
        if results:
            raise _error(rule, type_name, results, allow_save=alert)


def _match_result(entity: str, matches: list[dict[str, Any]], version: str) -> dict[str, Any]:
    return {
        "entityType": entity,
        "errors": [],
        "matchEngine": "ExactMatchEngine",
        "matchRecords": [
            {
                "additionalInformation": [],
                "fieldDiffs": [],
                "matchConfidence": 100.0,
                "record": {
                    "attributes": {
                        "type": entity,
                        "url": f"/services/data/v{version}/sobjects/{entity}/{r['Id']}",
                    },
                    "Id": r["Id"],
                },
            }
            for r in matches
        ],
        "rule": MATCH_RULES.get(entity, f"{entity}_Match_Rule"),
        "size": len(matches),
        "success": True,
    }


def _error(
    rule: dict[str, Any], type_name: str, results: list[dict[str, Any]], *, allow_save: bool
) -> SFError:
    message = rule.get("message") or DEFAULT_MESSAGE
    err = SFError(400, "DUPLICATES_DETECTED", message)
    err.body = [
        {
            "duplicateResut": {
                "allowSave": allow_save,
                "duplicateRule": rule.get("name") or f"Standard_{type_name}_Duplicate_Rule",
                "duplicateRuleEntityType": type_name,
                "errorMessage": message,
                "matchResults": results,
            },
            "errorCode": "DUPLICATES_DETECTED",
            "message": message,
        }
    ]
    return err
