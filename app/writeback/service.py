"""Create Salesforce Contacts and Leads (when Leads are enabled) from respond.io
(docs/api.md, "Creating records").

A create, step by step (no database transaction is open during the Salesforce call):

1. Check: creation enabled; every field known to the object's describe and createable; every
   value valid for its type; every required field given (a field that is not nillable and
   that Salesforce does not fill on create: LastName, Company on a Lead) — else 422 naming
   them, nothing written.
2. With an `Idempotency-Key`: claim it under the hash of the request (object + fields). The
   same key and request within 24 hours answers the first answer and creates nothing; the
   same key with another request is `idempotency_key_reused`; a first request still in
   flight is `idempotency_key_in_progress`. A first request whose answer was lost (or which
   died: its lease ran out) is settled first (app/writeback/settle.py): the record it
   created is found by its values and answered, without a second create.
3. One POST to Salesforce (one API call; with `allow_duplicates`, past duplicate rules that
   only alert). Duplicate rules → `salesforce_duplicate` with the ids Salesforce names
   (app/workspace/duplicates.py); any definite rejection releases the key. A Lead's owner
   (the org's assignment rule may have chosen it) is read back: two more calls.
4. Every cached lookup answer for the new record's emails and phones is dropped (on every
   replica with a shared cache), so a miss cached a second earlier cannot hide it.
5. Answer 201 with the record as the lookup shows it, built from the values written (no
   second call): fields Salesforce computes itself (formulas) show null until the next
   lookup reads the record.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Unpack

from app import errors as app_errors
from app.config import Settings
from app.salesforce.client import Credentials
from app.salesforce.errors import (
    DuplicatesDetected,
    RequestLimitExceeded,
    SalesforceUnavailable,
    WriteRejected,
)
from app.salesforce.soql import format_soql
from app.workspace.contacts import plan_for, render_contact
from app.workspace.context import WorkspaceContext, require_connected, require_enabled
from app.workspace.describes import ContactDescribe, Described, SObject
from app.workspace.duplicates import duplicate_error
from app.workspace.errors import with_salesforce_errors
from app.workspace.field_values import InvalidValue, normalize
from app.workspace.identifiers import cache_identifiers
from app.workspace.service_base import ServiceParts, WorkspaceService
from app.writeback import repository
from app.writeback.cases import read_back_case, show_new_case
from app.writeback.person_create import (
    check_person_values,
    create_person_account,
    makes_person_account,
)
from app.writeback.schemas import CaseView, CreatedRecord, RecordOwner, replayed_view
from app.writeback.settle import find_created, lease_of

logger = logging.getLogger("app.writeback.create")

EMAIL_TYPES = frozenset({"email"})
PHONE_TYPES = frozenset({"phone"})


@dataclass(frozen=True, slots=True)
class Created:
    record: CreatedRecord | CaseView
    replayed: bool


def request_hash(sobject: str, fields: dict[str, Any], allow_duplicates: bool = False) -> str:
    request: list[Any] = [sobject, fields]
    if allow_duplicates:  # requests without it hash as they always did
        request.append({"allow_duplicates": True})
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_create(
    describe: ContactDescribe, sobject: Described, fields: dict[str, Any]
) -> dict[str, Any]:
    """The values keyed by the describe's names, as Salesforce will hold them; 422
    `validation_error` naming every unknown, read-only, invalid or missing field."""
    values: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    for name, value in fields.items():
        field = describe.field(name)
        if field is None:
            problems.append({"field": f"fields.{name}", "message": f"is not a field of {sobject}"})
        elif not field.createable:
            problems.append({"field": f"fields.{name}", "message": "cannot be set on create"})
        elif field.name in values:
            problems.append({"field": f"fields.{name}", "message": "is given more than once"})
        else:
            try:
                values[field.name] = normalize(field, value)
            except InvalidValue as exc:
                problems.append({"field": f"fields.{field.name}", "message": str(exc)})
    for field in describe.fields:
        required = field.createable and not field.nillable and not field.defaulted_on_create
        if required and field.type != "boolean" and values.get(field.name) is None:
            if not any(p["field"] == f"fields.{field.name}" for p in problems):
                problems.append({"field": f"fields.{field.name}", "message": "is required"})
    if problems:
        raise app_errors.ValidationFailed(
            "; ".join(f"{p['field']}: {p['message']}" for p in problems), errors=problems
        )
    return values


def as_created(describe: ContactDescribe, record_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """The new record as far as the values written tell (Name as Salesforce composes it)."""
    record: dict[str, Any] = {"Id": record_id, **values}
    if describe.field("Name") is not None and "Name" not in record:
        parts = [values.get("FirstName"), values.get("LastName")]
        record["Name"] = " ".join(str(p) for p in parts if p) or None
    for field in describe.fields:
        if field.name not in record and field.type == "picklist" and field.defaulted_on_create:
            record[field.name] = field.default_value
    return record


class RecordCreationService(WorkspaceService):
    def __init__(self, *, settings: Settings, **parts: Unpack[ServiceParts]) -> None:
        super().__init__(**parts)
        self._region = settings.phone_default_region
        self._lease = lease_of(settings)

    async def create(
        self,
        workspace_id: str,
        sobject: SObject,
        fields: dict[str, Any],
        user_id: str,
        idempotency_key: str | None,
        *,
        allow_duplicates: bool = False,
    ) -> Created:
        async def attempt(context: WorkspaceContext) -> Created:
            return await self._create(
                context, sobject, fields, user_id, idempotency_key, allow_duplicates
            )

        return await with_salesforce_errors(self._contexts, workspace_id, attempt)

    async def create_case(
        self,
        workspace_id: str,
        contact_id: str,
        fields: dict[str, Any],
        user_id: str,
        idempotency_key: str | None,
        *,
        allow_duplicates: bool = False,
    ) -> Created:
        """A Case for the Contact (Salesforce files it under the Contact's Account too)."""
        if any(name.lower() in {"contactid", "accountid"} for name in fields):
            raise app_errors.ValidationFailed(
                "fields: ContactId and AccountId come from `contact_id`",
                errors=[{"field": "fields", "message": "give the Contact as `contact_id`"}],
            )

        async def attempt(context: WorkspaceContext) -> Created:
            values = {**fields, "ContactId": contact_id}
            return await self._create(
                context, "Case", values, user_id, idempotency_key, allow_duplicates
            )

        return await with_salesforce_errors(self._contexts, workspace_id, attempt)

    async def _describe(self, context: WorkspaceContext, sobject: Described) -> ContactDescribe:
        return await self._describes.get(context, sobject)

    async def _create(
        self,
        context: WorkspaceContext,
        sobject: Described,
        fields: dict[str, Any],
        user_id: str,
        idempotency_key: str | None,
        allow_duplicates: bool,
    ) -> Created:
        require_enabled(
            context,
            sobject,
            context.settings.record_creation_enabled,
            app_errors.RecordCreationDisabled,
            "Leads are turned off in the settings (`leads.enabled`), so none is created.",
        )
        describe = await self._describe(context, sobject)
        values = check_create(describe, sobject, fields)
        person = sobject == "Contact" and makes_person_account(
            context.settings.customer.person_accounts, describe
        )
        if person:
            check_person_values(values)
        ws = context.workspace_id
        credentials: Credentials | None = None
        claim: repository.KeyClaim | None = None
        if idempotency_key is not None:
            claim = await repository.claim_key(
                self._db,
                ws,
                idempotency_key,
                request_hash(sobject, fields, allow_duplicates),
                sobject,
                self._lease,
            )
            if claim.state == repository.DONE and claim.response is not None:
                return Created(replayed_view(sobject, claim.response), replayed=True)
            if claim.state == repository.PENDING:
                raise app_errors.IdempotencyKeyInProgress(headers={"Retry-After": "5"})
        settling = claim is not None and claim.state == repository.SETTLE
        try:
            await self._before_write(context)  # a replay above spends nothing, so never waits
        except BaseException:
            # Refused before any call: a new key is forgotten, one to settle stays so.
            await (self._give_up if settling else self._release)(ws, idempotency_key)
            raise
        intent_at = claim.intent_at if claim is not None and settling else None
        if idempotency_key is not None and intent_at is not None:
            credentials = await self._tokens.for_context(context)
            found = await self._settle(
                context, sobject, values, intent_at, credentials, idempotency_key
            )
            if found is not None:
                settled = await self._view(context, describe, sobject, found, values, credentials)
                await repository.finish_key(
                    self._db, ws, idempotency_key, settled.model_dump(mode="json")
                )
                return Created(settled, replayed=True)
        log = {"workspace_id": ws, "sobject": sobject, "user_id": user_id}
        if credentials is None:
            credentials = await self._tokens.for_context(context)
        extra: dict[str, Any] = {}
        try:
            if person:
                record_id, extra = await create_person_account(
                    self._salesforce, ws, values, credentials, allow_duplicates=allow_duplicates
                )
            else:
                record_id = await self._salesforce.create_record(
                    ws,
                    sobject,
                    values,
                    allow_duplicates=allow_duplicates,
                    credentials=credentials,
                    purpose="create",
                )
        except SalesforceUnavailable:
            logger.warning("writeback.create.outcome_unknown", extra=log)
            await self._give_up(ws, idempotency_key)
            raise  # the key stays pending: Salesforce may have created the record
        except DuplicatesDetected as exc:
            await self._release(ws, idempotency_key)
            logger.info("writeback.create.duplicate", extra=log)
            raise duplicate_error(exc, sobject, allow_duplicates=allow_duplicates) from None
        except WriteRejected as exc:
            await self._release(ws, idempotency_key)
            if sobject == "Case" and "ContactId" in exc.fields:
                raise app_errors.SalesforceContactNotFound() from None
            raise
        except Exception:
            # Refused before any write (access, limits, a bad session): nothing was created.
            await self._release(ws, idempotency_key)
            raise
        logger.info("writeback.create.created", extra={**log, "record_id": record_id})
        await self._forget_cached(ws, describe, values)
        view: CreatedRecord | CaseView
        if sobject == "Case":
            view, is_open = await read_back_case(
                self._salesforce, context, describe, record_id, values, credentials
            )
            await show_new_case(self._lookups, context, str(values["ContactId"]), view, is_open)
        else:
            view = await self._view(
                context, describe, sobject, record_id, {**values, **extra}, credentials
            )
        if idempotency_key is not None:
            await repository.finish_key(self._db, ws, idempotency_key, view.model_dump(mode="json"))
        return Created(view, replayed=False)

    async def _view(
        self,
        context: WorkspaceContext,
        describe: ContactDescribe,
        sobject: Described,
        record_id: str,
        values: dict[str, Any],
        credentials: Credentials,
    ) -> CreatedRecord | CaseView:
        if sobject == "Case":
            case, _ = await read_back_case(
                self._salesforce, context, describe, record_id, values, credentials
            )
            return case
        assert sobject in ("Contact", "Lead")
        fields = plan_for(context, describe, sobject).fields
        view = render_contact(
            context, fields, as_created(describe, record_id, values), sobject=sobject
        )
        owner = await self._owner(context, record_id, credentials) if sobject == "Lead" else None
        return CreatedRecord(**dict(view), owner=owner)

    async def _owner(
        self, context: WorkspaceContext, record_id: str, credentials: Credentials
    ) -> RecordOwner | None:
        """The owner Salesforce gave a new Lead (its assignment rule may choose another user
        than the connected one): the Lead's OwnerId, then that user's name. The Lead exists
        whatever happens here: a read that fails leaves `owner` null rather than failing."""
        ws = context.workspace_id
        try:
            lead = await self._salesforce.get_record(
                ws, "Lead", record_id, ["OwnerId"], credentials=credentials, purpose="create"
            )
            owner_id = str(lead.get("OwnerId") or "")
            if not owner_id.startswith("005"):  # a queue (00G) has no user name
                return RecordOwner(id=owner_id, name=None) if owner_id else None
            users = await self._salesforce.query(
                ws,
                format_soql("SELECT Id, Name FROM User WHERE Id = {}", owner_id),
                credentials=credentials,
                purpose="create",
            )
        except (SalesforceUnavailable, RequestLimitExceeded):
            logger.warning("writeback.create.owner_unread", extra={"workspace_id": ws})
            return None
        name = users[0].get("Name") if users else None
        return RecordOwner(id=owner_id, name=str(name) if name is not None else None)

    async def _settle(
        self,
        context: WorkspaceContext,
        sobject: Described,
        values: dict[str, Any],
        intent_at: datetime,
        credentials: Credentials,
        idempotency_key: str,
    ) -> str | None:
        """The record an earlier attempt with this key created, or None (create it now)."""
        ws = context.workspace_id
        try:
            user = await repository.connection_user(self._db, require_connected(context))
            found = await find_created(
                self._salesforce, credentials, sobject, values, user, intent_at
            )
        except BaseException:
            await self._give_up(ws, idempotency_key)  # still unknown: the next retry settles
            raise
        if found is not None:
            logger.info(
                "writeback.create.settled",
                extra={"workspace_id": ws, "sobject": sobject, "record_id": found},
            )
        return found

    async def _give_up(self, workspace_id: str, idempotency_key: str | None) -> None:
        if idempotency_key is not None:
            await repository.give_up_key(self._db, workspace_id, idempotency_key)

    async def _release(self, workspace_id: str, idempotency_key: str | None) -> None:
        if idempotency_key is not None:
            await repository.release_key(self._db, workspace_id, idempotency_key)

    async def _forget_cached(
        self, workspace_id: str, describe: ContactDescribe, values: dict[str, Any]
    ) -> None:
        kinds = {f.name: f.type for f in describe.fields}
        emails = [v for n, v in values.items() if kinds.get(n) in EMAIL_TYPES and v]
        phones = [v for n, v in values.items() if kinds.get(n) in PHONE_TYPES and v]
        identifiers = cache_identifiers(emails, phones, self._region)
        await self._lookups.forget_identifiers(workspace_id, identifiers)
