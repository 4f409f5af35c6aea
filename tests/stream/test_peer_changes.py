"""Replicas without Redis (no CACHE_URL), each with its own cache: a change one of them makes
through the service (an edit, a revert, a record created) reaches the others through
PostgreSQL at once. The change stream skips the service's own writes (`changeOrigin`), and a
streaming org's answers live an hour, so without this another replica would show the old
value for up to that hour, and an edit there would start from it."""

from __future__ import annotations

from typing import Any

import httpx

from app.config import Settings
from app.main import create_app
from tests.helpers.autocreate import Workspace, running_worker, wait_until
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
