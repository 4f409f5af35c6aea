"""The record pages a "View in Salesforce" link opens: /lightning/r/{Object}/{Id}/view.

Salesforce needs a browser session there; the emulator shows the record to anyone,
which is enough for a demo and for tests that follow the link."""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from .oauth import sf
from .schema import sobject, with_computed

router = APIRouter()


@router.get("/lightning/r/{type_name}/{record_id}/view", response_class=HTMLResponse)
async def record_page(request: Request, type_name: str, record_id: str) -> HTMLResponse:
    state = sf(request)
    state.count("web.record")
    t = sobject(type_name)
    rec = None
    if t is not None and t.name == type_name:
        with state._lock:
            for org in state.orgs.values():
                found = state.find_record(org, t, record_id)
                if found is not None and found.get("Id", "")[:3] == t.key_prefix:
                    rec = with_computed(t, found)
                    break
    if t is None or rec is None or rec.get("IsDeleted"):
        body = "<h1>Record not found</h1><p>It may have been deleted, or you may not have access."
        return HTMLResponse(f"<!DOCTYPE html><html><body>{body}</body></html>", status_code=404)
    rows = "".join(
        f"<tr><th>{html.escape(f.label)}</th><td>{html.escape(str(rec[f.name]))}</td></tr>"
        for f in t.fields
        if rec.get(f.name) not in (None, "")
    )
    title = html.escape(str(rec.get("Name") or rec.get("Subject") or rec["Id"]))
    doc = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{title} | {html.escape(t.label)} | Salesforce</title>"
        "<style>body{font-family:sans-serif;margin:2rem}th{text-align:left;padding-right:1rem;"
        "color:#555;font-weight:400}td,th{padding:.2rem 0}</style></head><body>"
        f"<p>{html.escape(t.label)}</p><h1>{title}</h1><table>{rows}</table></body></html>"
    )
    return HTMLResponse(doc)
