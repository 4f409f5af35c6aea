"""Find the Salesforce Contact of a respond.io contact by email, then by phone.

Salesforce calls per uncached lookup:
- `phone_matching=exact`: one SOQL query for email and phone together
  (`Email = e OR Phone = p OR MobilePhone = p`); email matches win in Python.
- `phone_matching=normalized`: one SOQL query for the email (when given) and, only when it
  finds nothing, one SOSL phone search. Salesforce cannot compare E.164 forms in SOQL, so the
  search's candidates are re-checked here with `phonenumbers`. At most two calls.

A cached lookup touches neither the database nor Salesforce: the workspace's connection and
settings come from a seconds-long in-process snapshot (see app.workspace.context).
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from app.config import Settings
from app.errors import TooManyRequests
from app.lookup import matching
from app.lookup.schemas import LookupResponse
from app.observability import CACHE_EVENTS
from app.salesforce.client import SalesforceClient
from app.salesforce.errors import MalformedRequest, RequestLimitExceeded, SalesforceUnavailable
from app.workspace.budget import ApiBudget
from app.workspace.caches import WorkspaceCaches
from app.workspace.contacts import ContactRef, Plan, plan_for, render_contact, revertible_fields
from app.workspace.context import ContextChanged, WorkspaceContext, require_connected
from app.workspace.describes import ContactDescribe
from app.workspace.errors import with_salesforce_errors
from app.workspace.lookup_cache import CacheResult, LookupEntry, LookupKey
from app.workspace.miss_limit import MissLimiter
from app.workspace.tokens import TokenStore

logger = logging.getLogger("app.contacts.lookup")

STALE_ON = (RequestLimitExceeded, SalesforceUnavailable)
PLAN_MEMO_SIZE = 4096
HIT, MISS, STALE = (CACHE_EVENTS.labels(event) for event in ("hit", "miss", "stale"))
RENDER_MEMO_SIZE = 10_000

HINT_EXACT = (
    "No Salesforce Contact has this email or phone. Make sure the email or the phone is "
    "exactly the same in respond.io and in Salesforce (phones are compared character by "
    "character: '12 3' and '123' differ)."
)
HINT_NORMALIZED = (
    "No Salesforce Contact has this email or phone. Make sure the email, or the phone number "
    "including its country code, is the same in respond.io and in Salesforce."
)
HINT_UNREADABLE_PHONE = (
    "The phone could not be read as a phone number and no Contact has this email. Check the "
    "number, with its country code, in respond.io and in Salesforce."
)


class LookupService:
    def __init__(
        self,
        *,
        caches: WorkspaceCaches,
        salesforce: SalesforceClient,
        tokens: TokenStore,
        settings: Settings,
        budget: ApiBudget,
        misses: MissLimiter,
    ) -> None:
        self._budget = budget
        self._misses = misses
        self._contexts = caches.contexts
        self._describes = caches.describes
        self._lookups = caches.lookups
        self._salesforce = salesforce
        self._tokens = tokens
        self._region = settings.phone_default_region
        # Plans per (describe, visible fields, matching): the describe is kept in the value so
        # its id() cannot be reused while the entry lives.
        self._plans: dict[tuple[int, tuple[str, ...], str], tuple[ContactDescribe, Plan]] = {}
        self._rendered: dict[tuple[object, ...], tuple[LookupEntry, Plan, LookupResponse]] = {}

    async def lookup(
        self, workspace_id: str, email: str | None, phone: str | None
    ) -> LookupResponse:
        async def attempt(context: WorkspaceContext) -> LookupResponse:
            return await self._lookup(context, email, phone)

        return await with_salesforce_errors(self._contexts, workspace_id, attempt)

    async def _lookup(
        self, context: WorkspaceContext, email: str | None, phone: str | None
    ) -> LookupResponse:
        connection_id = require_connected(context)
        describe = await self._describes.get(context)
        plan = self._plan(context, describe)
        normalized = context.settings.phone_matching == "normalized"
        e164 = matching.to_e164(phone, self._region) if normalized and phone else None
        phone_key = e164 if normalized else phone
        if email is not None and phone is not None:
            kind, value = "email+phone", f"{matching.normalize_email(email)}\x1f{phone_key}"
        elif email is not None:
            kind, value = "email", matching.normalize_email(email)
        else:
            kind, value = "phone", str(phone_key)
        key = LookupKey(context.workspace_id, str(connection_id), kind, value, plan.variant)

        async def load() -> LookupEntry:
            await self._spend_allowed(context)
            try:
                entry = await self._load(context, plan, email, phone, e164, normalized)
            except MalformedRequest as exc:
                if exc.error_code != "INVALID_FIELD":
                    raise
                # A visible field was removed in Salesforce since the describe was read.
                self._describes.distrust(context.workspace_id)
                raise ContextChanged() from exc
            return await self._with_revertible(context, entry)

        result = await self._lookups.fetch(key, load, stale_on=STALE_ON)
        (STALE if result.stale else HIT if result.cached else MISS).inc()
        unreadable = normalized and phone is not None and e164 is None
        if not result.cached:
            return self._render(context, plan, result, unreadable)
        # A cache hit renders the same answer every time: reuse it while entry and plan hold.
        memo_key = (
            id(result.entry),
            id(plan),
            context.settings.editing_enabled,
            context.instance_url,
            result.stale,
            unreadable,
        )
        held = self._rendered.get(memo_key)
        if held is not None and held[0] is result.entry and held[1] is plan:
            return held[2]
        answer = self._render(context, plan, result, unreadable)
        if len(self._rendered) >= RENDER_MEMO_SIZE:
            self._rendered.clear()
        self._rendered[memo_key] = (result.entry, plan, answer)
        return answer

    async def _spend_allowed(self, context: WorkspaceContext) -> None:
        """Before a miss goes to Salesforce: the org's allocation above the foreground
        threshold raises ApiBudgetExceeded (a stale entry answers, else 503); the workspace's
        own miss rate past its limit answers 429."""
        if context.organization_id:
            await self._budget.check_foreground(context.organization_id)
        wait = await self._misses.acquire(context.workspace_id)
        if wait > 0:
            raise TooManyRequests(headers={"Retry-After": str(max(1, math.ceil(wait)))})

    def _plan(self, context: WorkspaceContext, describe: ContactDescribe) -> Plan:
        settings = context.settings
        memo_key = (id(describe), settings.visible_fields, settings.phone_matching)
        held = self._plans.get(memo_key)
        if held is not None and held[0] is describe:
            return held[1]
        plan = plan_for(context, describe)
        if len(self._plans) >= PLAN_MEMO_SIZE:
            self._plans.clear()
        self._plans[memo_key] = (describe, plan)
        return plan

    async def _with_revertible(self, context: WorkspaceContext, entry: LookupEntry) -> LookupEntry:
        """The matched contact's fields that can be reverted: one indexed query per answer
        read from Salesforce (none while editing is off); cached answers carry it along."""
        record = entry.record
        if record is None or not context.settings.editing_enabled or not context.organization_id:
            return entry
        ref = ContactRef(context.workspace_id, context.organization_id, str(record["Id"]))
        try:
            revertible = await revertible_fields(self._contexts.db, ref)
        except SQLAlchemyError as exc:
            # The lookup itself does not need the database: answer without revert hints.
            logger.warning(
                "contacts.lookup.revertible_unavailable",
                extra={"workspace_id": context.workspace_id, "error": type(exc).__name__},
            )
            return entry
        return replace(entry, revertible=revertible)

    async def _load(
        self,
        context: WorkspaceContext,
        plan: Plan,
        email: str | None,
        phone: str | None,
        e164: str | None,
        normalized: bool,
    ) -> LookupEntry:
        credentials = await self._tokens.for_context(context)
        workspace_id = context.workspace_id
        if not normalized:
            soql = matching.exact_query(plan.selected, email, phone)
            records = await self._salesforce.query(workspace_id, soql, credentials=credentials)
            by_email, by_phone = matching.split_exact(records, email, phone)
            return self._entry(plan, by_email, by_phone)
        if email is not None:
            soql = matching.exact_query(plan.selected, email, None)
            records = await self._salesforce.query(workspace_id, soql, credentials=credentials)
            by_email, _ = matching.split_exact(records, email, None)
            if by_email or e164 is None:
                return self._entry(plan, by_email, [])
        if e164 is None:
            return self._entry(plan, [], [])
        sosl = matching.phone_search(plan.selected, matching.search_digits(e164))
        candidates = await self._salesforce.search(workspace_id, sosl, credentials=credentials)
        contacts = [
            r for r in candidates if (r.get("attributes") or {}).get("type", "Contact") == "Contact"
        ]
        return self._entry(plan, [], matching.phone_equal_e164(contacts, e164, self._region))

    @staticmethod
    def _entry(plan: Plan, by_email: list[dict], by_phone: list[dict]) -> LookupEntry:  # type: ignore[type-arg]
        now = datetime.now(UTC)
        for matched_on, records in (("email", by_email), ("phone", by_phone)):
            if records:
                return LookupEntry(
                    matched_on=matched_on,
                    record=matching.trimmed(records[0], plan.selected),
                    other_matches=len(records) - 1,
                    fetched_at=now,
                )
        return LookupEntry(matched_on=None, record=None, other_matches=0, fetched_at=now)

    @staticmethod
    def _render(
        context: WorkspaceContext,
        plan: Plan,
        result: CacheResult,
        unreadable_phone: bool,
    ) -> LookupResponse:
        entry = result.entry
        record = entry.record
        if record is None:
            if unreadable_phone:
                hint = HINT_UNREADABLE_PHONE
            elif context.settings.phone_matching == "normalized":
                hint = HINT_NORMALIZED
            else:
                hint = HINT_EXACT
            return LookupResponse(
                matched=False,
                contact=None,
                hint=hint,
                cached=result.cached,
                stale=result.stale,
                fetched_at=entry.fetched_at,
            )
        return LookupResponse(
            matched=True,
            matched_on=entry.matched_on,  # type: ignore[arg-type]
            contact=render_contact(context, plan.fields, record, entry.revertible),
            other_matches=entry.other_matches,
            cached=result.cached,
            stale=result.stale,
            fetched_at=entry.fetched_at,
        )
