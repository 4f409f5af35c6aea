"""The settings of the whole customer (docs/whole-customer.md): which records around a
matched Contact the lookup shows (`related`), and whether a create makes person accounts
(`record_creation.person_accounts`). Stored as one JSON value; null means the defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

RelatedObject = Literal["Account", "Opportunity", "Case"]
PART_OBJECTS: dict[str, RelatedObject] = {
    "account": "Account",
    "opportunities": "Opportunity",
    "cases": "Case",
}
DEFAULT_LIMIT = 5
MAX_LIMIT = 20


@dataclass(frozen=True, slots=True)
class RelatedPart:
    enabled: bool = False
    fields: tuple[str, ...] = ()
    limit: int = DEFAULT_LIMIT


def _account() -> RelatedPart:
    return RelatedPart(False, ("Name", "Industry", "Phone"))


def _opportunities() -> RelatedPart:
    return RelatedPart(False, ("Name", "StageName", "Amount", "CloseDate"))


def _cases() -> RelatedPart:
    return RelatedPart(False, ("CaseNumber", "Subject", "Status", "Priority"))


@dataclass(frozen=True, slots=True)
class RelatedSettings:
    account: RelatedPart = field(default_factory=_account)
    opportunities: RelatedPart = field(default_factory=_opportunities)
    cases: RelatedPart = field(default_factory=_cases)

    def parts(self) -> dict[str, RelatedPart]:
        return {"account": self.account, "opportunities": self.opportunities, "cases": self.cases}

    @property
    def any_enabled(self) -> bool:
        return self.account.enabled or self.opportunities.enabled or self.cases.enabled


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class CustomerSettings:
    related: RelatedSettings = field(default_factory=RelatedSettings)
    person_accounts: bool = False  # `record_creation.person_accounts`

    @classmethod
    def from_json(cls, raw: Any) -> CustomerSettings:
        if not isinstance(raw, dict):
            return cls()
        defaults = RelatedSettings().parts()
        related = _object(raw.get("related"))
        parts: dict[str, RelatedPart] = {}
        for name, default in defaults.items():
            held = _object(related.get(name))
            if not held:
                parts[name] = default
                continue
            parts[name] = RelatedPart(
                enabled=bool(held.get("enabled")),
                fields=tuple(str(f) for f in held.get("fields") or default.fields),
                limit=int(held.get("limit") or DEFAULT_LIMIT),
            )
        creation = _object(raw.get("record_creation"))
        return cls(RelatedSettings(**parts), bool(creation.get("person_accounts")))

    def to_json(self) -> dict[str, Any]:
        return {
            "related": {
                name: {
                    "enabled": part.enabled,
                    "fields": list(part.fields),
                    # The Account is one record: it has no limit.
                    **({} if name == "account" else {"limit": part.limit}),
                }
                for name, part in self.related.parts().items()
            },
            "record_creation": {"person_accounts": self.person_accounts},
        }
