"""REST API under /services/data: versions, limits, query, search, describe and
sObject rows, with Salesforce's error arrays and Sforce-Limit-Info."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from . import enterprise, errors
from .describe import basic_info, describe
from .errors import SFError
from .oauth import bearer, sf
from .schema import ORGANIZATION, SOBJECTS, SObjectType
from .soql import SOQLError, execute, parse_soql, project
from .soql_relations import project_related
from .sosl import parse_sosl, run_search
from .state import Org, SalesforceEmulator
from .tokens import AccessToken
from .util import http_date, parse_http_date

router = APIRouter(prefix="/services/data")
_VERSION_RE = re.compile(r"^v(\d+)\.0$")
# What a production org serves on 2026-12-04: Winter '27 (68.0) is the newest GA version;
# 7.0 to 30.0 are retired (21.0-30.0 since Summer '25) and answer 410 Gone.
LATEST = 68
OLDEST = 31


def season(n: int) -> str:
    idx = n - 20
    return f"{('Winter', 'Spring', 'Summer')[idx % 3]} '{11 + idx // 3:02d}"


@dataclass
class Ctx:
    state: SalesforceEmulator
    org: Org
    token: AccessToken
    version: str


async def rest_ctx(request: Request, version: str) -> Ctx:
    """Auth, org checks, faults and API usage for one REST call."""
    state = sf(request)
    m = _VERSION_RE.match(version)
    raw = bearer(request) or ""
    at = state.access_token(raw)
    org_hint = at.org_id if at else raw.split("!", 1)[0] if "!" in raw else None
    if org_hint:
        try:
            request.state.sf_org_id = state.org(org_hint).id
        except KeyError:
            pass
    if not m or int(m.group(1)) > LATEST:
        raise errors.not_found()
    if int(m.group(1)) < OLDEST:
        raise errors.gone()
    state.count(f"version.{m.group(1)}.0")
    if at is None:
        state.count("session.invalid")
        raise errors.invalid_session()
    org = state.org(at.org_id)
    if not org.api_enabled:
        raise errors.api_disabled()
    user = state.user(org.id, at.user_id)
    if user is None or not user.api_enabled:
        raise errors.api_currently_disabled()
    fault = state.take_fault(org)
    if fault:
        raise errors.FAULTS[fault]()
    if not state.use_api(org):
        raise errors.limit_exceeded()
    return Ctx(state, org, at, f"{m.group(1)}.0")


def visible_type(ctx: Ctx, name: str) -> SObjectType | None:
    """The object as the calling user sees it: fields their profile hides are left out."""
    t = ctx.state.org_type(ctx.org, name)
    return enterprise.visible_type(ctx.org, ctx.token.user_id, t) if t is not None else None


def org_type(ctx: Ctx, name: str) -> SObjectType:
    t = visible_type(ctx, name)
    if t is None:
        raise errors.not_found()
    return t


@router.get("")
@router.get("/")
async def versions() -> list[dict[str, str]]:
    return [
        {"label": season(n), "url": f"/services/data/v{n}.0", "version": f"{n}.0"}
        for n in range(OLDEST, LATEST + 1)
    ]


@router.get("/{version}")
@router.get("/{version}/")
async def resources(ctx: Ctx = Depends(rest_ctx)) -> dict[str, str]:
    base = f"/services/data/v{ctx.version}"
    names = ["limits", "query", "queryAll", "search", "sobjects", "recent", "tooling"]
    return {name: f"{base}/{name}" for name in names}


@router.get("/{version}/limits")
async def limits(ctx: Ctx = Depends(rest_ctx)) -> dict[str, Any]:
    ctx.state.count("limits")
    used = ctx.org.api_usage
    return {
        "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
        "ConcurrentSyncReportRuns": {"Max": 20, "Remaining": 20},
        "DailyApiRequests": {"Max": ctx.org.api_max, "Remaining": max(ctx.org.api_max - used, 0)},
        "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
        "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
        "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
        "DailyStreamingApiEvents": {"Max": 200000, "Remaining": 200000},
        "DataStorageMB": {"Max": 1024, "Remaining": 1019},
        "FileStorageMB": {"Max": 20480, "Remaining": 20470},
        "HourlyPublishedPlatformEvents": {"Max": 250000, "Remaining": 250000},
        "SingleEmail": {"Max": 5000, "Remaining": 5000},
    }


# -- query ---------------------------------------------------------------------------


def _batch_size(request: Request, state: SalesforceEmulator) -> int:
    size = state.query_batch_size
    opts = request.headers.get("sforce-query-options", "")
    m = re.search(r"batchSize\s*=\s*(\d+)", opts)
    if m:
        size = min(max(int(m.group(1)), 200), 2000)
    return size


def _page(ctx: Ctx, rows: list[dict[str, Any]], total: int, cursor: str | None, pos: int) -> dict:
    body: dict[str, Any] = {"totalSize": total, "done": cursor is None, "records": rows}
    if cursor is not None:
        body["nextRecordsUrl"] = f"/services/data/v{ctx.version}/query/{cursor}-{pos}"
    return body


def _run_query(request: Request, ctx: Ctx, q: str | None, include_deleted: bool) -> dict:
    state = ctx.state
    state.count("query")
    if not q:
        raise SFError(400, "MALFORMED_QUERY", "A query string has to be specified")
    state.queries.append(q)
    try:
        query = parse_soql(
            q,
            lookup=lambda name: visible_type(ctx, name),
            strict_datetimes=state.strict_soql_datetimes,
            today=state.clock.now().date(),
        )
    except SOQLError as exc:
        raise SFError(400, exc.code, exc.message) from None
    state.count(f"query.{query.type.name}")
    if query.type is ORGANIZATION:
        state.count("organization")
    enterprise.check_selective(ctx.org, query.type.name, query.where)
    rows = execute(
        query, state.snapshot(ctx.org.id, query.type.name), include_deleted=include_deleted
    )
    if query.count_only:
        return {"totalSize": len(rows), "done": True, "records": []}
    fields = query.fields
    if query.parents or query.children:
        rows_of = functools.cache(lambda name: state.snapshot(ctx.org.id, name))
        records = [project_related(r, query, ctx.version, rows_of) for r in rows]
    else:
        records = [project(r, query.type, fields, ctx.version) for r in rows]
    size = _batch_size(request, state)
    if len(records) <= size:
        return _page(ctx, records, len(records), None, 0)
    cursor = state._new_id("01g")
    with state._lock:
        state.cursors[cursor] = {"org_id": ctx.org.id, "records": records}
    return _page(ctx, records[:size], len(records), cursor, size)


@router.get("/{version}/query")
@router.get("/{version}/query/")
async def query(request: Request, q: str | None = None, ctx: Ctx = Depends(rest_ctx)) -> dict:
    return _run_query(request, ctx, q, include_deleted=False)


@router.get("/{version}/queryAll")
@router.get("/{version}/queryAll/")
async def query_all(request: Request, q: str | None = None, ctx: Ctx = Depends(rest_ctx)) -> dict:
    return _run_query(request, ctx, q, include_deleted=True)


@router.get("/{version}/query/{locator}")
async def query_more(request: Request, locator: str, ctx: Ctx = Depends(rest_ctx)) -> dict:
    state = ctx.state
    state.count("query.more")
    cursor, _, pos_text = locator.rpartition("-")
    with state._lock:
        entry = state.cursors.get(cursor)
    if entry is None or entry["org_id"] != ctx.org.id or not pos_text.isdigit():
        raise SFError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    records, pos = entry["records"], int(pos_text)
    end = pos + _batch_size(request, state)
    more = end < len(records)
    return _page(ctx, records[pos:end], len(records), cursor if more else None, end)


@router.get("/{version}/search")
@router.get("/{version}/search/")
async def search(q: str | None = None, ctx: Ctx = Depends(rest_ctx)) -> dict:
    state = ctx.state
    state.count("search")
    if not q:
        raise SFError(400, "MALFORMED_SEARCH", "A search string has to be specified")
    state.queries.append(q)
    try:
        parsed = parse_sosl(
            q,
            lookup=lambda name: visible_type(ctx, name),
            strict_datetimes=state.strict_soql_datetimes,
        )
    except SOQLError as exc:
        raise SFError(400, exc.code, exc.message) from None
    rows = {t.type.name: state.searchable(ctx.org.id, t.type.name) for t in parsed.targets}
    return {"searchRecords": run_search(parsed, rows, ctx.version)}


# -- describe ------------------------------------------------------------------------


@router.get("/{version}/sobjects")
@router.get("/{version}/sobjects/")
async def global_describe(ctx: Ctx = Depends(rest_ctx)) -> dict:
    ctx.state.count("describe.global")
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [basic_info(t, ctx.version) for t in SOBJECTS.values()],
    }


@router.get("/{version}/sobjects/{type_name}")
async def sobject_info(type_name: str, ctx: Ctx = Depends(rest_ctx)) -> dict:
    t = org_type(ctx, type_name)
    return {"objectDescribe": basic_info(t, ctx.version), "recentItems": []}


@router.get("/{version}/sobjects/{type_name}/describe")
@router.get("/{version}/sobjects/{type_name}/describe/")
async def describe_sobject(request: Request, type_name: str, ctx: Ctx = Depends(rest_ctx)) -> Any:
    state = ctx.state
    state.count("describe")
    t = org_type(ctx, type_name)
    last_modified = state.schema_last_modified
    headers = {"Last-Modified": http_date(last_modified)}
    since = parse_http_date(request.headers.get("if-modified-since", ""))
    if since is not None and last_modified <= since:
        return Response(status_code=304, headers=headers)
    return JSONResponse(describe(t, ctx.version), headers=headers)
