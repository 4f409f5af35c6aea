"""In-memory state of the respond.io emulator.

Every API token is its own workspace: contacts created with one token are invisible to
another. All public methods take a ``threading.Lock`` because tests poke the state from the
thread that runs the test while the server answers requests in another.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from emulator.respondio.conversations import ConversationStore

CONTACT_FIELDS = (
    "firstName",
    "lastName",
    "email",
    "phone",
    "language",
    "profilePic",
    "countryCode",
)
MAX_TAGS_PER_CALL = 10
MAX_TAG_LENGTH = 255


class ApiError(Exception):
    """An error answer of the emulated API: status, JSON message and extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Identifier:
    kind: str  # "id" | "email" | "phone"
    value: str

    @classmethod
    def parse(cls, raw: str) -> Identifier:
        kind, sep, value = raw.partition(":")
        value = value.strip()
        if not sep or not value:
            raise ApiError(400, f"Invalid identifier '{raw}': use id:, email: or phone:")
        if kind == "id":
            if not value.isdigit():
                raise ApiError(400, "Invalid identifier: id must be a number")
        elif kind == "email":
            local, at, domain = value.rpartition("@")
            if not at or not local or "." not in domain:
                raise ApiError(400, "Invalid identifier: not an email address")
        elif kind == "phone":
            digits = value[1:]
            if not value.startswith("+") or not digits.isdigit() or not 7 <= len(digits) <= 15:
                raise ApiError(400, "Invalid identifier: phone must be E.164 with a leading +")
        else:
            raise ApiError(400, f"Invalid identifier type '{kind}': use id, email or phone")
        return cls(kind, value)


@dataclass
class _Bucket:
    """Token bucket: ``rate`` requests a second, bursts up to ``max(rate, 1)``."""

    tokens: float
    updated: float


@dataclass
class RecordedRequest:
    at: float  # time.monotonic() when the request arrived
    token: str
    method: str
    path: str
    status: int = 0
    traceparent: str | None = None  # the W3C trace context the caller sent, if any


_INDEXED = ("email", "phone")


def _index_key(kind: str, value: str) -> tuple[str, str]:
    return (kind, value.lower() if kind == "email" else value)


@dataclass
class _Workspace:
    """A token's contacts by id, and the ids of the contacts holding each email (lowercased)
    and phone, so every identifier lookup is a dictionary lookup however many there are."""

    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    by_identifier: dict[tuple[str, str], set[int]] = field(default_factory=dict)

    def find(self, ident: Identifier) -> dict[str, Any] | None:
        if ident.kind == "id":
            return self.contacts.get(int(ident.value))
        ids = self.by_identifier.get(_index_key(ident.kind, ident.value))
        # Several contacts may share an email or phone (one created by phone, say, with
        # another's email in its body): the oldest one answers, as respond.io's would.
        return self.contacts[min(ids)] if ids else None

    def index(self, contact: dict[str, Any]) -> None:
        for kind in _INDEXED:
            value = contact.get(kind)
            if value:
                self.by_identifier.setdefault(_index_key(kind, value), set()).add(contact["id"])

    def unindex(self, contact: dict[str, Any]) -> None:
        for kind in _INDEXED:
            value = contact.get(kind)
            if not value:
                continue
            key = _index_key(kind, value)
            ids = self.by_identifier.get(key)
            if ids is not None:
                ids.discard(contact["id"])
                if not ids:
                    del self.by_identifier[key]


@dataclass
class _Failure:
    status: int
    retry_after: float | None


class RespondioEmulator:
    """State and switches of the emulator; pass it to :func:`create_app`."""

    def __init__(
        self,
        *,
        allowed_tokens: Iterable[str] | None = None,
        rate_limit_per_second: float | None = None,
        outage: bool = False,
        latency_ms: float = 0.0,
    ) -> None:
        self._lock = threading.Lock()
        self._initial = (rate_limit_per_second, outage, latency_ms)
        self.allowed_tokens: frozenset[str] | None = (
            frozenset(allowed_tokens) if allowed_tokens is not None else None
        )
        self.rate_limit_per_second = rate_limit_per_second
        self.outage = outage
        self.latency_ms = latency_ms
        self.counters: Counter[str] = Counter()
        self._workspaces: dict[str, _Workspace] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._failures: deque[_Failure] = deque()
        self._requests: list[RecordedRequest] = []
        self._next_id = 1_000_001
        self.conversations = ConversationStore()
        self._throttled_until = 0.0
        self._throttle_retry_after = 1.0

    def __setstate__(self, values: dict[str, Any]) -> None:
        """A state saved by an older emulator (emulator/persistence.py) gains what it lacks."""
        self.__dict__.update(values)
        self.__dict__.setdefault("conversations", ConversationStore())
        self.__dict__.setdefault("_throttled_until", 0.0)
        self.__dict__.setdefault("_throttle_retry_after", 1.0)

    # ----------------------------------------------------------------- switches

    def fail_next(self, n: int = 1, status: int = 503, retry_after: float | None = None) -> None:
        """Answer the next ``n`` authenticated API requests with ``status``."""
        if status not in (429, 500, 502, 503, 504):
            raise ValueError("fail_next supports 429, 500, 502, 503 and 504")
        with self._lock:
            for _ in range(n):
                self._failures.append(_Failure(status, retry_after))

    def throttle(self, seconds: float, retry_after: float = 1.0) -> None:
        """Answer every authenticated call 429 (with `Retry-After`) for `seconds` from now."""
        with self._lock:
            self._throttled_until = time.monotonic() + seconds
            self._throttle_retry_after = retry_after

    def configure(
        self,
        *,
        rate_limit_per_second: Any = ...,
        outage: Any = ...,
        latency_ms: Any = ...,
    ) -> dict[str, Any]:
        """Change any of the settings (``...`` leaves one as it is); return them all."""
        with self._lock:
            if rate_limit_per_second is not ...:
                self.rate_limit_per_second = rate_limit_per_second
                self._buckets.clear()
            if outage is not ...:
                self.outage = bool(outage)
            if latency_ms is not ...:
                self.latency_ms = float(latency_ms or 0.0)
            return self._settings()

    def settings(self) -> dict[str, Any]:
        with self._lock:
            return self._settings()

    def _settings(self) -> dict[str, Any]:
        return {
            "rate_limit_per_second": self.rate_limit_per_second,
            "outage": self.outage,
            "latency_ms": self.latency_ms,
        }

    def reset(self) -> None:
        """Forget contacts, counters, recorded requests and queued failures; restore settings."""
        with self._lock:
            self.counters.clear()
            self._workspaces.clear()
            self._buckets.clear()
            self._failures.clear()
            self._requests.clear()
            self._throttled_until = 0.0
            self.rate_limit_per_second, self.outage, self.latency_ms = self._initial
        self.conversations.reset()

    # --------------------------------------------------------------- inspection

    def contacts(self, token: str) -> list[dict[str, Any]]:
        """Copies of the contacts of the workspace of ``token``, oldest first."""
        with self._lock:
            workspace = self._workspaces.get(token)
            if workspace is None:
                return []
            return [copy.deepcopy(c) for c in workspace.contacts.values()]

    def counter_snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counters)

    def requests(self, token: str | None = None) -> list[RecordedRequest]:
        """Every authenticated API request seen (optionally of one token), in arrival order."""
        with self._lock:
            return [copy.copy(r) for r in self._requests if token is None or r.token == token]

    def max_requests_in_window(self, token: str | None = None, window: float = 1.0) -> int:
        """The most requests that arrived within any ``window`` seconds (half-open)."""
        times = sorted(r.at for r in self.requests(token))
        best = 0
        start = 0
        for end, t in enumerate(times):
            while t - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best

    # ----------------------------------------------------- request-time checks

    def check_token(self, authorization: str | None) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "Unauthorized: missing or malformed bearer token")
        if self.allowed_tokens is not None and token not in self.allowed_tokens:
            raise ApiError(401, "Unauthorized: invalid access token")
        return token

    def admit(
        self, token: str, method: str, path: str, traceparent: str | None = None
    ) -> RecordedRequest:
        """Record the request; raise the injected failure or 429 it deserves, if any."""
        now = time.monotonic()
        with self._lock:
            record = RecordedRequest(now, token, method, path, traceparent=traceparent)
            self._requests.append(record)
            self.counters["requests"] += 1
            if self._failures:
                failure = self._failures.popleft()
                headers = {}
                if failure.retry_after is not None:
                    headers["Retry-After"] = _seconds_header(failure.retry_after)
                elif failure.status == 429:
                    headers["Retry-After"] = "1"
                record.status = failure.status
                raise ApiError(failure.status, _reason(failure.status), headers)
            if now < self._throttled_until:
                record.status = 429
                wait = self._throttle_retry_after
                raise ApiError(429, "Too Many Requests", {"Retry-After": _seconds_header(wait)})
            rate = self.rate_limit_per_second
            if rate is not None and rate > 0:
                bucket = self._buckets.get(token)
                burst = max(rate, 1.0)
                if bucket is None:
                    bucket = self._buckets[token] = _Bucket(tokens=burst, updated=now)
                bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
                bucket.updated = now
                limit_headers = {"X-RateLimit-Limit": _seconds_header(rate)}
                if bucket.tokens < 1.0:
                    record.status = 429
                    wait = (1.0 - bucket.tokens) / rate
                    raise ApiError(
                        429,
                        "Too Many Requests",
                        {
                            **limit_headers,
                            "X-RateLimit-Remaining": "0",
                            "Retry-After": str(max(1, math.ceil(wait))),
                        },
                    )
                bucket.tokens -= 1.0
        return record

    def count(self, key: str) -> None:
        with self._lock:
            self.counters[key] += 1

    # -------------------------------------------------------------- operations

    def get(self, token: str, ident: Identifier) -> dict[str, Any] | None:
        with self._lock:
            contact = self._find(token, ident)
            return copy.deepcopy(contact) if contact is not None else None

    def create(self, token: str, ident: Identifier, body: dict[str, Any]) -> dict[str, Any]:
        if ident.kind == "id":
            raise ApiError(400, "Invalid identifier: a contact is created by email: or phone:")
        _validate_body(body, require_first_name=True)
        with self._lock:
            if self._find(token, ident) is not None:
                raise ApiError(409, "Contact already exists")
            return copy.deepcopy(self._insert(token, ident, body))

    def create_or_update(
        self, token: str, ident: Identifier, body: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Return the contact and whether it was created."""
        with self._lock:
            contact = self._find(token, ident)
            if contact is None:
                if ident.kind == "id":
                    raise ApiError(404, "Contact not found")
                _validate_body(body, require_first_name=True)
                return copy.deepcopy(self._insert(token, ident, body)), True
            _validate_body(body, require_first_name=False)
            workspace = self._workspaces[token]
            workspace.unindex(contact)
            _apply(contact, body)
            workspace.index(contact)
            return copy.deepcopy(contact), False

    def add_tags(self, token: str, ident: Identifier, tags: Any) -> dict[str, Any]:
        if (
            not isinstance(tags, list)
            or not 1 <= len(tags) <= MAX_TAGS_PER_CALL
            or not all(isinstance(t, str) and 0 < len(t.strip()) <= MAX_TAG_LENGTH for t in tags)
        ):
            raise ApiError(
                400,
                f"Body must be a list of 1 to {MAX_TAGS_PER_CALL} tag names "
                f"of at most {MAX_TAG_LENGTH} characters",
            )
        with self._lock:
            contact = self._find(token, ident)
            if contact is None:
                raise ApiError(404, "Contact not found")
            for tag in tags:
                tag = tag.strip()
                if tag not in contact["tags"]:
                    contact["tags"].append(tag)
            return copy.deepcopy(contact)

    # ---------------------------------------------------------------- internals

    def _find(self, token: str, ident: Identifier) -> dict[str, Any] | None:
        workspace = self._workspaces.get(token)
        return workspace.find(ident) if workspace is not None else None

    def _insert(self, token: str, ident: Identifier, body: dict[str, Any]) -> dict[str, Any]:
        contact_id = self._next_id
        self._next_id += 1
        contact: dict[str, Any] = {
            "id": contact_id,
            **{name: None for name in CONTACT_FIELDS},
            "custom_fields": [],
            "status": "open",
            "tags": [],
            "assignee": None,
            "lifecycle": None,
            "created_at": int(time.time()),
        }
        _apply(contact, body)
        if contact.get(ident.kind) is None:
            contact[ident.kind] = ident.value
        workspace = self._workspaces.setdefault(token, _Workspace())
        workspace.contacts[contact_id] = contact
        workspace.index(contact)
        return contact


def _validate_body(body: Any, *, require_first_name: bool) -> None:
    if not isinstance(body, dict):
        raise ApiError(400, "Body must be a JSON object")
    first = body.get("firstName")
    if require_first_name and (not isinstance(first, str) or not first.strip()):
        raise ApiError(400, "firstName is required")
    for name in CONTACT_FIELDS:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise ApiError(400, f"{name} must be a string")
    custom = body.get("custom_fields")
    if custom is not None and (
        not isinstance(custom, list)
        or not all(isinstance(f, dict) and isinstance(f.get("name"), str) for f in custom)
    ):
        raise ApiError(400, "custom_fields must be a list of {name, value}")


def _apply(contact: dict[str, Any], body: dict[str, Any]) -> None:
    for name in CONTACT_FIELDS:
        if body.get(name) is not None:
            contact[name] = body[name]
    for item in body.get("custom_fields") or []:
        existing = next((f for f in contact["custom_fields"] if f["name"] == item["name"]), None)
        if existing is None:
            contact["custom_fields"].append({"name": item["name"], "value": item.get("value")})
        else:
            existing["value"] = item.get("value")


def _seconds_header(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _reason(status: int) -> str:
    return {
        429: "Too Many Requests",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }.get(status, "Error")
