"""Write faults the admin API injects, per object or per record.

A fault either rejects the write with a record-level error (ENTITY_IS_LOCKED,
DUPLICATE_VALUE, ...; see errors.WRITE_ERRORS) or lets the write happen and loses
the answer (`lose_answer`: error_500, error_503, drop, hang), so a test can prove that
a retry does not create a second record. The caller holds the emulator's lock."""

from __future__ import annotations

from typing import Any

from .errors import LOST_ANSWERS, WRITE_ERRORS, SFError, server_unavailable, unknown_exception
from .models import Org
from .util import same_id

OPERATIONS = ("create", "update", "delete")


def add(org: Org, spec: dict[str, Any]) -> dict[str, Any]:
    code = spec.get("error_code")
    lose = spec.get("lose_answer")
    if not code and not lose:
        raise ValueError("give error_code or lose_answer")
    if code and code not in WRITE_ERRORS and not spec.get("message"):
        raise ValueError(
            f"unknown error_code {code!r}: give a message, or one of {sorted(WRITE_ERRORS)}"
        )
    if lose and lose not in LOST_ANSWERS:
        raise ValueError(f"lose_answer must be one of {list(LOST_ANSWERS)}")
    ops = list(spec.get("operations") or ["create", "update"])
    if any(op not in OPERATIONS for op in ops):
        raise ValueError(f"operations are among {list(OPERATIONS)}")
    fault = {
        "object": spec.get("object"),
        "record_id": spec.get("record_id"),
        "operations": ops,
        "error_code": code,
        "message": spec.get("message"),
        "fields": spec.get("fields"),
        "status": spec.get("status"),
        "lose_answer": lose,
        "hang_seconds": float(spec.get("hang_seconds", 30)),
        "remaining": spec.get("count"),
    }
    org.write_faults.append(fault)
    return fault


def take(org: Org, type_name: str, record_id: str | None, operation: str) -> dict | None:
    """The first fault matching this write (counting it down), or None."""
    for fault in org.write_faults:
        if operation not in fault["operations"]:
            continue
        if fault["object"] and fault["object"].lower() != type_name.lower():
            continue
        if fault["record_id"] and not same_id(fault["record_id"], record_id):
            continue
        if fault["remaining"] is not None:
            fault["remaining"] -= 1
            if fault["remaining"] <= 0:
                org.write_faults.remove(fault)
        return fault
    return None


def rejection(fault: dict[str, Any], type_name: str, record_id: str | None) -> SFError | None:
    code = fault["error_code"]
    if not code:
        return None
    status, template = WRITE_ERRORS.get(code, (400, fault["message"] or ""))
    fields = fault["fields"] or []
    message = fault["message"] or template.format(
        object=type_name, field=fields[0] if fields else "Id", id=record_id or ""
    )
    return SFError(int(fault["status"] or status), code, message, list(fields))


def lost_answer_error(fault: dict[str, Any]) -> SFError | None:
    """The error answered instead of success, for the error_* kinds."""
    if fault["lose_answer"] == "error_500":
        return unknown_exception()
    if fault["lose_answer"] == "error_503":
        return server_unavailable()
    return None
