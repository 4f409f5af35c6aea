"""Control API for an org's data under /__emulator/orgs/{org_id}/...: records of any
stored object (Contact, Lead, Task, Account, Opportunity, Case) as Salesforce users would
make them, Lead conversion, Task statuses, duplicate rules, write faults and Outbound
Messages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from . import write_faults
from .admin import _json, _not_found, _org_or_404
from .oauth import sf
from .schema import sobject

router = APIRouter(prefix="/__emulator/orgs/{org_id}")
STORED = {
    "contacts": "Contact",
    "leads": "Lead",
    "tasks": "Task",
    "accounts": "Account",
    "opportunities": "Opportunity",
    "cases": "Case",
}


def _stored_type(name: str) -> str | None:
    """A path segment (contacts, leads, tasks, or an object name) -> object name."""
    if name in STORED:
        return STORED[name]
    t = sobject(name)
    return t.name if t is not None and t.name in STORED.values() else None


# -- records -------------------------------------------------------------------------


@router.post("/bulk-contacts")
async def bulk_contacts(request: Request, org_id: str) -> Response:
    body = await _json(request)
    state = sf(request)
    if _org_or_404(state, org_id) is None:
        return _not_found("org")
    recs = state.bulk_create_contacts(
        org_id, int(body.get("n", 1)), body.get("created_by"), body.get("created_date")
    )
    return JSONResponse(
        {
            "ids": [r["Id"] for r in recs],
            "created_date": recs[0]["CreatedDate"] if recs else None,
            "created_by": recs[0]["CreatedById"] if recs else None,
        },
        status_code=201,
    )


@router.post("/leads/{lead_id}/convert")
async def convert_lead(request: Request, org_id: str, lead_id: str) -> Response:
    """{"contact_id": existing Contact to merge into (default: a new one),
    "converted_status": "Closed - Converted"}."""
    body = await _json(request)
    state = sf(request)
    if _org_or_404(state, org_id) is None:
        return _not_found("org")
    try:
        lead, contact = state.convert_lead(
            org_id,
            lead_id,
            contact_id=body.get("contact_id"),
            converted_status=body.get("converted_status") or "Closed - Converted",
        )
    except KeyError as exc:
        return _not_found(str(exc))
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    return JSONResponse({"lead": lead, "contact": contact})


# -- org configuration -----------------------------------------------------------------


@router.get("/task-statuses")
async def get_task_statuses(request: Request, org_id: str) -> Response:
    state = sf(request)
    org = _org_or_404(state, org_id)
    if org is None:
        return _not_found("org")
    return JSONResponse(
        [{"label": s[0], "closed": s[1], "default": s[2]} for s in org.task_statuses]
    )


@router.put("/task-statuses")
async def put_task_statuses(request: Request, org_id: str) -> Response:
    """[{"label": "Done", "closed": true, "default": false}, ...] (exactly one default)."""
    state = sf(request)
    if _org_or_404(state, org_id) is None:
        return _not_found("org")
    body = await request.json()
    try:
        state.set_task_statuses(org_id, list(body))
    except (ValueError, KeyError, TypeError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return await get_task_statuses(request, org_id)


@router.get("/duplicate-rules")
async def get_duplicate_rules(request: Request, org_id: str) -> Response:
    org = _org_or_404(sf(request), org_id)
    return _not_found("org") if org is None else JSONResponse(org.duplicate_rules)


@router.put("/duplicate-rules")
async def put_duplicate_rules(request: Request, org_id: str) -> Response:
    """[{"object": "Contact", "fields": ["Email"], "action": "block" | "alert",
    "match_objects": ["Contact", "Lead"], "on_edit": true, "name": ..., "message": ...}]."""
    state = sf(request)
    org = _org_or_404(state, org_id)
    if org is None:
        return _not_found("org")
    rules = await request.json()
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        return JSONResponse({"error": "a JSON array of rules"}, status_code=400)
    with state._lock:
        org.duplicate_rules = rules
    return JSONResponse(rules)


@router.get("/write-faults")
async def get_write_faults(request: Request, org_id: str) -> Response:
    org = _org_or_404(sf(request), org_id)
    return _not_found("org") if org is None else JSONResponse(org.write_faults)


@router.post("/write-faults")
async def add_write_fault(request: Request, org_id: str) -> Response:
    """{"object": "Contact", "record_id": ..., "operations": ["create", "update", "delete"],
    "error_code": "ENTITY_IS_LOCKED", "message", "fields", "status",
    "lose_answer": "error_500" | "error_503" | "drop" | "hang", "hang_seconds", "count"}."""
    body = await _json(request)
    state = sf(request)
    org = _org_or_404(state, org_id)
    if org is None:
        return _not_found("org")
    try:
        with state._lock:
            fault = write_faults.add(org, body)
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(fault, status_code=201)


@router.delete("/write-faults")
async def clear_write_faults(request: Request, org_id: str) -> Response:
    state = sf(request)
    org = _org_or_404(state, org_id)
    if org is None:
        return _not_found("org")
    with state._lock:
        org.write_faults.clear()
    return Response(status_code=204)


# -- outbound messages -------------------------------------------------------------------


def _delivery(d: Any) -> dict[str, Any]:
    return {
        "message_id": d.message_id,
        "notification_ids": d.notification_ids,
        "record_ids": d.record_ids,
        "status": d.status,
        "acked": d.acked,
    }


@router.post("/outbound-messages")
async def outbound_messages(request: Request, org_id: str) -> Response:
    """{"url", "contact_ids", "batch_size", "fields", "deleted_ids"}: deleted_ids are
    Contacts deleted just before delivery (their notifications carry an empty sObject)."""
    body = await _json(request)
    state = sf(request)
    if _org_or_404(state, org_id) is None:
        return _not_found("org")
    before = len(state.outbound_log)
    try:
        for cid in body.get("deleted_ids", []):
            state.delete_contact(org_id, cid)
        ids = list(body.get("contact_ids", []))
        ids += [c for c in body.get("deleted_ids", []) if c not in ids]
        statuses = await state.send_outbound_messages(
            org_id,
            body["url"],
            ids,
            batch_size=int(body.get("batch_size", 100)),
            fields=body.get("fields"),
        )
    except KeyError as exc:
        return _not_found(str(exc))
    sent = state.outbound_log[before:]
    return JSONResponse({"statuses": statuses, "messages": [_delivery(d) for d in sent]})


# -- records of any stored object (last: the paths above are more specific) ----------


@router.post("/{kind}")
async def add_record(request: Request, org_id: str, kind: str) -> Response:
    """Body: the fields, or {"fields": {...}, "created_by": ..., "created_date": ...}.
    kind: contacts | leads | tasks | accounts | opportunities | cases (or the object name)."""
    body = await _json(request)
    state = sf(request)
    type_name = _stored_type(kind)
    if type_name is None:
        return _not_found(kind)
    if _org_or_404(state, org_id) is None:
        return _not_found("org")
    if isinstance(body.get("fields"), dict):
        rec = state.add_record(
            org_id, type_name, body["fields"], body.get("created_by"), body.get("created_date")
        )
    else:
        rec = state.add_record(org_id, type_name, body)
    return JSONResponse(rec, status_code=201)


@router.get("/{kind}")
async def list_records(request: Request, org_id: str, kind: str) -> Response:
    """Every record of the object (deleted ones too); query parameters filter on equal
    field values, e.g. /tasks?WhoId=003...&Respondio_External_Id__c=x."""
    state = sf(request)
    type_name = _stored_type(kind)
    if type_name is None:
        return _not_found(kind)
    if _org_or_404(state, org_id) is None:
        return _not_found("org")
    rows = state.snapshot(org_id, type_name)
    for key, value in request.query_params.items():
        rows = [r for r in rows if str(r.get(key))[: len(value)] == value and r.get(key)]
    return JSONResponse(rows)


@router.get("/{kind}/{record_id}")
async def get_record(request: Request, org_id: str, kind: str, record_id: str) -> Response:
    state = sf(request)
    type_name = _stored_type(kind)
    if type_name is None or _org_or_404(state, org_id) is None:
        return _not_found(kind if type_name is None else "org")
    rec = state.get_record(org_id, type_name, record_id)
    return JSONResponse(rec) if rec else _not_found(type_name)


@router.patch("/{kind}/{record_id}")
async def update_record(request: Request, org_id: str, kind: str, record_id: str) -> Response:
    """A change made by a user in Salesforce (no API validation; the date moves >= 1 s)."""
    body = await _json(request)
    state = sf(request)
    type_name = _stored_type(kind)
    if type_name is None or _org_or_404(state, org_id) is None:
        return _not_found(kind if type_name is None else "org")
    try:
        return JSONResponse(state.update_record(org_id, type_name, record_id, body))
    except KeyError:
        return _not_found(type_name)


@router.delete("/{kind}/{record_id}")
async def delete_record(request: Request, org_id: str, kind: str, record_id: str) -> Response:
    state = sf(request)
    type_name = _stored_type(kind)
    if type_name is None or _org_or_404(state, org_id) is None:
        return _not_found(kind if type_name is None else "org")
    try:
        state.delete_record(org_id, type_name, record_id)
    except KeyError:
        return _not_found(type_name)
    return Response(status_code=204)


@router.post("/{kind}/{record_id}/undelete")
async def undelete_record(request: Request, org_id: str, kind: str, record_id: str) -> Response:
    """Restore a deleted record from the recycle bin (an UNDELETE change event for a Contact
    or Lead); 400 UNDELETE_FAILED when it is not in the recycle bin."""
    state = sf(request)
    type_name = _stored_type(kind)
    if type_name is None or _org_or_404(state, org_id) is None:
        return _not_found(kind if type_name is None else "org")
    try:
        return JSONResponse(state.undelete_record(org_id, type_name, record_id))
    except KeyError:
        return _not_found(type_name)
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
