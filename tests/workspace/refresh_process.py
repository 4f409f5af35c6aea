"""A second service process for the cross-process refresh test.

Usage: refresh_process.py WORKSPACE GO_FILE N — waits for GO_FILE, then makes N concurrent
Salesforce queries with the workspace's stored (expired) token and prints a JSON summary.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.config import get_settings  # noqa: E402
from app.main import create_app  # noqa: E402


async def main(workspace: str, go: Path, n: int) -> None:
    app = create_app(get_settings())
    async with app.router.lifespan_context(app):
        deadline = time.monotonic() + 30
        while not go.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
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
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])))
