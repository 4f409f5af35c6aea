"""One org's change stream, held by this worker until its lease is lost or released.

Per topic (`/data/ContactChangeEvent`, and `/data/LeadChangeEvent` when a workspace of the
org has Leads on) one `Subscribe` call: from the stored replay id (`CUSTOM`) or, the first
time, `LATEST`; 100 events requested, each processed batch topped up by its size on the same
request stream, so never more than 100 outstanding. Schemas are fetched once per id; an event
of another schema id than the one before it on the topic (`GetTopic`'s, for the first) means
the entity's fields changed: its batch tells the API processes to forget the org's describes.
A stream silent for CHANGE_STREAM_SILENCE_SECONDS (Salesforce sends keepalives every 270 s)
is dead and opened again. Faults:

- the access token refused (UNAUTHENTICATED): refreshed once, then resubscribed from the
  stored replay id;
- a replay id Salesforce no longer keeps: reconciliation run, answers dropped, then `LATEST`;
- the topic refused (NOT_FOUND: the entity is not selected; PERMISSION_DENIED: edition),
  the allocation used up, Pub/Sub unreachable: `unavailable` with the reason, tried again
  later; everything else works as without a stream;
- each org backs off on its own (1 s doubling to BACKOFF_MAX_SECONDS): one org's failures
  never hold another's stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from app.config import Settings
from app.db import Database
from app.models_stream import STREAMING, UNAVAILABLE
from app.salesforce.client import SalesforceClient
from app.salesforce.errors import HostNotAllowed, NotConnected, ReauthorizationRequired
from app.salesforce.pubsub.client import (
    MAX_REQUESTED,
    AllocationExceeded,
    PubSubAuth,
    PubSubAuthFailed,
    PubSubClient,
    PubSubError,
    ReplayIdInvalid,
    Subscription,
    TopicUnavailable,
)
from app.salesforce.pubsub.events import decode
from app.stream import batch
from app.stream.batch import CONTACT_TOPIC, LEAD_TOPIC, REPLAY_COLUMN, LeaseLost, StreamHooks
from app.workspace.tokens import TokenStore

logger = logging.getLogger("app.stream")

BACKOFF_MAX_SECONDS = 15.0
UNAVAILABLE_RETRY_SECONDS = 300.0
HEALTHY_PROBE_SECONDS = 1.0
_READ_BACK_FIELDS = "Id, FirstName, LastName, Email, Phone, MobilePhone, CreatedDate, CreatedById"


@dataclass(eq=False)
class StreamDeps:
    db: Database
    pubsub: PubSubClient
    tokens: TokenStore
    salesforce: SalesforceClient
    settings: Settings
    hooks: StreamHooks
    worker_id: str


class StreamEnded(Exception):
    pass


class OrgStream:
    def __init__(self, organization_id: str, deps: StreamDeps) -> None:
        self.organization_id = organization_id
        self.deps = deps
        self.failures = 0
        self.events = 0
        # Per topic, the schema id of the last event processed (at first, GetTopic's): kept
        # across resubscriptions, so a field added while the stream was reopened counts too.
        self.schema_ids: dict[str, str] = {}

    async def run(self) -> None:
        """Until cancelled or the lease is lost."""
        org = self.organization_id
        while True:
            wait = min(BACKOFF_MAX_SECONDS, 2.0 ** min(self.failures, 10) / 2)
            try:
                await self._subscribe()
                wait = 0.0
            except LeaseLost:
                logger.info("stream.lease_lost", extra={"organization_id": org})
                return
            except ReplayIdInvalid:
                logger.warning("stream.replay_id_expired", extra={"organization_id": org})
                await self._resync()
                continue
            except TopicUnavailable as exc:
                reason = (
                    "Contact is not selected for Change Data Capture"
                    if exc.status == "NOT_FOUND"
                    else f"Change Data Capture refused: {exc.message[:200]}"
                )
                await self._state(UNAVAILABLE, reason)
                wait = UNAVAILABLE_RETRY_SECONDS
            except AllocationExceeded:
                await self._state(UNAVAILABLE, "event delivery allocation used up")
                wait = UNAVAILABLE_RETRY_SECONDS
            except (NotConnected, ReauthorizationRequired) as exc:
                await self._state(UNAVAILABLE, f"no usable connection ({type(exc).__name__})")
                wait = UNAVAILABLE_RETRY_SECONDS
            except Exception as exc:  # noqa: BLE001 - PubSubError, a dead stream, the database...
                self.failures += 1
                logger.warning(
                    "stream.failed",
                    extra={
                        "organization_id": org,
                        "error": type(exc).__name__,
                        "detail": str(exc)[:200],
                    },
                )
                if self.failures >= 3:
                    wire = isinstance(exc, PubSubError | StreamEnded | TimeoutError | OSError)
                    reason = "Pub/Sub API unreachable" if wire else "stream failing"
                    with contextlib.suppress(Exception):  # the database may be what fails
                        await self._state(UNAVAILABLE, f"{reason} ({type(exc).__name__})")
            if wait:
                await asyncio.sleep(wait)

    # -- one subscription ----------------------------------------------------------------

    async def _subscribe(self) -> None:
        workspaces, leads = await self._workspaces()
        workspace_id, auth = await self._first_usable(workspaces)
        try:
            await self._open(auth, leads, workspace_id)
        except PubSubAuthFailed:
            auth = await self._auth(workspace_id, refresh=auth.access_token)
            await self._open(auth, leads, workspace_id)

    async def _open(self, auth: PubSubAuth, leads: bool, workspace_id: str) -> None:
        pubsub = self.deps.pubsub
        topics = [CONTACT_TOPIC]
        self._baseline(CONTACT_TOPIC, await pubsub.get_topic(auth, CONTACT_TOPIC))
        if leads:
            try:
                self._baseline(LEAD_TOPIC, await pubsub.get_topic(auth, LEAD_TOPIC))
                topics.append(LEAD_TOPIC)
            except TopicUnavailable:
                logger.warning(
                    "stream.lead_topic_unavailable", extra={"organization_id": auth.organization_id}
                )
        subscriptions: list[Subscription] = []
        try:
            async with asyncio.TaskGroup() as group:
                for topic in topics:
                    replay = await self._replay_id(topic)
                    subscription = pubsub.subscribe(auth)
                    subscriptions.append(subscription)
                    await subscription.start(topic, replay, MAX_REQUESTED)
                    group.create_task(self._consume(auth, topic, subscription, workspace_id))
        except BaseExceptionGroup as group_error:
            first = group_error.exceptions[0]
            raise first from None
        finally:
            for subscription in subscriptions:
                subscription.cancel()

    def _baseline(self, topic: str, info: Any) -> None:
        """The topic's schema id now, unless an event has told it already."""
        if topic not in self.schema_ids and info.schema_id:
            self.schema_ids[topic] = str(info.schema_id)

    async def _consume(
        self, auth: PubSubAuth, topic: str, subscription: Subscription, workspace_id: str
    ) -> None:
        settings = self.deps.settings
        healthy = False
        while True:
            timeout = settings.change_stream_silence_seconds if healthy else HEALTHY_PROBE_SECONDS
            try:
                response = await subscription.read(timeout)
            except TimeoutError:
                if healthy:
                    raise  # silent for too long: a dead stream
                response = False  # no refusal within the probe: the subscription stands
            if response is None:
                raise StreamEnded(topic)
            if not healthy:
                healthy = True
                self.failures = 0
                await self._state(STREAMING, None)
            if response is False:
                continue
            await self._batch(auth, topic, response, workspace_id)
            if response.events:
                await subscription.top_up(topic, len(response.events))

    async def _batch(self, auth: PubSubAuth, topic: str, response: Any, workspace_id: str) -> None:
        deps = self.deps
        if not response.events:
            if response.latest_replay_id:  # keepalive: remember where the topic is
                await batch.apply(
                    deps.db,
                    organization_id=self.organization_id,
                    worker_id=deps.worker_id,
                    topic=topic,
                    replay_id=bytes(response.latest_replay_id),
                    count=0,
                    effects=batch.Effects(),
                    read_back=[],
                    hooks=deps.hooks,
                    default_region=deps.settings.phone_default_region,
                )
            return
        decoded = []
        latest = self.schema_ids.get(topic)
        schema_changed = False
        for consumer_event in response.events:
            event = consumer_event.event
            if latest and event.schema_id != latest:
                schema_changed = True  # the entity's fields changed (one was added, say)
            latest = str(event.schema_id)
            schema = await deps.pubsub.schema(auth, event.schema_id)
            try:
                decoded.append(decode(schema, bytes(event.payload)))
            except ValueError:
                logger.warning(
                    "stream.event_undecodable", extra={"organization_id": self.organization_id}
                )
        effects = batch.plan(
            decoded, deps.settings.salesforce_client_name, deps.settings.phone_default_region
        )
        effects.describes = schema_changed
        read_back: list[dict[str, Any]] = []
        if effects.read_back_ids:
            read_back = await self._read_back(workspace_id, effects.read_back_ids)
        await batch.apply(
            deps.db,
            organization_id=self.organization_id,
            worker_id=deps.worker_id,
            topic=topic,
            replay_id=bytes(response.events[-1].replay_id),
            count=len(response.events),
            effects=effects,
            read_back=read_back,
            hooks=deps.hooks,
            default_region=deps.settings.phone_default_region,
        )
        if schema_changed:
            logger.info(
                "stream.schema_changed",
                extra={"organization_id": self.organization_id, "topic": topic},
            )
        if latest:
            self.schema_ids[topic] = latest  # only once the batch (and its NOTIFY) committed
        self.events += len(response.events)

    async def _read_back(self, workspace_id: str, ids: list[str]) -> list[dict[str, Any]]:
        clean = sorted({i for i in ids if i.isalnum() and len(i) in (15, 18)})
        out: list[dict[str, Any]] = []
        for start in range(0, len(clean), 200):
            chunk = ", ".join(f"'{i}'" for i in clean[start : start + 200])
            soql = f"SELECT {_READ_BACK_FIELDS} FROM Contact WHERE Id IN ({chunk})"  # noqa: S608
            out += await self.deps.salesforce.query(workspace_id, soql, purpose="autocreate")
        return out

    # -- state ---------------------------------------------------------------------------

    async def _first_usable(self, workspaces: list[str]) -> tuple[str, PubSubAuth]:
        """The first workspace of the org whose credentials can be used, and them: one
        workspace's dead grant does not keep the org from streaming."""
        failure: Exception = NotConnected()
        for workspace_id in workspaces:
            try:
                return workspace_id, await self._auth(workspace_id, refresh=None)
            except (NotConnected, ReauthorizationRequired, HostNotAllowed) as exc:
                failure = exc
        raise failure

    async def _workspaces(self) -> tuple[list[str], bool]:
        """The org's connected workspaces, oldest connection first (the stream uses the first
        usable grant); whether Leads are on for any of them."""
        async with self.deps.db.transaction() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT c.workspace_id, coalesce(s.leads_enabled, false) "
                        "FROM salesforce_connections c LEFT JOIN workspace_settings s "
                        "ON s.workspace_id = c.workspace_id WHERE c.organization_id = :org "
                        "AND c.status = 'connected' ORDER BY c.connected_at, c.workspace_id"
                    ),
                    {"org": self.organization_id},
                )
            ).all()
        if not rows:
            raise NotConnected()
        return [str(r[0]) for r in rows], any(bool(r[1]) for r in rows)

    async def _auth(self, workspace_id: str, *, refresh: str | None) -> PubSubAuth:
        tokens = self.deps.tokens
        if refresh is not None:
            credentials = await tokens.refresh(workspace_id, refresh)
        else:
            credentials = await tokens.credentials(workspace_id)
        return PubSubAuth(
            credentials.access_token, credentials.instance_url, credentials.organization_id
        )

    async def _replay_id(self, topic: str) -> bytes | None:
        column = REPLAY_COLUMN[topic]
        async with self.deps.db.transaction() as session:
            value = (
                await session.execute(
                    text(f"SELECT {column} FROM change_streams WHERE organization_id = :org"),  # noqa: S608
                    {"org": self.organization_id},
                )
            ).scalar()
        return bytes(value) if value else None

    async def _resync(self) -> None:
        """The stored replay ids are gone at Salesforce: reconcile, drop every answer, and
        start again from the newest event."""
        async with self.deps.db.transaction() as session:
            cleared = await session.execute(
                text(
                    "UPDATE change_streams SET contact_replay_id = NULL, lead_replay_id = NULL "
                    "WHERE organization_id = :org AND owner = :me AND lease_until > now() "
                    "RETURNING organization_id"
                ),
                {"org": self.organization_id, "me": self.deps.worker_id},
            )
            if cleared.first() is None:
                raise LeaseLost(self.organization_id)
            await self.deps.hooks.resync(session, self.organization_id)
            await batch.notify(session, self.organization_id, purge=True)

    async def _state(self, state: str, reason: str | None) -> None:
        async with self.deps.db.transaction() as session:
            changed = await session.execute(
                text(
                    "UPDATE change_streams SET state = :state, reason = :reason, "
                    "healthy_since = CASE WHEN :state = 'streaming' THEN "
                    "coalesce(healthy_since, now()) ELSE NULL END, updated_at = now() "
                    "WHERE organization_id = :org AND owner = :me "
                    "AND (state IS DISTINCT FROM :state OR reason IS DISTINCT FROM :reason) "
                    "RETURNING organization_id"
                ),
                {
                    "state": state,
                    "reason": reason,
                    "org": self.organization_id,
                    "me": self.deps.worker_id,
                },
            )
            if changed.first() is not None:
                await batch.notify(session, self.organization_id, health=True)
                logger.info(
                    "stream.state",
                    extra={
                        "organization_id": self.organization_id,
                        "state": state,
                        "reason": reason,
                    },
                )
