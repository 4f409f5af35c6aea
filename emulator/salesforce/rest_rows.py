"""REST sObject rows: GET, PATCH (update), POST (create) and DELETE, with Salesforce's
validation, duplicate rules, converted-Lead protection and the injected write faults
(record-level rejections and lost answers)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from . import enterprise, errors, matching_rules, person_accounts, write_faults
from .errors import SFError
from .records import validate_write
from .rest import Ctx, org_type, rest_ctx
from .schema import ORGANIZATION, SObjectType, sobject, with_computed
from .soql import project
from .util import ID_RE, parse_datetime, parse_http_date, same_id

router = APIRouter(prefix="/services/data")
STORED_PREFIXES = {
    "003": "Contact",
    "00Q": "Lead",
    "00T": "Task",
    "001": "Account",
    "006": "Opportunity",
    "500": "Case",
}


def _counter(t: SObjectType, action: str) -> str:
    return "organization" if t is ORGANIZATION else f"{t.name.lower()}.{action}"


class Lookups:
    """Validation's view of the org's other records (caller holds the lock)."""

    def __init__(self, ctx: Ctx, t: SObjectType) -> None:
        self.ctx, self.t = ctx, t

    def reference_exists(self, target_prefix: str, record_id: str) -> bool:
        org = self.ctx.org
        if target_prefix == "005":
            return any(same_id(uid, record_id) for uid in org.users)
        type_name = STORED_PREFIXES.get(target_prefix)
        t = sobject(type_name) if type_name else None
        if t is None:
            return True  # objects the emulator does not store (Account...): id form only
        rec = self.ctx.state.find_record(org, t, record_id)
        return rec is not None and not rec.get("IsDeleted")

    def reference_deleted(self, target_prefix: str, record_id: str) -> bool:
        """A stored record (Contact, Lead, Task) in the recycle bin: ENTITY_IS_DELETED."""
        type_name = STORED_PREFIXES.get(target_prefix)
        t = sobject(type_name) if type_name else None
        rec = self.ctx.state.find_record(self.ctx.org, t, record_id) if t is not None else None
        return rec is not None and bool(rec.get("IsDeleted"))

    def unique_holder(self, field: str, value: Any, exclude_id: str | None) -> str | None:
        wanted = value.lower() if isinstance(value, str) else value
        for rec in self.ctx.org.objects.get(self.t.name, {}).values():
            other = rec.get(field)
            if isinstance(other, str):
                other = other.lower()
            if other == wanted and not rec.get("IsDeleted") and rec["Id"] != exclude_id:
                return str(rec["Id"])
        return None


def _stored(ctx: Ctx, t: SObjectType, record_id: str) -> dict[str, Any]:
    """The stored record for a row request (caller holds the lock)."""
    if not ID_RE.match(record_id):
        raise SFError(
            404,
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {record_id}",
        )
    rec = ctx.state.find_record(ctx.org, t, record_id)
    if rec is None:
        raise errors.not_found()
    if rec.get("IsDeleted"):
        raise SFError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
    return rec


@router.get("/{version}/sobjects/{type_name}/{record_id}")
async def get_row(
    request: Request,
    type_name: str,
    record_id: str,
    fields: str | None = None,
    ctx: Ctx = Depends(rest_ctx),
) -> Any:
    t = org_type(ctx, type_name)
    ctx.state.count(_counter(t, "get"))
    with ctx.state._lock:
        rec = with_computed(t, _stored(ctx, t, record_id))
    selected = t.fields
    if fields:
        selected = []
        for name in (n.strip() for n in fields.split(",") if n.strip()):
            f = t.field(name)
            if f is None:
                raise SFError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{name}' on entity '{t.name}'. If you are attempting to "
                    "use a custom field, be sure to append the '__c' after the custom field "
                    "name. Please reference your WSDL or the describe call for the appropriate "
                    "names.",
                )
            selected.append(f)
    since = parse_http_date(request.headers.get("if-modified-since", ""))
    modified = parse_datetime(rec.get("LastModifiedDate") or "")
    if since is not None and modified is not None and modified.replace(microsecond=0) <= since:
        return Response(status_code=304)
    return project(rec, t, selected, ctx.version)


def _json_body(raw: bytes) -> tuple[Any, str]:
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text), text
    except json.JSONDecodeError as exc:
        ch = text[exc.pos] if exc.pos < len(text) else "EOF"
        raise SFError(
            400,
            "JSON_PARSER_ERROR",
            f"Unexpected character ('{ch}' (code {ord(ch) if len(ch) == 1 else -1})): "
            f"{exc.msg} at [line:{exc.lineno}, column:{exc.colno}]",
        ) from None


def _method_not_allowed(method: str) -> SFError:
    return SFError(
        405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are GET,HEAD"
    )


def _apply_duplicate_rules(request: Request, ctx: Ctx, t: SObjectType, record: dict) -> None:
    if not ctx.org.duplicate_rules:
        return
    editing = "Id" in record
    rules = [r for r in ctx.org.duplicate_rules if not editing or r.get("on_edit", True)]
    matching_rules.check(
        rules,
        t.name,
        record,
        lambda name: list(ctx.org.objects.get(name, {}).values()),
        allow_save=matching_rules.allow_save_header(
            request.headers.get("sforce-duplicate-rule-header")
        ),
        version=ctx.version,
    )


def _lose_answer(request: Request, fault: dict[str, Any] | None) -> None:
    """After a write that happened: answer an error, or have the middleware drop/hang."""
    if not fault or not fault["lose_answer"]:
        return
    request.state.sf_lose_answer = (fault["lose_answer"], fault["hang_seconds"])
    err = write_faults.lost_answer_error(fault)
    if err is not None:
        raise err


def _take_fault(ctx: Ctx, t: SObjectType, record_id: str | None, op: str) -> dict | None:
    fault = write_faults.take(ctx.org, t.name, record_id, op)
    if fault is not None:
        err = write_faults.rejection(fault, t.name, record_id)
        if err is not None:
            raise err
    return fault


@router.patch("/{version}/sobjects/{type_name}/{record_id}")
async def patch_row(
    request: Request, type_name: str, record_id: str, ctx: Ctx = Depends(rest_ctx)
) -> Response:
    state = ctx.state
    t = org_type(ctx, type_name)
    state.count(_counter(t, "patch"))
    if not t.updateable:
        raise _method_not_allowed("PATCH")
    body, raw = _json_body(await request.body())
    header = request.headers.get("if-unmodified-since")
    since = parse_http_date(header) if header is not None else None
    if header is not None and since is None:
        raise SFError(
            400, "INVALID_HEADER_TYPE", f"Invalid value for If-Unmodified-Since header: {header}"
        )
    with state._lock:
        rec = _stored(ctx, t, record_id)
        modified = parse_datetime(rec["LastModifiedDate"])
        # HTTP dates have whole seconds; compare at second resolution.
        if since is not None and modified is not None and modified.replace(microsecond=0) > since:
            raise SFError(
                412,
                "PRECONDITION_FAILED",
                f"The requested resource has been modified since {header}",
            )
        if t.name == "Contact":
            person_accounts.refuse_contact_write(rec, body)
        if t.name == "Lead" and rec.get("IsConverted"):
            raise SFError(
                400, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", []
            )
        fault = _take_fault(ctx, t, rec["Id"], "update")
        values = validate_write(
            t,
            body,
            raw,
            creating=False,
            current=rec,
            rules=ctx.org.validation_rules,
            lookups=Lookups(ctx, t),
        )
        _apply_duplicate_rules(request, ctx, t, {**rec, **values})
        rec.update(values)
        state.touch(ctx.org, t, rec, ctx.token.user_id, human=False)
    _lose_answer(request, fault)
    return Response(status_code=204)


@router.post("/{version}/sobjects/{type_name}")
@router.post("/{version}/sobjects/{type_name}/")
async def create_row(request: Request, type_name: str, ctx: Ctx = Depends(rest_ctx)) -> Response:
    state = ctx.state
    t = org_type(ctx, type_name)
    state.count(_counter(t, "create"))
    if not t.createable:
        raise _method_not_allowed("POST")
    body, raw = _json_body(await request.body())
    with state._lock:
        fault = _take_fault(ctx, t, None, "create")
        values = validate_write(
            t,
            body,
            raw,
            creating=True,
            current=None,
            rules=ctx.org.validation_rules,
            lookups=Lookups(ctx, t),
        )
        values = person_accounts.creating_person(ctx.org, t, values)
        _apply_duplicate_rules(request, ctx, t, values)
        if t.name == "Lead":
            enterprise.assign_lead_owner(ctx.org, request.headers.get("sforce-auto-assign"), values)
        full = state.org_type(ctx.org, t.name) or t  # the record has every field, hidden or not
        rec = state._insert(ctx.org, full, values, created_by=ctx.token.user_id)
    _lose_answer(request, fault)
    return JSONResponse({"id": rec["Id"], "success": True, "errors": []}, status_code=201)


@router.delete("/{version}/sobjects/{type_name}/{record_id}")
async def delete_row(
    request: Request, type_name: str, record_id: str, ctx: Ctx = Depends(rest_ctx)
) -> Response:
    state = ctx.state
    t = org_type(ctx, type_name)
    state.count(_counter(t, "delete"))
    if not t.deletable:
        raise _method_not_allowed("DELETE")
    with state._lock:
        rec = _stored(ctx, t, record_id)
        fault = _take_fault(ctx, t, rec["Id"], "delete")
        rec["IsDeleted"] = True
        state.touch(ctx.org, t, rec, ctx.token.user_id, human=False)
    _lose_answer(request, fault)
    return Response(status_code=204)
