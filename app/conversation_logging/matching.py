"""Which Salesforce record a closed conversation is logged on, and who owns its Task.

The lookup's rules: the contact's email first (a Contact, else an unconverted Lead when the
workspace has Leads on), else its phone (Phone or MobilePhone: the same string, or the same
E.164 number when the workspace matches phones `normalized`), the most recently changed
record winning. Emails are matched through the Email index, phones through the search
index (SOSL), as the lookup does, so every query stays selective in a large org.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import phonenumbers

from app.salesforce.client import SalesforceClient
from app.salesforce.soql import format_soql, format_sosl_find
from app.salesforce.values import parse_datetime
from app.workspace.identifiers import parse_phone, phone_key

PHONE_FIELDS = ("Phone", "MobilePhone")
LIMIT = 100
PURPOSE = "activity"


@dataclass(frozen=True, slots=True)
class Match:
    record_id: str
    sobject: str


def _newest(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    epoch = datetime.min.replace(tzinfo=UTC)
    return max(
        records,
        key=lambda r: parse_datetime(r.get("LastModifiedDate")) or epoch,
        default=None,
    )


class RecordFinder:
    def __init__(self, salesforce: SalesforceClient, default_region: str) -> None:
        self._salesforce = salesforce
        self._region = default_region

    async def find(
        self,
        workspace_id: str,
        email: str | None,
        phone: str | None,
        *,
        leads: bool,
        normalized: bool,
    ) -> Match | None:
        objects = ["Contact", "Lead"] if leads else ["Contact"]
        if email:
            for sobject in objects:
                record = await self._by_email(workspace_id, sobject, email)
                if record is not None:
                    return Match(str(record["Id"]), sobject)
        if phone:
            found = await self._by_phone(workspace_id, objects, phone, normalized)
            for sobject in objects:
                record = _newest([r for r in found if r["type"] == sobject])
                if record is not None:
                    return Match(str(record["Id"]), sobject)
        return None

    async def _by_email(self, workspace_id: str, sobject: str, email: str) -> dict | None:
        unconverted = " AND IsConverted = false" if sobject == "Lead" else ""
        soql = format_soql(
            "SELECT Id, Email, LastModifiedDate FROM {:name} WHERE Email = {}",
            sobject,
            email,
        )
        soql += unconverted + format_soql(" ORDER BY LastModifiedDate DESC LIMIT {}", LIMIT)
        rows = await self._salesforce.query(workspace_id, soql, purpose=PURPOSE)
        return _newest([r for r in rows if str(r.get("Email") or "").lower() == email.lower()])

    async def _by_phone(
        self, workspace_id: str, objects: list[str], phone: str, normalized: bool
    ) -> list[dict[str, Any]]:
        digits = "".join(ch for ch in phone if ch.isdigit())
        wanted = phone_key(phone, self._region) if normalized else phone
        if len(digits) < 2 or wanted is None:
            return []
        fields = ["Id", *PHONE_FIELDS, "LastModifiedDate"]
        where = {"Lead": "IsConverted = false"} if "Lead" in objects else {}
        # The national number: what every stored form of the phone ends with.
        number = parse_phone(phone, self._region)
        term = phonenumbers.national_significant_number(number) if number else digits
        sosl = format_sosl_find(
            term,
            "PHONE",
            {sobject: fields for sobject in objects},
            where=where,
            order_by="LastModifiedDate",
            limit=LIMIT,
        )
        found = []
        for record in await self._salesforce.search(workspace_id, sosl):
            sobject = (record.get("attributes") or {}).get("type")
            values = [record.get(f) for f in PHONE_FIELDS]
            if normalized:
                hit = any(phone_key(v, self._region) == wanted for v in values if v)
            else:
                hit = any(isinstance(v, str) and v == wanted for v in values)
            if hit and sobject in objects:
                found.append({**record, "type": sobject})
        return found


async def active_user_with_email(
    salesforce: SalesforceClient, workspace_id: str, email: str
) -> str | None:
    """The id of the org's active user with this email, or None."""
    soql = format_soql(
        "SELECT Id FROM User WHERE Email = {} AND IsActive = true ORDER BY CreatedDate ASC LIMIT 1",
        email,
    )
    rows = await salesforce.query(workspace_id, soql, purpose=PURPOSE)
    return str(rows[0]["Id"]) if rows else None
