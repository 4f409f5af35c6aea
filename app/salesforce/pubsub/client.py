"""The Pub/Sub API client: one gRPC channel per process (TLS to Salesforce's hosts; plaintext
only to a host:port listed in SALESFORCE_EXTRA_ALLOWED_HOSTS, the emulator), `GetTopic`,
`GetSchema` (parsed schemas cached by id), and `Subscribe` streams whose request side stays
open for top-ups. Every unary call has a deadline; a stream read is bounded by its caller.

gRPC failures become typed errors from the status code and the `error-code` trailer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import grpc

from app.config import Settings, checked_host
from app.salesforce.errors import HostNotAllowed
from app.salesforce.hosts import SALESFORCE_DOMAINS
from app.salesforce.pubsub import events
from app.salesforce.pubsub import pubsub_api_pb2 as pb
from app.salesforce.pubsub import pubsub_api_pb2_grpc as pb_grpc

MAX_REQUESTED = 100
WRITE_TIMEOUT_SECONDS = 10.0
REPLAY_CORRUPTED = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"


@dataclass(frozen=True, slots=True)
class PubSubAuth:
    access_token: str
    instance_url: str
    organization_id: str

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (
            ("accesstoken", self.access_token),
            ("instanceurl", self.instance_url),
            ("tenantid", self.organization_id),
        )

    def __repr__(self) -> str:  # never print the token
        return f"PubSubAuth(organization_id={self.organization_id!r})"


class PubSubError(Exception):
    """A failed Pub/Sub call: gRPC status name, Salesforce's `error-code` trailer."""

    def __init__(self, status: str, error_code: str, message: str) -> None:
        super().__init__(f"{status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message


class TopicUnavailable(PubSubError):
    """NOT_FOUND (the entity is not selected for Change Data Capture) or PERMISSION_DENIED
    (edition, permissions)."""


class ReplayIdInvalid(PubSubError):
    """The stored replay id is no longer kept (72 hours) or is not valid."""


class PubSubAuthFailed(PubSubError):
    """UNAUTHENTICATED: the access token is expired or revoked."""


class AllocationExceeded(PubSubError):
    """The org's event delivery allocation is used up."""


def error_of(exc: grpc.aio.AioRpcError) -> PubSubError:
    trailers = {k: v for k, v in (exc.trailing_metadata() or ())}
    error_code = str(trailers.get("error-code") or "")
    code = exc.code()
    status = code.name if code is not None else "UNKNOWN"
    message = (exc.details() or "")[:300]
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return PubSubAuthFailed(status, error_code, message)
    if code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED):
        return TopicUnavailable(status, error_code, message)
    if error_code == REPLAY_CORRUPTED:
        return ReplayIdInvalid(status, error_code, message)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED or "limit.exceeded" in error_code:
        return AllocationExceeded(status, error_code, message)
    return PubSubError(status, error_code, message)


def channel_for(address: str, settings: Settings) -> grpc.aio.Channel:
    """TLS for Salesforce's hosts, plaintext for an allowed extra host; else HostNotAllowed."""
    try:
        netloc = checked_host(address, allow_port=True)
    except ValueError as exc:
        raise HostNotAllowed("the Pub/Sub address is not a host:port") from exc
    options = [("grpc.keepalive_time_ms", 60_000), ("grpc.max_receive_message_length", 16 << 20)]
    if netloc in settings.extra_allowed_hosts:
        return grpc.aio.insecure_channel(netloc, options=options)
    if netloc.partition(":")[0].endswith(SALESFORCE_DOMAINS):
        return grpc.aio.secure_channel(netloc, grpc.ssl_channel_credentials(), options=options)
    raise HostNotAllowed(f"refusing to send credentials to {netloc}")


class Subscription:
    """One `Subscribe` stream: `start`, then `read` responses and `top_up` on the same call."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self.requested = 0  # outstanding, as last told by the server or asked since
        # A read outlives a read timeout: cancelling `call.read()` would cancel the call.
        self._next: asyncio.Future[Any] | None = None

    async def start(self, topic: str, replay_id: bytes | None, num_requested: int) -> None:
        request = pb.FetchRequest(
            topic_name=topic,
            replay_preset=pb.CUSTOM if replay_id else pb.LATEST,
            replay_id=replay_id or b"",
            num_requested=num_requested,
        )
        await self._write(request)
        self.requested = num_requested

    async def top_up(self, topic: str, num_requested: int) -> None:
        await self._write(pb.FetchRequest(topic_name=topic, num_requested=num_requested))
        self.requested += num_requested

    async def read(self, timeout: float) -> Any | None:
        """The next FetchResponse; None when the server ended the stream cleanly;
        TimeoutError when nothing came within `timeout` (a dead stream)."""
        if self._next is None:
            self._next = asyncio.ensure_future(self._call.read())
        done, _ = await asyncio.wait({self._next}, timeout=timeout)
        if not done:
            raise TimeoutError
        pending, self._next = self._next, None
        try:
            response = pending.result()
        except grpc.aio.AioRpcError as exc:
            raise error_of(exc) from None
        if response is grpc.aio.EOF:
            return None
        self.requested = response.pending_num_requested
        return response

    async def _write(self, request: Any) -> None:
        """TimeoutError when the request cannot be sent within WRITE_TIMEOUT_SECONDS (the
        call is then cancelled: the caller opens a new one)."""
        try:
            await asyncio.wait_for(self._call.write(request), WRITE_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            raise error_of(exc) from None

    def cancel(self) -> None:
        self._call.cancel()
        if self._next is not None:
            self._next.cancel()


class PubSubClient:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._channel: grpc.aio.Channel | None = None
        self._stub: Any = None
        self._schemas: dict[str, events.Schema] = {}
        self.timeout = settings.salesforce_timeout_seconds

    def _pubsub(self) -> Any:
        if self._stub is None:
            self._channel = channel_for(self._settings.salesforce_pubsub_address, self._settings)
            self._stub = pb_grpc.PubSubStub(self._channel)
        return self._stub

    async def get_topic(self, auth: PubSubAuth, topic: str) -> Any:
        try:
            return await self._pubsub().GetTopic(
                pb.TopicRequest(topic_name=topic), metadata=auth.metadata(), timeout=self.timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise error_of(exc) from None

    async def schema(self, auth: PubSubAuth, schema_id: str) -> events.Schema:
        """The parsed schema, fetched once per id (an id never changes its schema)."""
        cached = self._schemas.get(schema_id)
        if cached is not None:
            return cached
        try:
            info = await self._pubsub().GetSchema(
                pb.SchemaRequest(schema_id=schema_id),
                metadata=auth.metadata(),
                timeout=self.timeout,
            )
        except grpc.aio.AioRpcError as exc:
            raise error_of(exc) from None
        parsed = events.parse(schema_id, info.schema_json)
        self._schemas[schema_id] = parsed
        return parsed

    def subscribe(self, auth: PubSubAuth) -> Subscription:
        return Subscription(self._pubsub().Subscribe(metadata=auth.metadata()))

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel, self._stub = None, None
