"""REST API under /services/data: versions, limits, query, search, describe and
sObject rows, with Salesforce's error arrays and Sforce-Limit-Info."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from . import errors
from .describe import basic_info, describe
from .errors import SFError
from .oauth import bearer, sf
from .records import validate_write
from .schema import ORGANIZATION, SOBJECTS, SObjectType, sobject, with_computed
from .soql import SOQLError, execute, parse_soql, project
from .sosl import parse_sosl, run_search
from .state import Org, SalesforceEmulator
from .tokens import AccessToken
from .util import ID_RE, http_date, parse_datetime, parse_http_date

router = APIRouter(prefix="/services/data")
_VERSION_RE = re.compile(r"^v(\d+)\.0$")
LATEST = 64


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
    if not m or int(m.group(1)) < 20:
        raise errors.not_found()
    if at is None:
        raise errors.invalid_session()
    org = state.org(at.org_id)
    if not org.api_enabled:
        raise errors.api_disabled()
    fault = state.take_fault(org)
    if fault:
        raise errors.FAULTS[fault]()
    if not state.use_api(org):
        raise errors.limit_exceeded()
    return Ctx(state, org, at, f"{m.group(1)}.0")


def _type(name: str) -> SObjectType:
    t = sobject(name)
    if t is None:
        raise errors.not_found()
    return t


@router.get("")
@router.get("/")
async def versions() -> list[dict[str, str]]:
    return [
        {"label": season(n), "url": f"/services/data/v{n}.0", "version": f"{n}.0"}
        for n in range(20, LATEST + 1)
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
    try:
        query = parse_soql(q)
    except SOQLError as exc:
        raise SFError(400, exc.code, exc.message) from None
    state.count(f"query.{query.type.name}")
    if query.type is ORGANIZATION:
        state.count("organization")
    rows = execute(
        query, state.snapshot(ctx.org.id, query.type.name), include_deleted=include_deleted
    )
    if query.count_only:
        return {"totalSize": len(rows), "done": True, "records": []}
    fields = query.fields
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
    try:
        parsed = parse_sosl(q)
    except SOQLError as exc:
        raise SFError(400, exc.code, exc.message) from None
    rows = {t.type.name: state.snapshot(ctx.org.id, t.type.name) for t in parsed.targets}
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
    t = _type(type_name)
    return {"objectDescribe": basic_info(t, ctx.version), "recentItems": []}


@router.get("/{version}/sobjects/{type_name}/describe")
@router.get("/{version}/sobjects/{type_name}/describe/")
async def describe_sobject(request: Request, type_name: str, ctx: Ctx = Depends(rest_ctx)) -> Any:
    state = ctx.state
    state.count("describe")
    t = _type(type_name)
    last_modified = state.schema_last_modified
    headers = {"Last-Modified": http_date(last_modified)}
    since = parse_http_date(request.headers.get("if-modified-since", ""))
    if since is not None and last_modified <= since:
        return Response(status_code=304, headers=headers)
    return JSONResponse(describe(t, ctx.version), headers=headers)


# -- rows ----------------------------------------------------------------------------


def _counter(t: SObjectType, action: str) -> str:
    return "organization" if t is ORGANIZATION else f"{t.name.lower()}.{action}"


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
    t = _type(type_name)
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


@router.patch("/{version}/sobjects/{type_name}/{record_id}")
async def patch_row(
    request: Request, type_name: str, record_id: str, ctx: Ctx = Depends(rest_ctx)
) -> Response:
    state = ctx.state
    t = _type(type_name)
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
        values = validate_write(
            t,
            body,
            raw,
            creating=False,
            current=rec,
            rules=ctx.org.validation_rules,
            user_ids=set(ctx.org.users),
        )
        rec.update(values)
        state.touch(rec, ctx.token.user_id, at_least_one_second=False)
    return Response(status_code=204)


@router.post("/{version}/sobjects/{type_name}")
@router.post("/{version}/sobjects/{type_name}/")
async def create_row(request: Request, type_name: str, ctx: Ctx = Depends(rest_ctx)) -> Response:
    state = ctx.state
    t = _type(type_name)
    state.count(_counter(t, "create"))
    if not t.createable:
        raise _method_not_allowed("POST")
    body, raw = _json_body(await request.body())
    with state._lock:
        values = validate_write(
            t,
            body,
            raw,
            creating=True,
            current=None,
            rules=ctx.org.validation_rules,
            user_ids=set(ctx.org.users),
        )
        rec = state._insert(ctx.org, t, values, created_by=ctx.token.user_id)
    return JSONResponse({"id": rec["Id"], "success": True, "errors": []}, status_code=201)


@router.delete("/{version}/sobjects/{type_name}/{record_id}")
async def delete_row(type_name: str, record_id: str, ctx: Ctx = Depends(rest_ctx)) -> Response:
    state = ctx.state
    t = _type(type_name)
    state.count(_counter(t, "delete"))
    if not t.deletable:
        raise _method_not_allowed("DELETE")
    with state._lock:
        rec = _stored(ctx, t, record_id)
        rec["IsDeleted"] = True
        state.touch(rec, ctx.token.user_id, at_least_one_second=False)
    return Response(status_code=204)
