"""A second service process for the cross-process refresh test.

Usage: refresh_process.py WORKSPACE N — prints `ready` once started, waits for a line on
stdin, then makes N concurrent Salesforce queries with the workspace's stored (expired) token
and prints a JSON summary.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.config import get_settings  # noqa: E402
from app.main import create_app  # noqa: E402


async def main(workspace: str, n: int) -> None:
    app = create_app(get_settings())
    async with app.router.lifespan_context(app):
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        results = await asyncio.gather(
            *(
                app.state.services.salesforce.query(workspace, "SELECT Id FROM Contact LIMIT 1")
                for _ in range(n)
            ),
            return_exceptions=True,
        )
    failed = [r for r in results if isinstance(r, BaseException)]
    for error in failed[:3]:
        print(repr(error), file=sys.stderr)
    print(json.dumps({"ok": n - len(failed), "failed": len(failed)}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
