"""A field added to Contact in Salesforce while the org streams: its change events get a new
schema id mid-stream, which the worker fetches once and decodes with; and since the object's
fields changed, every API process forgets the org's describes, so the new field is offered
on the next request rather than when the describe's hour is up."""

from __future__ import annotations

from typing import Any

import httpx

from app.config import Settings
from tests.helpers.autocreate import ACME, Workspace, running_worker, wait_until
from tests.helpers.lookups import lookup
from tests.stream.helpers import wait_for_state

ANA = {"email": "ana.souza@example.com"}
FIELD = "Favourite_Colour__c"
FIELDS_URL = "/v1/workspaces/ws-1/salesforce/fields"


async def add_field(sf_emulator: Any) -> str:
    """An admin adds FIELD to Contact in Setup; the change events' new schema id."""
    async with httpx.AsyncClient(base_url=sf_emulator.base_url) as admin:
        added = await admin.post(
            f"/__emulator/orgs/{ACME}/custom-fields",
            json={"object": "Contact", "name": FIELD, "type": "string"},
        )
    assert added.status_code == 201, added.text
    return str(added.json()["change_event_schema_id"])


async def test_events_with_a_new_schema_are_decoded_and_the_schema_fetched_once(
    app: Any,
    client: httpx.AsyncClient,
    auth: Any,
    settings: Settings,
    sf_emulator: Any,
    workspace: Workspace,
) -> None:
    listener = app.state.services.stream_listener
    async with running_worker(settings, jobs=False, reconcile=False):
        await wait_for_state(app, "streaming")
        ana = (await lookup(client, auth, **ANA)).json()["contact"]["id"]
        assert (await lookup(client, auth, **ANA)).json()["cached"] is True
        schema_id = await add_field(sf_emulator)

        sf_emulator.update_contact(ACME, ana, {FIELD: "Teal"})  # only the new field changes
        await wait_until(lambda: _changes(listener, 1))
        assert (await lookup(client, auth, **ANA)).json()["cached"] is False
        sf_emulator.update_contact(ACME, ana, {"Title": "Painter"})
        await wait_until(lambda: _changes(listener, 2))
        assert (await lookup(client, auth, **ANA)).json()["cached"] is False
    assert sf_emulator.pubsub.schema_requests[schema_id] == 1  # cached by id


async def test_a_field_added_in_salesforce_is_offered_once_an_event_shows_the_new_schema(
    app: Any,
    client: httpx.AsyncClient,
    auth: Any,
    settings: Settings,
    sf_emulator: Any,
    workspace: Workspace,
) -> None:
    listener = app.state.services.stream_listener
    headers = auth("ws-1", "owner")
    async with running_worker(settings, jobs=False, reconcile=False):
        await wait_for_state(app, "streaming")
        ana = (await lookup(client, auth, **ANA)).json()["contact"]["id"]
        assert FIELD not in await _field_names(client, headers)
        await add_field(sf_emulator)
        # The describe is trusted for its TTL (an hour while streaming): not there yet.
        assert FIELD not in await _field_names(client, headers)

        sf_emulator.update_contact(ACME, ana, {"Title": "Any change"})
        await wait_until(lambda: _changes(listener, 1))
        assert FIELD in await _field_names(client, headers)


async def _field_names(client: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    answer = await client.get(FIELDS_URL, headers=headers)
    assert answer.status_code == 200, answer.text
    return {f["name"] for f in answer.json()}


async def _changes(listener: Any, count: int) -> bool:
    return bool(listener.changes >= count)
