"""Control API for an org's Change Data Capture under
/__emulator/orgs/{org_id}/change-data-capture: which entities are selected, expired replay
ids, dropped streams, the delivery allocation, gap events, and what was delivered."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .admin import _json, _not_found, _org_or_404
from .change_events import ENTITIES
from .change_schema import CHANGE_TYPES
from .oauth import sf

router = APIRouter(prefix="/__emulator/orgs/{org_id}/change-data-capture")


def _status(request: Request, org_id: str) -> dict[str, object]:
    state = sf(request)
    log = state.change_events.log(org_id)
    servicer = state.pubsub
    return {
        "selected": sorted(log.selected),
        "last_replay": log.last_number,
        "expired_below": log.expired_below,
        "delivery_allocation": log.delivery_allocation,
        "delivered": log.delivered,
        "open_streams": len(log.listeners),
        "subscribes": servicer.subscribes if servicer is not None else 0,
    }


@router.get("")
async def status(request: Request, org_id: str) -> Response:
    if _org_or_404(sf(request), org_id) is None:
        return _not_found("org")
    return JSONResponse(_status(request, org_id))


@router.put("")
async def configure(request: Request, org_id: str) -> Response:
    """`{"selected": ["Contact", "Lead"], "delivery_allocation": 25000 | null}`."""
    state = sf(request)
    if _org_or_404(state, org_id) is None:
        return _not_found("org")
    body = await _json(request)
    if "selected" in body:
        chosen = set(body["selected"])
        for entity in ENTITIES:
            state.change_events.select(org_id, entity, entity in chosen)
    if "delivery_allocation" in body:
        state.change_events.set_allocation(org_id, body["delivery_allocation"])
    return JSONResponse(_status(request, org_id))


@router.post("/expire-replay-ids")
async def expire(request: Request, org_id: str) -> Response:
    state = sf(request)
    if _org_or_404(state, org_id) is None:
        return _not_found("org")
    state.change_events.expire_replay_ids(org_id)
    return JSONResponse(_status(request, org_id))


@router.post("/drop-streams")
async def drop(request: Request, org_id: str) -> Response:
    state = sf(request)
    if _org_or_404(state, org_id) is None:
        return _not_found("org")
    state.change_events.drop_streams(org_id)
    return JSONResponse(_status(request, org_id))


@router.post("/gap-events")
async def gap(request: Request, org_id: str) -> Response:
    """`{"entity": "Contact", "change_type": "GAP_UPDATE", "ids": ["003..."]}`."""
    state = sf(request)
    if _org_or_404(state, org_id) is None:
        return _not_found("org")
    body = await _json(request)
    entity, change_type = body.get("entity", "Contact"), body.get("change_type")
    if entity not in ENTITIES or change_type not in CHANGE_TYPES or "GAP" not in change_type:
        return JSONResponse({"error": "entity or change_type not valid"}, status_code=400)
    state.change_events.publish_gap(org_id, entity, change_type, list(body.get("ids") or []))
    return JSONResponse(_status(request, org_id), status_code=201)
