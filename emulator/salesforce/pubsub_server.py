"""The emulator's Pub/Sub API: `eventbus.v1.PubSub` over gRPC (plaintext, loopback), serving
the org's change events (change_events.py) as Salesforce does.

- Auth: every call carries the metadata `accesstoken`, `instanceurl` and `tenantid` (the org
  id); a missing or dead token, or a tenant that is not the token's org, is UNAUTHENTICATED.
  An open stream outlives its token, as at Salesforce.
- `GetTopic` / `Subscribe` on a topic of an entity not selected for Change Data Capture is
  NOT_FOUND; an edition without Change Data Capture is PERMISSION_DENIED.
- `Subscribe`: the first FetchRequest names the topic and the replay (LATEST, EARLIEST, or
  CUSTOM after `replay_id`; an expired or malformed id is INVALID_ARGUMENT with error-code
  `sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted`). Events are sent only
  while requested: `num_requested` (1..100, at most 100 outstanding) is topped up by later
  FetchRequests on the same stream. While nothing is sent, an empty FetchResponse with
  `latest_replay_id` goes out every `keepalive_seconds`; a stream left at 0 requested for
  `topup_timeout_seconds` is closed.
- Errors carry the trailers `error-code` and `rpc-id`.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc

from app.salesforce.pubsub import pubsub_api_pb2 as pb
from app.salesforce.pubsub import pubsub_api_pb2_grpc as pb_grpc

from .change_events import entity_of, replay_bytes, replay_number
from .util import same_id

if TYPE_CHECKING:
    from .state import SalesforceEmulator

CDC_EDITIONS = ("Enterprise", "Performance", "Unlimited", "Developer")
MAX_REQUESTED = 100
REPLAY_CORRUPTED = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
AUTH_ERROR = "sfdc.platform.eventbus.grpc.service.auth.error"
TOPIC_NOT_FOUND = "sfdc.platform.eventbus.grpc.topic.notfound"
LIMIT_EXCEEDED = "sfdc.platform.eventbus.grpc.subscription.limit.exceeded"
FLOW_CONTROL = "sfdc.platform.eventbus.grpc.flow.control.error"
STREAM_ENDED = "sfdc.platform.eventbus.grpc.service.unavailable"


class PubSubServicer(pb_grpc.PubSubServicer):
    def __init__(self, state: SalesforceEmulator) -> None:
        self.state = state
        self.keepalive_seconds = 270.0
        self.topup_timeout_seconds = 60.0
        self.open_streams = 0
        self.subscribes = 0
        self.schema_requests: Counter[str] = Counter()  # GetSchema calls per schema id

    def __reduce__(self) -> Any:
        # Pickled with the emulator's state (persistence.py): a servicer without streams.
        return (PubSubServicer, (self.state,))

    # -- helpers ---------------------------------------------------------------------------

    async def _fail(
        self, context: grpc.aio.ServicerContext, code: grpc.StatusCode, error: str, detail: str
    ) -> None:
        rpc_id = str(uuid.uuid4())
        context.set_trailing_metadata((("error-code", error), ("rpc-id", rpc_id)))
        await context.abort(code, f"{detail} rpcId: {rpc_id}")

    async def _org(self, context: grpc.aio.ServicerContext) -> str:
        metadata = {k: v for k, v in (context.invocation_metadata() or ())}
        token = self.state.access_token(str(metadata.get("accesstoken") or ""))
        tenant = str(metadata.get("tenantid") or "")
        if (
            token is None
            or not metadata.get("instanceurl")
            or not tenant
            or not same_id(tenant, token.org_id)
        ):
            await self._fail(
                context, grpc.StatusCode.UNAUTHENTICATED, AUTH_ERROR, "authentication failed"
            )
        assert token is not None
        self.state.count("pubsub")
        org = self.state.org(token.org_id)
        if not any(edition in org.edition for edition in CDC_EDITIONS):
            await self._fail(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                "sfdc.platform.eventbus.grpc.service.permission.denied",
                f"Change Data Capture is not available in {org.edition}",
            )
        return org.id

    async def _entity(self, context: grpc.aio.ServicerContext, org_id: str, topic: str) -> str:
        entity = entity_of(topic)
        if entity is None or entity not in self.state.change_events.log(org_id).selected:
            await self._fail(
                context, grpc.StatusCode.NOT_FOUND, TOPIC_NOT_FOUND, f"topic not found: {topic}"
            )
        assert entity is not None
        return entity

    # -- the RPCs --------------------------------------------------------------------------

    async def GetTopic(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        org_id = await self._org(context)
        entity = await self._entity(context, org_id, request.topic_name)
        schema = self.state.change_events.schema_for(org_id, entity)
        return pb.TopicInfo(
            topic_name=request.topic_name,
            tenant_guid=org_id,
            can_publish=False,
            can_subscribe=True,
            schema_id=schema.id,
            rpc_id=str(uuid.uuid4()),
        )

    async def GetSchema(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self._org(context)
        self.schema_requests[request.schema_id] += 1
        schema = self.state.change_events.by_schema_id.get(request.schema_id)
        if schema is None:
            await self._fail(
                context,
                grpc.StatusCode.NOT_FOUND,
                "sfdc.platform.eventbus.grpc.schema.notfound",
                "schema not found",
            )
        assert schema is not None
        return pb.SchemaInfo(schema_json=schema.json, schema_id=schema.id, rpc_id=str(uuid.uuid4()))

    async def Subscribe(
        self, request_iterator: AsyncIterator[Any], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        org_id = await self._org(context)
        events = self.state.change_events
        first = await anext(request_iterator, None)
        if first is None:
            return
        entity = await self._entity(context, org_id, first.topic_name)
        log = events.log(org_id)
        if first.replay_preset == pb.CUSTOM:
            number = replay_number(first.replay_id)
            if number is None or number < log.expired_below - 1 or number > log.last_number:
                await self._fail(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    REPLAY_CORRUPTED,
                    "The Replay ID validation failed.",
                )
            assert number is not None
            cursor = number
        elif first.replay_preset == pb.EARLIEST:
            cursor = max(0, log.expired_below - 1)
        else:
            cursor = log.last_number
        pending = 0
        problem: list[str] = []
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()

        def notify() -> None:
            loop.call_soon_threadsafe(wake.set)

        def add(request: Any) -> None:
            nonlocal pending
            if request.num_requested <= 0 or pending + request.num_requested > MAX_REQUESTED:
                problem.append(f"num_requested {request.num_requested} with {pending} pending")
            pending += request.num_requested
            wake.set()

        async def read_top_ups() -> None:
            async for request in request_iterator:
                add(request)
            problem.append("")  # the client closed its side
            wake.set()

        add(first)
        drops = log.drops
        log.listeners.add(notify)
        reader = asyncio.create_task(read_top_ups())
        self.open_streams += 1
        self.subscribes += 1
        loop_time = loop.time
        last_sent = loop_time()
        starved_since: float | None = None
        try:
            while True:
                if problem:
                    if problem[0]:
                        await self._fail(
                            context, grpc.StatusCode.INVALID_ARGUMENT, FLOW_CONTROL, problem[0]
                        )
                    return
                if log.drops != drops:
                    await self._fail(
                        context, grpc.StatusCode.UNAVAILABLE, STREAM_ENDED, "stream dropped"
                    )
                batch = events.after(org_id, entity, cursor, pending) if pending else []
                if batch:
                    if (
                        log.delivery_allocation is not None
                        and log.delivered + len(batch) > log.delivery_allocation
                    ):
                        await self._fail(
                            context,
                            grpc.StatusCode.RESOURCE_EXHAUSTED,
                            LIMIT_EXCEEDED,
                            "event delivery allocation exceeded",
                        )
                    log.delivered += len(batch)
                    cursor = batch[-1].number
                    pending -= len(batch)
                    self.state.count("pubsub_events", len(batch))
                    yield pb.FetchResponse(
                        events=[
                            pb.ConsumerEvent(
                                event=pb.ProducerEvent(
                                    id=e.event_id, schema_id=e.schema_id, payload=e.payload
                                ),
                                replay_id=replay_bytes(e.number),
                            )
                            for e in batch
                        ],
                        latest_replay_id=replay_bytes(cursor),
                        rpc_id=str(uuid.uuid4()),
                        pending_num_requested=pending,
                    )
                    last_sent = loop_time()
                    continue
                now = loop_time()
                if pending == 0:
                    starved_since = starved_since if starved_since is not None else now
                    if now - starved_since >= self.topup_timeout_seconds:
                        await self._fail(
                            context,
                            grpc.StatusCode.DEADLINE_EXCEEDED,
                            FLOW_CONTROL,
                            "no events requested in time",
                        )
                else:
                    starved_since = None
                if now - last_sent >= self.keepalive_seconds:
                    latest = cursor if events.after(org_id, entity, cursor, 1) else log.last_number
                    yield pb.FetchResponse(
                        latest_replay_id=replay_bytes(max(latest, cursor)),
                        rpc_id=str(uuid.uuid4()),
                        pending_num_requested=pending,
                    )
                    last_sent = loop_time()
                    continue
                wake.clear()
                wait = self.keepalive_seconds - (now - last_sent)
                if pending == 0:
                    wait = min(wait, self.topup_timeout_seconds)
                try:
                    await asyncio.wait_for(wake.wait(), max(0.01, min(wait, 1.0)))
                except TimeoutError:
                    pass
        finally:
            self.open_streams -= 1
            log.listeners.discard(notify)
            reader.cancel()


@dataclass
class RunningPubSub:
    port: int
    servicer: PubSubServicer
    loop: asyncio.AbstractEventLoop
    server: Any
    thread: threading.Thread

    host: str = "127.0.0.1"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        future = asyncio.run_coroutine_threadsafe(self.server.stop(0), self.loop)
        try:
            future.result(5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


def start_pubsub_server(
    state: SalesforceEmulator, host: str = "127.0.0.1", port: int = 0
) -> RunningPubSub:
    """Serve the Pub/Sub API for `state` on its own thread and event loop (port 0 = any)."""
    loop = asyncio.new_event_loop()
    servicer = PubSubServicer(state)
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def serve() -> None:
        server = grpc.aio.server()
        pb_grpc.add_PubSubServicer_to_server(servicer, server)
        holder["port"] = server.add_insecure_port(f"{host}:{port}")
        holder["server"] = server
        await server.start()
        started.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.create_task(serve())
        loop.run_forever()

    thread = threading.Thread(target=run, name="pubsub-emulator", daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("the Pub/Sub emulator did not start")
    state.pubsub = servicer
    return RunningPubSub(holder["port"], servicer, loop, holder["server"], thread, host)
