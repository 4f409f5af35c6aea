"""The emulator's Pub/Sub API over real gRPC: metadata auth, topics and schemas, change events
for writes through REST and the admin API (bitmaps, changeOrigin, undelete), flow control,
keepalives, replay (CUSTOM, EARLIEST, expired ids) and the per-org switches."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import httpx
import pytest
from fastavro import parse_schema, schemaless_reader

from app.salesforce.pubsub import pubsub_api_pb2 as pb
from app.salesforce.pubsub import pubsub_api_pb2_grpc as pb_grpc
from emulator.salesforce import SalesforceEmulator
from emulator.salesforce.pubsub_server import RunningPubSub, start_pubsub_server

from .helpers import ACME, ANA, V, bearer

CONTACTS = "/data/ContactChangeEvent"
CORRUPTED = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"


@pytest.fixture
def pubsub(emu: SalesforceEmulator) -> Iterator[RunningPubSub]:
    running = start_pubsub_server(emu)
    yield running
    running.stop()


@pytest.fixture
async def aclient(emu: SalesforceEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emu.base_url or "", timeout=10) as http:
        yield http


@pytest.fixture
async def stub(pubsub: RunningPubSub) -> AsyncIterator[Any]:
    async with grpc.aio.insecure_channel(pubsub.address) as channel:
        yield pb_grpc.PubSubStub(channel)


def meta(token: dict[str, Any], tenant: str = ACME) -> tuple[tuple[str, str], ...]:
    return (
        ("accesstoken", token["access_token"]),
        ("instanceurl", token["instance_url"]),
        ("tenantid", tenant),
    )


class Stream:
    """A Subscribe call with its request side open for top-ups."""

    def __init__(self, stub: Any, metadata: Any) -> None:
        self.call = stub.Subscribe(metadata=metadata)
        self._next: asyncio.Task[Any] | None = None

    async def send(self, **fields: Any) -> None:
        await self.call.write(pb.FetchRequest(**fields))

    async def read(self, timeout: float = 20.0) -> Any:
        """The next response; a timeout leaves the read pending (cancelling it would cancel
        the call)."""
        if self._next is None:
            self._next = asyncio.ensure_future(self.call.read())
        done, _ = await asyncio.wait({self._next}, timeout=timeout)
        if not done:
            raise TimeoutError
        task, self._next = self._next, None
        return task.result()


async def subscribe_latest(
    stub: Any, token: dict[str, Any], pubsub: RunningPubSub, num_requested: int
) -> Stream:
    """A LATEST subscription that is live: like Salesforce, the emulator starts a LATEST stream
    at the newest event when it takes the first request, so an event published before then is
    (rightly) never delivered. Waiting for the server to count the call keeps tests from racing
    it."""
    before = pubsub.servicer.subscribes
    stream = Stream(stub, meta(token))
    await stream.send(topic_name=CONTACTS, replay_preset=pb.LATEST, num_requested=num_requested)
    for _ in range(2000):
        if pubsub.servicer.subscribes > before:
            return stream
        await asyncio.sleep(0.01)
    raise TimeoutError("the emulator never took the Subscribe call")


async def decode(stub: Any, token: dict[str, Any], event: Any) -> dict[str, Any]:
    info = await stub.GetSchema(pb.SchemaRequest(schema_id=event.schema_id), metadata=meta(token))
    schema = parse_schema(json.loads(info.schema_json))
    return schemaless_reader(io.BytesIO(event.payload), schema, None)  # type: ignore[return-value]


def trailer(exc: grpc.aio.AioRpcError, key: str) -> str:
    return dict(exc.trailing_metadata() or ()).get(key, "")


async def test_calls_without_a_valid_token_are_refused_with_salesforce_trailers(
    stub: Any, token: dict[str, Any]
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.GetTopic(pb.TopicRequest(topic_name=CONTACTS))
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert trailer(refused.value, "error-code").startswith("sfdc.platform.eventbus.grpc.")
    assert trailer(refused.value, "rpc-id")
    bad = (("accesstoken", "nope"), ("instanceurl", token["instance_url"]), ("tenantid", ACME))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.GetTopic(pb.TopicRequest(topic_name=CONTACTS), metadata=bad)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as other_tenant:
        await stub.GetTopic(
            pb.TopicRequest(topic_name=CONTACTS), metadata=meta(token, "00D8c000003VlcBEAS")
        )
    assert other_tenant.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_topic_and_schema_of_contact_change_events(stub: Any, token: dict[str, Any]) -> None:
    topic = await stub.GetTopic(pb.TopicRequest(topic_name=CONTACTS), metadata=meta(token))
    assert topic.can_subscribe and topic.schema_id
    info = await stub.GetSchema(pb.SchemaRequest(schema_id=topic.schema_id), metadata=meta(token))
    schema = json.loads(info.schema_json)
    assert schema["name"] == "ContactChangeEvent"
    assert schema["fields"][0]["name"] == "ChangeEventHeader"
    names = [f["name"] for f in schema["fields"]]
    assert "Name" in names and "Email" in names and "FirstName" not in names


async def test_writes_through_rest_and_admin_become_events_with_bitmaps_and_origin(
    stub: Any,
    token: dict[str, Any],
    aclient: httpx.AsyncClient,
    emu: SalesforceEmulator,
    pubsub: RunningPubSub,
) -> None:
    stream = await subscribe_latest(stub, token, pubsub, 10)
    created = await aclient.post(
        f"{V}/sobjects/Contact",
        json={"LastName": "Okafor", "FirstName": "Ada", "Email": "ada@example.com"},
        headers={**bearer(token), "Sforce-Call-Options": "client=respondio-sfint"},
    )
    assert created.status_code == 201, created.text
    new_id = created.json()["id"]
    first = await stream.read()
    assert len(first.events) == 1
    event = await decode(stub, token, first.events[0].event)
    header = event["ChangeEventHeader"]
    assert header["changeType"] == "CREATE" and header["recordIds"] == [new_id]
    assert header["changeOrigin"].endswith(";client=respondio-sfint")
    assert event["Email"] == "ada@example.com" and event["Name"]["FirstName"] == "Ada"

    patched = await aclient.patch(f"/__emulator/orgs/{ACME}/contacts/{ANA}", json={"Email": None})
    assert patched.status_code == 200, patched.text
    update = await decode(stub, token, (await stream.read()).events[0].event)
    header = update["ChangeEventHeader"]
    assert header["changeType"] == "UPDATE" and header["changeOrigin"] == ""
    schema_fields = [
        f["name"] for f in json.loads(emu.change_events.schemas["Contact"].json)["fields"]
    ]
    bitmap = int(header["changedFields"][0], 16)
    changed = {name for i, name in enumerate(schema_fields) if bitmap >> i & 1}
    assert "Email" in changed and "Phone" not in changed
    assert header["nulledFields"] == ["Email"]

    await aclient.patch(f"/__emulator/orgs/{ACME}/contacts/{ANA}", json={"FirstName": "Anabela"})
    renamed = await decode(stub, token, (await stream.read()).events[0].event)
    header = renamed["ChangeEventHeader"]
    position = schema_fields.index("Name")
    assert f"{position}-0x2" in header["changedFields"]  # FirstName: 2nd part of Name
    assert renamed["Name"]["FirstName"] == "Anabela"

    deleted = await aclient.delete(f"{V}/sobjects/Contact/{new_id}", headers=bearer(token))
    assert deleted.status_code == 204
    gone = await decode(stub, token, (await stream.read()).events[0].event)
    assert gone["ChangeEventHeader"]["changeType"] == "DELETE"
    stream.call.cancel()


async def test_a_record_restored_from_the_recycle_bin_comes_back_as_undelete_with_its_fields(
    stub: Any,
    token: dict[str, Any],
    aclient: httpx.AsyncClient,
    pubsub: RunningPubSub,
) -> None:
    stream = await subscribe_latest(stub, token, pubsub, 10)
    deleted = await aclient.delete(f"{V}/sobjects/Contact/{ANA}", headers=bearer(token))
    assert deleted.status_code == 204
    gone = await aclient.get(f"{V}/sobjects/Contact/{ANA}", headers=bearer(token))
    assert gone.status_code == 404 and gone.json()[0]["errorCode"] == "ENTITY_IS_DELETED"
    restored = await aclient.post(f"/__emulator/orgs/{ACME}/contacts/{ANA}/undelete")
    assert restored.status_code == 200, restored.text
    assert restored.json()["IsDeleted"] is False
    back = await aclient.get(f"{V}/sobjects/Contact/{ANA}", headers=bearer(token))
    assert back.status_code == 200 and back.json()["Email"] == "ana.souza@example.com"

    events: list[Any] = []
    while len(events) < 2:
        events += (await stream.read()).events
    delete, undelete = [await decode(stub, token, e.event) for e in events]
    assert delete["ChangeEventHeader"]["changeType"] == "DELETE"
    assert delete["Email"] is None  # a DELETE carries no field values
    header = undelete["ChangeEventHeader"]
    assert header["changeType"] == "UNDELETE" and header["recordIds"] == [ANA]
    # Like a CREATE, an UNDELETE carries the record's fields.
    assert undelete["Email"] == "ana.souza@example.com"
    assert undelete["Name"]["LastName"] == "Souza"
    stream.call.cancel()

    again = await aclient.post(f"/__emulator/orgs/{ACME}/contacts/{ANA}/undelete")
    assert again.status_code == 400  # not in the recycle bin
    assert "UNDELETE_FAILED" in again.text
    missing = await aclient.post(f"/__emulator/orgs/{ACME}/contacts/0035g0000009ZZZAAA/undelete")
    assert missing.status_code == 404


async def test_a_custom_field_added_gives_the_change_events_a_new_schema_from_then_on(
    stub: Any,
    token: dict[str, Any],
    aclient: httpx.AsyncClient,
    emu: SalesforceEmulator,
    pubsub: RunningPubSub,
) -> None:
    before = await stub.GetTopic(pb.TopicRequest(topic_name=CONTACTS), metadata=meta(token))
    describe = await aclient.get(f"{V}/sobjects/Contact/describe", headers=bearer(token))
    last_modified = describe.headers["last-modified"]
    stream = await subscribe_latest(stub, token, pubsub, 10)
    emu.update_contact(ACME, ANA, {"Title": "Before"})
    old = (await stream.read()).events[0].event
    assert old.schema_id == before.schema_id

    added = await aclient.post(
        f"/__emulator/orgs/{ACME}/custom-fields",
        json={"object": "Contact", "name": "Favourite_Colour__c", "type": "string"},
    )
    assert added.status_code == 201, added.text
    new_schema = added.json()["change_event_schema_id"]
    assert new_schema != before.schema_id
    topic = await stub.GetTopic(pb.TopicRequest(topic_name=CONTACTS), metadata=meta(token))
    assert topic.schema_id == new_schema
    # The describe shows it, with a Last-Modified that tells a cached copy it changed.
    fresh = await aclient.get(
        f"{V}/sobjects/Contact/describe",
        headers={**bearer(token), "If-Modified-Since": last_modified},
    )
    assert fresh.status_code == 200
    [field] = [f for f in fresh.json()["fields"] if f["name"] == "Favourite_Colour__c"]
    assert field["custom"] is True and field["type"] == "string" and field["updateable"]

    patched = await aclient.patch(
        f"{V}/sobjects/Contact/{ANA}", json={"Favourite_Colour__c": "Teal"}, headers=bearer(token)
    )
    assert patched.status_code == 204, patched.text
    event = (await stream.read()).events[0].event
    assert event.schema_id == new_schema
    update = await decode(stub, token, event)
    assert update["Favourite_Colour__c"] == "Teal"
    names = [
        f["name"] for f in json.loads(emu.change_events.by_schema_id[new_schema].json)["fields"]
    ]
    bitmap = int(update["ChangeEventHeader"]["changedFields"][0], 16)
    assert {n for i, n in enumerate(names) if bitmap >> i & 1} >= {"Favourite_Colour__c"}
    # An event published before the change keeps its schema, still served.
    assert (await decode(stub, token, old))["Title"] == "Before"
    stream.call.cancel()

    for wrong in (
        {"object": "Contact", "name": "Favourite_Colour__c", "type": "string"},  # exists
        {"object": "Contact", "name": "NoSuffix", "type": "string"},
        {"object": "Contact", "name": "Two__Parts__c", "type": "string"},
        {"object": "Contact", "name": "Shoe_Size__c", "type": "hologram"},
        {"object": "Widget", "name": "Shoe_Size__c", "type": "string"},
    ):
        refused = await aclient.post(f"/__emulator/orgs/{ACME}/custom-fields", json=wrong)
        assert refused.status_code == 400, wrong


async def test_events_flow_only_as_requested_and_top_ups_use_the_same_stream(
    stub: Any, token: dict[str, Any], emu: SalesforceEmulator, pubsub: RunningPubSub
) -> None:
    stream = await subscribe_latest(stub, token, pubsub, 2)
    for i in range(3):
        emu.add_contact(ACME, {"LastName": f"Flow{i}"})
    got = await stream.read()
    received = len(got.events)
    while received < 2:
        got = await stream.read()
        received += len(got.events)
    assert received == 2 and got.pending_num_requested == 0
    with pytest.raises(TimeoutError):
        await stream.read(timeout=0.5)  # nothing more until asked
    await stream.send(num_requested=1)
    third = await stream.read()
    assert len(third.events) == 1
    await stream.send(num_requested=101)
    with pytest.raises(grpc.aio.AioRpcError) as over:
        await stream.read()
    assert over.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_keepalives_carry_the_latest_replay_id(
    stub: Any, token: dict[str, Any], pubsub: RunningPubSub
) -> None:
    pubsub.servicer.keepalive_seconds = 0.2
    stream = Stream(stub, meta(token))
    await stream.send(topic_name=CONTACTS, replay_preset=pb.LATEST, num_requested=5)
    empty = await stream.read()
    assert len(empty.events) == 0 and len(empty.latest_replay_id) == 8
    stream.call.cancel()


async def test_custom_replay_resumes_after_the_id_and_expired_ids_are_refused(
    stub: Any,
    token: dict[str, Any],
    emu: SalesforceEmulator,
    aclient: httpx.AsyncClient,
    pubsub: RunningPubSub,
) -> None:
    stream = await subscribe_latest(stub, token, pubsub, 5)
    emu.add_contact(ACME, {"LastName": "One"})
    first = (await stream.read()).events[0]
    stream.call.cancel()
    emu.add_contact(ACME, {"LastName": "Two"})
    resumed = Stream(stub, meta(token))
    await resumed.send(
        topic_name=CONTACTS, replay_preset=pb.CUSTOM, replay_id=first.replay_id, num_requested=5
    )
    again = await resumed.read()
    event = await decode(stub, token, again.events[0].event)
    assert event["Name"]["LastName"] == "Two"
    resumed.call.cancel()

    expire = await aclient.post(f"/__emulator/orgs/{ACME}/change-data-capture/expire-replay-ids")
    assert expire.is_success
    expired = Stream(stub, meta(token))
    await expired.send(
        topic_name=CONTACTS, replay_preset=pb.CUSTOM, replay_id=first.replay_id, num_requested=5
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await expired.read()
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert trailer(refused.value, "error-code") == CORRUPTED


async def test_earliest_replays_every_event_still_kept_in_order(
    stub: Any, token: dict[str, Any], emu: SalesforceEmulator, aclient: httpx.AsyncClient
) -> None:
    for name in ("Early1", "Early2", "Early3"):
        emu.add_contact(ACME, {"LastName": name})
    kept = [e for e in emu.change_events.log(ACME).events if e.entity == "Contact"]
    assert 3 < len(kept) < 100  # the seed's Contacts too, all in one batch
    stream = Stream(stub, meta(token))
    await stream.send(topic_name=CONTACTS, replay_preset=pb.EARLIEST, num_requested=100)
    got: list[Any] = []
    while len(got) < len(kept):
        got += (await stream.read()).events
    assert [e.event.id for e in got] == [e.event_id for e in kept]  # oldest first
    replays = [bytes(e.replay_id) for e in got]
    assert replays == sorted(replays) and len(set(replays)) == len(replays)
    names = [(await decode(stub, token, e.event))["Name"]["LastName"] for e in got[-3:]]
    assert names == ["Early1", "Early2", "Early3"]
    stream.call.cancel()

    # Past the retention, EARLIEST starts at the oldest event still kept.
    expire = await aclient.post(f"/__emulator/orgs/{ACME}/change-data-capture/expire-replay-ids")
    assert expire.is_success
    emu.add_contact(ACME, {"LastName": "Kept"})
    again = Stream(stub, meta(token))
    await again.send(topic_name=CONTACTS, replay_preset=pb.EARLIEST, num_requested=100)
    [only] = (await again.read()).events  # a batch holds all there is: nothing older
    assert (await decode(stub, token, only.event))["Name"]["LastName"] == "Kept"
    again.call.cancel()


async def test_an_entity_not_selected_is_not_found_and_dropped_streams_end(
    stub: Any, token: dict[str, Any], aclient: httpx.AsyncClient, pubsub: RunningPubSub
) -> None:
    stream = await subscribe_latest(stub, token, pubsub, 5)
    drop = await aclient.post(f"/__emulator/orgs/{ACME}/change-data-capture/drop-streams")
    assert drop.is_success
    with pytest.raises(grpc.aio.AioRpcError) as dropped:
        await stream.read()
    assert dropped.value.code() == grpc.StatusCode.UNAVAILABLE

    put = await aclient.put(
        f"/__emulator/orgs/{ACME}/change-data-capture", json={"selected": ["Lead"]}
    )
    assert put.json()["selected"] == ["Lead"]
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetTopic(pb.TopicRequest(topic_name=CONTACTS), metadata=meta(token))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    refused = Stream(stub, meta(token))
    await refused.send(topic_name=CONTACTS, replay_preset=pb.LATEST, num_requested=5)
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await refused.read()
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    leads = await stub.GetTopic(
        pb.TopicRequest(topic_name="/data/LeadChangeEvent"), metadata=meta(token)
    )
    assert leads.can_subscribe
