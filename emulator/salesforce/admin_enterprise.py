"""Control API for how an org is configured (docs/enterprise-orgs.md), under
/__emulator/orgs/{org_id}/...: profiles' hidden fields (field-level security) and users'
profiles, custom fields, the active Lead assignment rule, and large tables
(QUERY_TIMEOUT)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .admin import _json, _not_found, _org_or_404
from .oauth import sf

router = APIRouter(prefix="/__emulator/orgs/{org_id}")
OBJECTS = ("Contact", "Lead", "Task", "Account", "Opportunity", "Case")


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


# -- field-level security ------------------------------------------------------------------


@router.get("/profiles/{profile}/hidden-fields")
async def get_hidden_fields(request: Request, org_id: str, profile: str) -> Response:
    org = _org_or_404(sf(request), org_id)
    if org is None:
        return _not_found("org")
    return JSONResponse(getattr(org, "hidden_fields", {}).get(profile, {}))


@router.put("/profiles/{profile}/hidden-fields")
async def put_hidden_fields(request: Request, org_id: str, profile: str) -> Response:
    """{"Contact": ["MobilePhone"], "Lead": ["Email"]}: the fields the profile's users cannot
    read (the describe omits them; SOQL, SOSL, reads and writes naming them: INVALID_FIELD).
    `{}` shows everything again."""
    state = sf(request)
    org = _org_or_404(state, org_id)
    if org is None:
        return _not_found("org")
    body: dict[str, Any] = await _json(request)
    hidden: dict[str, list[str]] = {}
    for name, fields in body.items():
        if name not in OBJECTS:
            return _bad(f"unknown object: {name}")
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            return _bad(f"{name}: a list of field names")
        t = state.org_type(org, name)
        unknown = [f for f in fields if t is None or t.field(f) is None]
        if unknown:
            return _bad(f"{name}: no such fields: {', '.join(unknown)}")
        if any(f.lower() == "id" for f in fields):
            return _bad("Id is always readable")
        hidden[name] = list(fields)
    with state._lock:
        # An org restored from an older state file (make run) may lack the attribute.
        org.hidden_fields = {**getattr(org, "hidden_fields", {}), profile: hidden}
    return JSONResponse(hidden)


@router.put("/users/{user_id}/profile")
async def put_user_profile(request: Request, org_id: str, user_id: str) -> Response:
    """{"profile": "Integration User"}: the user's profile (default "System Administrator")."""
    state = sf(request)
    org = _org_or_404(state, org_id)
    if org is None:
        return _not_found("org")
    user = org.users.get(user_id)
    if user is None:
        return _not_found("user")
    profile = (await _json(request)).get("profile")
    if not isinstance(profile, str) or not profile:
        return _bad("profile: a name")
    with state._lock:
        user.profile = profile
    return JSONResponse({"user_id": user.id, "profile": profile})


# -- custom fields -------------------------------------------------------------------------


@router.get("/custom-fields")
async def get_custom_fields(request: Request, org_id: str) -> Response:
    org = _org_or_404(sf(request), org_id)
    if org is None:
        return _not_found("org")
    added = getattr(org, "custom_fields", {})
    return JSONResponse({name: [f.name for f in fields] for name, fields in added.items()})


@router.post("/custom-fields")
async def add_custom_field(request: Request, org_id: str) -> Response:
    """{"object": "Contact", "name": "Favourite_Colour__c", "type": "string", "label",
    "length"}: a custom field an admin adds in Setup (types: string, textarea, email, phone,
    url, double, date, datetime). The describe shows it at once; on Contact and
    Lead the change events get a new schema id. → 201 {"object", "name", "type",
    "change_event_schema_id"}."""
    state = sf(request)
    if _org_or_404(state, org_id) is None:
        return _not_found("org")
    body: dict[str, Any] = await _json(request)
    name, kind = body.get("name"), body.get("type", "string")
    label, length = body.get("label"), body.get("length")
    if not isinstance(name, str) or not isinstance(kind, str):
        return _bad("name and type: strings")
    if label is not None and not isinstance(label, str):
        return _bad("label: a string")
    if length is not None and (not isinstance(length, int) or isinstance(length, bool)):
        return _bad("length: a number")
    try:
        added, schema_id = state.add_custom_field(
            org_id, str(body.get("object", "")), name, kind, label, length
        )
    except ValueError as exc:
        return _bad(str(exc))
    return JSONResponse(
        {
            "object": body["object"],
            "name": added.name,
            "type": added.type,
            "change_event_schema_id": schema_id,
        },
        status_code=201,
    )


# -- the active Lead assignment rule -------------------------------------------------------


@router.get("/lead-assignment-rule")
async def get_assignment_rule(request: Request, org_id: str) -> Response:
    org = _org_or_404(sf(request), org_id)
    if org is None:
        return _not_found("org")
    return JSONResponse({"owner_id": org.lead_assignment_owner})


@router.put("/lead-assignment-rule")
async def put_assignment_rule(request: Request, org_id: str) -> Response:
    """{"owner_id": "005..."}: an active rule giving every new Lead to that user."""
    owner = (await _json(request)).get("owner_id")
    return _assign(request, org_id, owner if isinstance(owner, str) else "")


@router.delete("/lead-assignment-rule")
async def delete_assignment_rule(request: Request, org_id: str) -> Response:
    return _assign(request, org_id, None)


def _assign(request: Request, org_id: str, owner: str | None) -> Response:
    """Make `owner` the active rule's user (None: no active rule)."""
    state = sf(request)
    org = _org_or_404(state, org_id)
    if org is None:
        return _not_found("org")
    if owner is not None and owner not in org.users:
        return _bad("owner_id: a user of the org")
    with state._lock:
        org.lead_assignment_owner = owner
    return JSONResponse({"owner_id": owner})


# -- large tables (QUERY_TIMEOUT) ----------------------------------------------------------


@router.get("/large-tables")
async def get_large_tables(request: Request, org_id: str) -> Response:
    org = _org_or_404(sf(request), org_id)
    if org is None:
        return _not_found("org")
    return JSONResponse({"objects": sorted(getattr(org, "large_tables", ()))})


@router.put("/large-tables")
async def put_large_tables(request: Request, org_id: str) -> Response:
    """{"objects": ["Contact", "Lead"]}: these objects hold millions of rows, so a SOQL filter
    no index serves (no indexed condition ANDed in, or an OR) answers QUERY_TIMEOUT."""
    state = sf(request)
    org = _org_or_404(state, org_id)
    if org is None:
        return _not_found("org")
    objects = (await _json(request)).get("objects")
    if not isinstance(objects, list) or not all(o in OBJECTS for o in objects):
        return _bad(f"objects: a list of {', '.join(OBJECTS)}")
    with state._lock:
        org.large_tables = set(objects)
    return JSONResponse({"objects": sorted(org.large_tables)})
