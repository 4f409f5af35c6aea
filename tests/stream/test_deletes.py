"""A Contact deleted in Salesforce stops being found at once, and one restored from the
recycle bin is found again at once, though the org's answers live an hour while it streams:
the DELETE event drops the answer that matched it, the UNDELETE event the "no match" cached
since. The UNDELETE carries the record's fields (as Salesforce's do), so it drops only the
answers of its identifiers: the workspace's other answers stay cached."""

from __future__ import annotations

from typing import Any

import httpx

from app.config import Settings
from tests.helpers.autocreate import ACME, Workspace, running_worker, wait_until
from tests.helpers.lookups import lookup
from tests.stream.helpers import wait_for_state

ANA = {"email": "ana.souza@example.com"}
OTHER = {"email": "someone.else@example.com"}


async def test_a_deleted_contact_is_no_longer_found_and_an_undeleted_one_is_found_again(
    app: Any,
    client: httpx.AsyncClient,
    auth: Any,
    settings: Settings,
    sf_emulator: Any,
    workspace: Workspace,
) -> None:
    listener = app.state.services.stream_listener
    admin = f"{sf_emulator.base_url}/__emulator/orgs/{ACME}/contacts"
    async with running_worker(settings, jobs=False, reconcile=False), httpx.AsyncClient() as sf:
        await wait_for_state(app, "streaming")
        found = (await lookup(client, auth, **ANA)).json()
        assert found["matched"] is True
        ana = found["contact"]["id"]
        assert (await lookup(client, auth, **ANA)).json()["cached"] is True

        deleted = await sf.delete(f"{admin}/{ana}")  # a user deletes it in Salesforce
        assert deleted.status_code == 204, deleted.text
        await wait_until(lambda: _changes(listener, 1))
        gone = (await lookup(client, auth, **ANA)).json()
        assert gone["cached"] is False and gone["matched"] is False
        assert (await lookup(client, auth, **ANA)).json()["cached"] is True  # the miss
        assert (await lookup(client, auth, **OTHER)).status_code == 200

        restored = await sf.post(f"{admin}/{ana}/undelete")  # ... and restores it
        assert restored.status_code == 200, restored.text
        await wait_until(lambda: _changes(listener, 2))
        back = (await lookup(client, auth, **ANA)).json()
        other = (await lookup(client, auth, **OTHER)).json()
    assert back["cached"] is False and back["matched"] is True
    assert back["contact"]["id"] == ana
    assert other["cached"] is True  # not this record's: kept


async def _changes(listener: Any, count: int) -> bool:
    return bool(listener.changes >= count)
