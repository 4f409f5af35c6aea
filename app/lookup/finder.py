"""The Salesforce calls of an uncached lookup, in order, stopping at the first winner.

Rules (docs/api.md, "Contact lookup"): Contacts before Leads; within an object, email before
phone; among several matches the most recently modified wins. Calls, `lag` being
`LOOKUP_SEARCH_LAG_SECONDS`:

1. email given: one SOQL on Contact, `Email = e` (Email index), OR'ed — when a phone is given
   too — with `SystemModstamp >= now - lag AND phone matches` (SystemModstamp index). An
   email match ends the lookup: **1 call**.
2. phone given: one SOSL phone search returning Contacts (and unconverted Leads when Leads are
   enabled: the same call serves both), plus — when step 1 did not already run it — the
   Contact recency query, both at once. A Contact phone match ends the lookup: **2 calls**
   (1 + 1 with an email).
3. Leads enabled and no Contact: one SOQL on unconverted Leads (email OR recent phone, or
   either alone); with the Leads of the search, this decides: **one extra call**.

The search index lags (minutes, more under load): a record created or changed within `lag`
is found by the recency branch, older ones by the search. Neither query scans the table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.lookup import matching
from app.lookup.matching import PhoneQuery
from app.salesforce.client import Credentials, SalesforceClient

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Found:
    sobject: str | None = None  # "Contact", "Lead" or None
    matched_on: str | None = None  # "email", "phone" or None
    records: list[Record] = field(default_factory=list)  # newest first


@dataclass(slots=True)
class Finder:
    salesforce: SalesforceClient
    workspace_id: str
    credentials: Credentials
    region: str

    async def find(
        self,
        selected: Mapping[str, Sequence[str]],
        email: str | None,
        phone: PhoneQuery | None,
        since: datetime,
    ) -> Found:
        """`selected` names the objects to look in (Contact, and Lead when enabled)."""
        recent = (since, phone) if phone is not None else None
        contacts_by_phone: list[Record] = []
        if email is not None:
            records = await self._query(
                matching.email_query("Contact", selected["Contact"], email, recent)
            )
            by_email = matching.email_matches(records, email)
            if by_email:
                return Found("Contact", "email", by_email)
            if phone is not None:
                contacts_by_phone = matching.phone_matches(records, phone, self.region)
        searched: list[Record] = []
        if phone is not None:
            calls: list[Awaitable[list[Record]]] = []
            if phone.search_term is not None:
                calls.append(self._search(matching.phone_search(phone, selected)))
            if email is None:
                calls.append(
                    self._query(
                        matching.recent_phone_query("Contact", selected["Contact"], since, phone)
                    )
                )
            answers = await asyncio.gather(*calls)
            if phone.search_term is not None:
                searched = answers[0]
            recent_contacts = answers[-1] if email is None else []
            contacts_by_phone = matching.phone_matches(
                [*contacts_by_phone, *matching.of_type(searched, "Contact"), *recent_contacts],
                phone,
                self.region,
            )
            if contacts_by_phone:
                return Found("Contact", "phone", contacts_by_phone)
        if "Lead" not in selected:
            return Found()
        return await self._leads(selected["Lead"], email, phone, since, searched)

    async def _leads(
        self,
        selected: Sequence[str],
        email: str | None,
        phone: PhoneQuery | None,
        since: datetime,
        searched: list[Record],
    ) -> Found:
        if email is not None:
            recent = (since, phone) if phone is not None else None
            records = await self._query(matching.email_query("Lead", selected, email, recent))
        elif phone is not None:
            records = await self._query(matching.recent_phone_query("Lead", selected, since, phone))
        else:
            return Found()
        if email is not None:
            by_email = matching.email_matches(records, email)
            if by_email:
                return Found("Lead", "email", by_email)
        if phone is not None:
            candidates = [*records, *matching.of_type(searched, "Lead")]
            by_phone = matching.phone_matches(candidates, phone, self.region)
            if by_phone:
                return Found("Lead", "phone", by_phone)
        return Found()

    async def _query(self, soql: str) -> list[Record]:
        return await self.salesforce.query(self.workspace_id, soql, credentials=self.credentials)

    async def _search(self, sosl: str) -> list[Record]:
        return await self.salesforce.search(self.workspace_id, sosl, credentials=self.credentials)
