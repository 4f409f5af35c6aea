"""A feature's JSON request body: read with a size cap before any parsing, then validated by
its pydantic model; every problem is a 422 `validation_error` naming the field
(docs/api.md, "Errors")."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from app import errors
from app.kit.body import BodyTooLarge, read_bounded

M = TypeVar("M", bound=BaseModel)


async def read_json(request: Request, model: type[M], max_bytes: int) -> M:
    try:
        raw = await read_bounded(request, max_bytes)
    except BodyTooLarge:
        raise errors.RequestTooLarge(f"The body may be at most {max_bytes} bytes.") from None
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        problems = [
            {
                "field": ".".join(str(part) for part in err.get("loc", ())) or "body",
                "message": err.get("msg", "invalid"),
            }
            for err in exc.errors(include_url=False, include_input=False)
        ]
        raise errors.ValidationFailed(
            "; ".join(f"{p['field']}: {p['message']}" for p in problems), errors=problems
        ) from None
