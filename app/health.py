"""Liveness, readiness and metrics (docs/api.md, "Operations")."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Literal

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from app.deps import DatabaseDep
from app.errors import SERVICE_RETRY_AFTER_SECONDS

logger = logging.getLogger("app.health")
router = APIRouter(tags=["operations"])

# Called by the platform (probes, Prometheus), not by respond.io's services.
OPERATOR = {"x-caller": "operator"}


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unreachable", "not_migrated"]
    detail: str | None = None
    revision: str | None = None
    head: str | None = None


class Liveness(BaseModel):
    status: Literal["ok"]


CURRENT_REVISION = "SELECT version_num FROM alembic_version"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str | None = None) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    if database_url:
        config.attributes["database_url"] = database_url
    return config


@functools.cache
def head_revision() -> str | None:
    """The migration the code expects (read once per process)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@router.get("/healthz", summary="The process is alive", openapi_extra=OPERATOR)
async def healthz() -> Liveness:
    return Liveness(status="ok")


@router.get(
    "/readyz",
    summary="The database is reachable and migrated to the head revision",
    response_model=Readiness,
    responses={503: {"description": "Not ready", "model": Readiness}},
    openapi_extra=OPERATOR,
)
async def readyz(database: DatabaseDep) -> JSONResponse:
    expected = head_revision()
    try:
        async with database.engine.connect() as conn:
            current = (await conn.execute(text(CURRENT_REVISION))).scalar()
    except ProgrammingError:
        # The server answers but has no alembic_version table: never migrated.
        current = None
    except Exception as exc:  # noqa: BLE001 - any other database failure means "unreachable"
        logger.warning("health.database_unreachable", extra={"error": type(exc).__name__})
        return JSONResponse(
            {
                "status": "unavailable",
                "database": "unreachable",
                "detail": "The database cannot be reached.",
            },
            status_code=503,
            headers={"Retry-After": str(SERVICE_RETRY_AFTER_SECONDS)},
        )
    if current != expected:
        return JSONResponse(
            {
                "status": "unavailable",
                "database": "not_migrated",
                "detail": "The database answers but is not at the expected revision: migrate "
                "it (`alembic upgrade head`).",
                "revision": current,
                "head": expected,
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": "ok", "revision": current})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    openapi_extra=OPERATOR,
)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
