"""A service process or a worker process for the shared-describe test.

Usage: describe_process.py service|worker WORKSPACE N — prints `ready` once started, waits
for a line on stdin, then reads the workspace's Contact describe N times concurrently (a
service through its workspace core, a worker the way its reconciliation does) and prints a
JSON summary.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.config import get_settings  # noqa: E402
from app.crypto import TokenCipher  # noqa: E402
from app.db import Database  # noqa: E402
from app.main import create_app  # noqa: E402
from app.salesforce.client import SalesforceClient  # noqa: E402
from app.services import outbound_http  # noqa: E402
from app.worker import shared_describes  # noqa: E402
from app.workspace import repository  # noqa: E402
from app.workspace.budget import ApiBudget  # noqa: E402
from app.workspace.tokens import TokenStore  # noqa: E402


async def as_service(workspace: str, n: int) -> list[object]:
    app = create_app(get_settings())
    async with app.router.lifespan_context(app):
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        services = app.state.services
        context = await services.caches.contexts.get(workspace)
        return await asyncio.gather(
            *(services.caches.describes.get(context) for _ in range(n)), return_exceptions=True
        )


async def as_worker(workspace: str, n: int) -> list[object]:
    settings = get_settings()
    db = Database(settings.async_database_url)
    http = outbound_http(settings)
    budget = ApiBudget(db, settings)
    tokens = TokenStore(db, TokenCipher(settings.encryption_keys), http, settings, budget=budget)
    describes = shared_describes(
        db, SalesforceClient(http, settings, tokens, budget), tokens, settings
    )
    try:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        row = await repository.connection_of(db, workspace)
        assert row is not None
        return await asyncio.gather(
            *(describes.get_for(workspace, row.id) for _ in range(n)), return_exceptions=True
        )
    finally:
        await http.aclose()
        await db.dispose()


async def main(role: str, workspace: str, n: int) -> None:
    results = await (as_service if role == "service" else as_worker)(workspace, n)
    failed = [r for r in results if isinstance(r, BaseException)]
    for error in failed[:3]:
        print(repr(error), file=sys.stderr)
    fields = {len(r.fields) for r in results if not isinstance(r, BaseException)}  # type: ignore[attr-defined]
    print(json.dumps({"ok": n - len(failed), "failed": len(failed), "fields": sorted(fields)}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
