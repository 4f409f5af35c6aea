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

In a large org even an OR of two indexed branches can exceed the optimizer's threshold and
answer QUERY_TIMEOUT: the query of steps 1 and 3 is then made as its two halves at once
(`Email = e`; `SystemModstamp >= ... AND phone matches`), each selective on its own, and the
org's object is remembered (`SplitMemory`) so the next lookups split at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.kit.clocks import Now, utc_now
from app.lookup import matching
from app.lookup.matching import PhoneQuery
from app.salesforce.client import Credentials, SalesforceClient
from app.salesforce.errors import QueryTimeout

logger = logging.getLogger("app.contacts.lookup")

Record = dict[str, Any]
# How long an org's object is queried split after a QUERY_TIMEOUT, before the OR is tried again.
SPLIT_FOR = timedelta(hours=1)
SPLIT_MEMORY_SIZE = 10_000


@dataclass(slots=True)
class SplitMemory:
    """(organization, object) pairs whose lookup ORs time out: split them at once."""

    now: Now = utc_now
    _until: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def split(self, organization_id: str, sobject: str) -> bool:
        until = self._until.get((organization_id, sobject))
        return until is not None and self.now() < until

    def timed_out(self, organization_id: str, sobject: str) -> None:
        if len(self._until) >= SPLIT_MEMORY_SIZE:
            self._until.clear()
        self._until[(organization_id, sobject)] = self.now() + SPLIT_FOR


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
    splits: SplitMemory = field(default_factory=SplitMemory)

    async def find(
        self,
        selected: Mapping[str, Sequence[str]],
        email: str | None,
        phone: PhoneQuery | None,
        since: datetime,
    ) -> Found:
        """`selected` names the objects to look in (Contact, and Lead when enabled) and their
        fields; an identifier field not selected is hidden from the connected user
        (field-level security) and is neither queried nor matched on."""
        contact = selected["Contact"]
        email_on = email if matching.EMAIL_FIELD in contact else None
        phones = matching.phone_fields(contact)
        phone_on = phone if phones else None
        contacts_by_phone: list[Record] = []
        if email_on is not None:
            recent = (since, phone_on) if phone_on is not None else None
            records = await self._by_email("Contact", contact, email_on, recent, phones)
            by_email = matching.email_matches(records, email_on)
            if by_email:
                return Found("Contact", "email", by_email)
            if phone_on is not None:
                contacts_by_phone = matching.phone_matches(records, phone_on, self.region)
        searched: list[Record] = []
        searchable = {s: f for s, f in selected.items() if matching.phone_fields(f)}
        if phone is not None and searchable:
            search = phone.search_term is not None
            recent_query = phone_on is not None and email_on is None
            calls: list[Awaitable[list[Record]]] = []
            if search:
                calls.append(self._search(matching.phone_search(phone, searchable)))
            if recent_query:
                calls.append(
                    self.query(
                        matching.recent_phone_query("Contact", contact, since, phone, phones)
                    )
                )
            answers = await asyncio.gather(*calls)
            searched = answers[0] if search else []
            recent_contacts = answers[-1] if recent_query else []
            if phone_on is not None:
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
        email = email if matching.EMAIL_FIELD in selected else None
        phones = matching.phone_fields(selected)
        phone = phone if phones else None
        if email is not None:
            recent = (since, phone) if phone is not None else None
            records = await self._by_email("Lead", selected, email, recent, phones)
        elif phone is not None:
            records = await self.query(
                matching.recent_phone_query("Lead", selected, since, phone, phones)
            )
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

    async def _by_email(
        self,
        sobject: str,
        selected: Sequence[str],
        email: str,
        recent: tuple[datetime, PhoneQuery] | None,
        phones: Sequence[str],
    ) -> list[Record]:
        """Records with this email (or, with `recent`, changed since then with this phone):
        one OR query, or its two halves when the org's table is too large for the OR."""
        org = self.credentials.organization_id or ""
        if recent is not None and self.splits.split(org, sobject):
            return await self._split(sobject, selected, email, recent, phones)
        try:
            return await self.query(matching.email_query(sobject, selected, email, recent, phones))
        except QueryTimeout:
            if recent is None:
                raise  # nothing left to split
            logger.warning(
                "contacts.lookup.query_split",
                extra={"workspace_id": self.workspace_id, "sobject": sobject},
            )
            self.splits.timed_out(org, sobject)
            return await self._split(sobject, selected, email, recent, phones)

    async def _split(
        self,
        sobject: str,
        selected: Sequence[str],
        email: str,
        recent: tuple[datetime, PhoneQuery],
        phones: Sequence[str],
    ) -> list[Record]:
        since, phone = recent
        by_email, by_phone = await asyncio.gather(
            self.query(matching.email_query(sobject, selected, email, None, phones)),
            self.query(matching.recent_phone_query(sobject, selected, since, phone, phones)),
        )
        return [*by_email, *by_phone]

    async def query(self, soql: str) -> list[Record]:
        return await self.salesforce.query(self.workspace_id, soql, credentials=self.credentials)

    async def _search(self, sosl: str) -> list[Record]:
        return await self.salesforce.search(self.workspace_id, sosl, credentials=self.credentials)
