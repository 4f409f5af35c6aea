"""Replicas without Redis (no CACHE_URL), each with its own cache: a change one of them makes
through the service (an edit, a revert, a record created) reaches the others through
PostgreSQL at once. The change stream skips the service's own writes (`changeOrigin`), and a
streaming org's answers live an hour, so without this another replica would show the old
value for up to that hour, and an edit there would start from it."""

from __future__ import annotations

from typing import Any

import httpx

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.workspace.lookup_cache import MemoryLookupCache
from app.workspace.peer_changes import PeerNotifyingLookupCache
from app.workspace.stream_state import StreamHealth, StreamListener
from tests.helpers.autocreate import Workspace, running_worker, wait_until
from tests.helpers.cache_entries import entry, key
from tests.helpers.lookups import lookup, put_settings
from tests.stream.helpers import wait_for_state

ANA = "ana.souza@example.com"


def title(answer: dict[str, Any]) -> Any:
    return {f["name"]: f["value"] for f in answer["contact"]["fields"]}["Title"]


async def test_an_edit_on_one_replica_drops_the_others_answers(
    app: Any,
    client: httpx.AsyncClient,
    auth: Any,
    settings: Settings,
    sf_emulator: Any,
    workspace: Workspace,
) -> None:
    await put_settings(client, auth, editing_enabled=True)
    other = create_app(settings)
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as second:
            async with running_worker(settings, jobs=False, reconcile=False):
                await wait_for_state(app, "streaming")
                for http in (client, second):
                    assert (await lookup(http, auth, email=ANA)).status_code == 200
                contact_id = (await lookup(client, auth, email=ANA)).json()["contact"]["id"]
                listener = other.state.services.stream_listener
                seen = listener.changes
                edited = await client.patch(
                    f"/v1/workspaces/ws-1/salesforce/contacts/{contact_id}",
                    json={"fields": {"Title": "Edited on the first"}},
                    headers=auth("ws-1", "agent"),
                )
                assert edited.status_code == 200, edited.text

                async def told() -> bool:
                    return listener.changes > seen

                await wait_until(told)
                mine = (await lookup(client, auth, email=ANA)).json()
                assert mine["cached"] is True and title(mine) == "Edited on the first"
                theirs = (await lookup(second, auth, email=ANA)).json()
                assert theirs["cached"] is False and title(theirs) == "Edited on the first"
                # And an edit there starts from what Salesforce holds: no false conflict.
                again = await second.patch(
                    f"/v1/workspaces/ws-1/salesforce/contacts/{contact_id}",
                    json={"fields": {"Title": "Edited on the second"}},
                    headers=auth("ws-1", "agent"),
                )
                assert again.status_code == 200, again.text


async def test_each_kind_of_change_reaches_the_other_process_and_not_the_sender(
    settings: Settings,
) -> None:
    """The four changes, between two processes' caches on the real database: the other one
    drops what is concerned; the sender keeps its own result and skips its own message."""
    db = Database(settings.async_database_url)
    dsn = settings.async_database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    health = StreamHealth(settings)
    local, theirs = (MemoryLookupCache(ttl_seconds=60, max_entries=100) for _ in range(2))
    me = StreamListener(dsn, db, local, health, sender="me")
    them = StreamListener(dsn, db, theirs, health, sender="them")
    mine = PeerNotifyingLookupCache(local, db, "me")
    await me.start()
    await them.start()
    try:
        found, miss = key(value="a@example.com"), key(value="b@example.com")
        for cache in (mine, theirs):
            await cache.set(found, entry("003A"))
            await cache.set(miss, entry(None))

        await mine.update_contact("ws-1", {"Id": "003A", "Title": "CFO"})
        await wait_until(lambda: reached(them, 1))
        assert await theirs.get(found) is None
        kept = await mine.get(found)
        assert kept is not None and kept.record is not None and kept.record["Title"] == "CFO"

        await mine.forget_identifiers("ws-1", frozenset({"b@example.com"}))
        await wait_until(lambda: reached(them, 2))
        assert await theirs.get(miss) is None

        await theirs.set(found, entry("003A"))
        await mine.invalidate_contact("ws-1", "003A")
        await wait_until(lambda: reached(them, 3))
        assert await theirs.get(found) is None

        await theirs.set(found, entry("003A"))
        await mine.purge_workspace("ws-1")
        await wait_until(lambda: reached(them, 4))
        assert await theirs.get(found) is None
        assert me.changes == 0  # its own four messages, skipped
    finally:
        await me.stop()
        await them.stop()
        await db.dispose()


async def reached(listener: StreamListener, count: int) -> bool:
    return listener.changes >= count
