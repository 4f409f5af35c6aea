"""Find the Salesforce Contact (or, when enabled, unconverted Lead) of a respond.io contact
by email, then by phone. Which Salesforce calls an uncached lookup makes, and why each is
selective in a large org: app.lookup.finder.

A cached lookup touches neither the database nor Salesforce: the workspace's connection and
settings come from a seconds-long in-process snapshot (see app.workspace.context).
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Unpack

from sqlalchemy.exc import SQLAlchemyError

from app.config import Settings
from app.errors import TooManyRequests
from app.kit.clocks import Now, utc_now
from app.lookup import matching
from app.lookup.finder import Finder, Found, SplitMemory
from app.lookup.related import (
    OBJECT_OF,
    RelatedPlan,
    related_plan,
    related_records,
    related_soql,
    render_related,
)
from app.lookup.schemas import LookupResponse
from app.observability import CACHE_EVENTS
from app.salesforce.errors import MalformedRequest, RequestLimitExceeded, SalesforceUnavailable
from app.workspace.budget import ApiBudget
from app.workspace.contacts import (
    ContactRef,
    Plan,
    plan_for,
    render_contact,
    revertible_fields,
    variant,
)
from app.workspace.context import ContextChanged, WorkspaceContext, require_connected
from app.workspace.describes import ContactDescribe, SObject
from app.workspace.errors import with_salesforce_errors
from app.workspace.lookup_cache import CacheResult, LookupEntry, LookupKey
from app.workspace.miss_limit import MissLimiter
from app.workspace.service_base import ServiceParts, WorkspaceService

logger = logging.getLogger("app.contacts.lookup")

STALE_ON = (RequestLimitExceeded, SalesforceUnavailable)
PLAN_MEMO_SIZE = 4096
HIT, MISS, STALE = (CACHE_EVENTS.labels(event) for event in ("hit", "miss", "stale"))
RENDER_MEMO_SIZE = 10_000

HINT_EXACT = (
    "No Salesforce {who} has this email or phone. Make sure the email or the phone is "
    "exactly the same in respond.io and in Salesforce (phones are compared character by "
    "character: '12 3' and '123' differ)."
)
HINT_NORMALIZED = (
    "No Salesforce {who} has this email or phone. Make sure the email, or the phone number "
    "including its country code (and extension, if any), is the same in respond.io and in "
    "Salesforce."
)
HINT_UNREADABLE_PHONE = (
    "The phone could not be read as a phone number and no {who} has this email. Check the "
    "number, with its country code, in respond.io and in Salesforce."
)


class LookupService(WorkspaceService):
    def __init__(
        self,
        *,
        settings: Settings,
        budget: ApiBudget,
        misses: MissLimiter,
        now: Now = utc_now,
        **parts: Unpack[ServiceParts],
    ) -> None:
        super().__init__(**parts)
        self._budget = budget
        self._misses = misses
        self._region = settings.phone_default_region
        self._search_lag = timedelta(seconds=settings.lookup_search_lag_seconds)
        self._now = now
        self._splits = SplitMemory(now)
        # Plans per (describe, visible fields, matching): the describe is kept in the value so
        # its id() cannot be reused while the entry lives.
        self._plans: dict[tuple[object, ...], tuple[ContactDescribe, Plan]] = {}
        self._related_plans: dict[tuple[object, ...], tuple[object, RelatedPlan | None]] = {}
        self._variants: dict[tuple[str, str, str], str] = {}
        self._rendered: dict[
            tuple[object, ...], tuple[LookupEntry, Plan, RelatedPlan | None, LookupResponse]
        ] = {}
        # The JSON of memoised (cached) answers, by the answer object's id.
        self._json: dict[int, tuple[LookupResponse, bytes]] = {}

    async def lookup(
        self, workspace_id: str, email: str | None, phone: str | None
    ) -> LookupResponse:
        async def attempt(context: WorkspaceContext) -> LookupResponse:
            return await self._lookup(context, email, phone)

        return await with_salesforce_errors(self._contexts, workspace_id, attempt)

    async def lookup_json(self, workspace_id: str, email: str | None, phone: str | None) -> bytes:
        """`lookup`'s answer as JSON; a cached answer is serialized once, not per request."""
        answer = await self.lookup(workspace_id, email, phone)
        held = self._json.get(id(answer))
        if held is not None and held[0] is answer:
            return held[1]
        # `lead` is set only while Leads are enabled, `related` only with a Contact matched
        # and a related part enabled; otherwise the answer has no such key.
        exclude: dict[str, Any] = {
            k: True for k in ("lead", "related") if k not in answer.model_fields_set
        }
        if answer.related is not None and answer.related.disabled():
            exclude["related"] = dict.fromkeys(answer.related.disabled(), True)
        body = answer.model_dump_json(exclude=exclude or None).encode()
        if answer.cached:
            if len(self._json) >= RENDER_MEMO_SIZE:
                self._json.clear()
            self._json[id(answer)] = (answer, body)
        return body

    async def _lookup(
        self, context: WorkspaceContext, email: str | None, phone: str | None
    ) -> LookupResponse:
        connection_id = require_connected(context)
        contact_describe = await self._describes.get(context)
        plans = {"Contact": self._plan(context, contact_describe, "Contact")}
        related = await self._related_plan(context, contact_describe)
        if context.settings.leads.enabled:
            lead_describe = await self._describes.get(context, "Lead")
            plans["Lead"] = self._plan(context, lead_describe, "Lead")
        normalized = context.settings.phone_matching == "normalized"
        phone_query = (
            matching.phone_query(phone, normalized=normalized, default_region=self._region)
            if phone is not None
            else None
        )
        phone_key = phone_query.key if phone_query is not None else None
        if email is not None and phone is not None:
            kind, value = "email+phone", f"{matching.normalize_email(email)}\x1f{phone_key}"
        elif email is not None:
            kind, value = "email", matching.normalize_email(email)
        else:
            kind, value = "phone", str(phone_key)
        key = LookupKey(
            context.workspace_id, str(connection_id), kind, value, self._variant(plans, related)
        )

        async def load() -> LookupEntry:
            await self._spend_allowed(context)
            try:
                entry = await self._load(context, plans, related, email, phone_query)
            except MalformedRequest as exc:
                if exc.error_code != "INVALID_FIELD":
                    raise
                # A visible field was removed in Salesforce since the describe was read.
                self._describes.distrust(context.workspace_id)
                raise ContextChanged() from exc
            return await self._with_revertible(context, entry)

        result = await self._lookups.fetch(key, load, stale_on=STALE_ON)
        (STALE if result.stale else HIT if result.cached else MISS).inc()
        unreadable = phone is not None and phone_query is None
        if not result.cached:
            return self._render(context, plans, related, result, unreadable)
        # A cache hit renders the same answer every time: reuse it while entry and plan hold.
        plan = plans.get(result.entry.sobject) or plans["Contact"]
        memo_key = (
            id(result.entry),
            id(plan),
            id(related),
            context.settings.editing_enabled,
            context.settings.leads.enabled,
            context.instance_url,
            result.stale,
            unreadable,
        )
        held = self._rendered.get(memo_key)
        if held is not None and held[0] is result.entry and held[1] is plan and held[2] is related:
            return held[3]
        answer = self._render(context, plans, related, result, unreadable)
        if len(self._rendered) >= RENDER_MEMO_SIZE:
            self._rendered.clear()
        self._rendered[memo_key] = (result.entry, plan, related, answer)
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

    def _plan(self, context: WorkspaceContext, describe: ContactDescribe, sobject: SObject) -> Plan:
        settings = context.settings
        visible = settings.visible_fields if sobject == "Contact" else settings.leads.visible_fields
        memo_key = (id(describe), visible, settings.phone_matching, settings.related)
        held = self._plans.get(memo_key)
        if held is not None and held[0] is describe:
            return held[1]
        plan = plan_for(context, describe, sobject)
        if len(self._plans) >= PLAN_MEMO_SIZE:
            self._plans.clear()
        self._plans[memo_key] = (describe, plan)
        return plan

    async def _related_plan(
        self, context: WorkspaceContext, contact: ContactDescribe
    ) -> RelatedPlan | None:
        """What to show around a matched Contact; None with every part off. The describes
        are those saving the settings fetched (shared like the Contact's)."""
        chosen = context.settings.related
        if not chosen.any_enabled:
            return None
        describes = {
            OBJECT_OF[name]: await self._describes.get(context, OBJECT_OF[name])
            for name, part in chosen.parts().items()
            if part.enabled
        }
        held_describes = (contact, *describes.values())
        memo_key = (*(id(d) for d in held_describes), chosen)
        held = self._related_plans.get(memo_key)
        if held is not None and held[0] == held_describes:
            return held[1]
        plan = related_plan(chosen, contact, describes)
        if len(self._related_plans) >= PLAN_MEMO_SIZE:
            self._related_plans.clear()
        self._related_plans[memo_key] = (held_describes, plan)
        return plan

    def _variant(self, plans: dict[str, Plan], related: RelatedPlan | None = None) -> str:
        """What a cached answer was computed with: the Contact plan, the Lead plan when
        Leads are looked in (so no answer computed without Leads serves one with them), and
        the related records shown."""
        lead = plans.get("Lead")
        if lead is None and related is None:
            return plans["Contact"].variant
        memo_key = (
            plans["Contact"].variant,
            lead.variant if lead else "",
            related.variant if related else "",
        )
        held = self._variants.get(memo_key)
        if held is None:
            if len(self._variants) >= PLAN_MEMO_SIZE:
                self._variants.clear()
            held = self._variants[memo_key] = variant(memo_key, "leads")
        return held

    async def _with_revertible(self, context: WorkspaceContext, entry: LookupEntry) -> LookupEntry:
        """The matched contact's fields that can be reverted: one indexed query per answer
        read from Salesforce (none while editing is off); cached answers carry it along."""
        record = entry.record
        if record is None or not context.settings.editing_enabled or not context.organization_id:
            return entry
        sobject: SObject = "Lead" if entry.sobject == "Lead" else "Contact"
        ref = ContactRef(context.workspace_id, context.organization_id, str(record["Id"]), sobject)
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
        plans: dict[str, Plan],
        related: RelatedPlan | None,
        email: str | None,
        phone: matching.PhoneQuery | None,
    ) -> LookupEntry:
        credentials = await self._tokens.for_context(context)
        finder = Finder(
            self._salesforce, context.workspace_id, credentials, self._region, self._splits
        )
        selected = {sobject: plan.selected for sobject, plan in plans.items()}
        if email is None and phone is None:
            found = Found()  # an unreadable phone alone: nothing to ask Salesforce
        else:
            found = await finder.find(selected, email, phone, self._now() - self._search_lag)
        now = datetime.now(UTC)
        if not found.records or found.sobject is None:
            return LookupEntry(matched_on=None, record=None, other_matches=0, fetched_at=now)
        record = matching.trimmed(found.records[0], plans[found.sobject].selected)
        around = None
        if related is not None and found.sobject == "Contact":
            around = await self._related(finder, related, record)
        return LookupEntry(
            matched_on=found.matched_on,
            record=record,
            other_matches=len(found.records) - 1,
            fetched_at=now,
            sobject=found.sobject,
            related=around,
        )

    @staticmethod
    async def _related(
        finder: Finder, plan: RelatedPlan, contact: dict[str, Any]
    ) -> dict[str, Any]:
        """The Contact's related records: one Salesforce call at most (app.lookup.related)."""
        account_id = contact.get("AccountId") if plan.has_account else None
        account_id = str(account_id) if account_id else None
        soql = related_soql(plan, str(contact["Id"]), account_id)
        rows = await finder.query(soql) if soql is not None else None
        return related_records(plan, rows, account_id)

    @staticmethod
    def _render(
        context: WorkspaceContext,
        plans: dict[str, Plan],
        related: RelatedPlan | None,
        result: CacheResult,
        unreadable_phone: bool,
    ) -> LookupResponse:
        entry = result.entry
        record = entry.record
        leads = context.settings.leads.enabled
        # With Leads off the answer has no `lead` key at all (docs/api.md, "Contact lookup").
        lead_key: dict[str, Any] = {"lead": None} if leads else {}
        if record is None:
            if unreadable_phone:
                hint = HINT_UNREADABLE_PHONE
            elif context.settings.phone_matching == "normalized":
                hint = HINT_NORMALIZED
            else:
                hint = HINT_EXACT
            return LookupResponse(
                matched=False,
                matched_object=None,
                contact=None,
                **lead_key,
                hint=hint.format(who="Contact or Lead" if leads else "Contact"),
                cached=result.cached,
                stale=result.stale,
                fetched_at=entry.fetched_at,
            )
        sobject: SObject = "Lead" if entry.sobject == "Lead" else "Contact"
        plan = plans.get(sobject) or plans["Contact"]
        view = render_contact(context, plan.fields, record, entry.revertible, sobject)
        around: dict[str, Any] = {}
        if related is not None and sobject == "Contact":
            held = entry.related or {}
            around = {"related": render_related(related, context.instance_url, held)}
        return LookupResponse(
            matched=True,
            matched_on=entry.matched_on,  # type: ignore[arg-type]
            matched_object=sobject,
            contact=view if sobject == "Contact" else None,
            **({"lead": view} if sobject == "Lead" else lead_key),
            other_matches=entry.other_matches,
            cached=result.cached,
            stale=result.stale,
            fetched_at=entry.fetched_at,
            **around,
        )
