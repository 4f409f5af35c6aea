"""Client for the respond.io Developer API v2 (contacts and tags).

One shared ``httpx.AsyncClient`` is passed in; every call has an explicit timeout and goes
through a per-workspace rate limiter (:class:`RequestWindow`). The client never retries: it
raises typed errors (``app.respondio.errors``) and the job queue above it decides when to
try again.
The API token is only ever put in the ``Authorization`` header: never in a log line, an
exception message or a dictionary key.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import logging
import math
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from app.respondio.errors import (
    RespondioAuthError,
    RespondioBadRequest,
    RespondioConflict,
    RespondioError,
    RespondioNotFound,
    RespondioRateLimited,
    RespondioUnavailable,
)

logger = logging.getLogger("app.respondio")

DEFAULT_RETRY_AFTER = 1.0
_MAX_MESSAGE_CHARS = 200
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def identifier_for(email: str | None, phone_e164: str | None) -> str:
    """The respond.io identifier of a contact: ``email:...`` when there is an email,
    else ``phone:+...``. Not URL-encoded (the client does that)."""
    if email is not None and email.strip():
        return f"email:{email.strip()}"
    if phone_e164 is not None and phone_e164.strip():
        phone = phone_e164.strip()
        if not _E164.match(phone):
            raise ValueError("phone must be in E.164 form, e.g. +60123456789")
        return f"phone:{phone}"
    raise ValueError("a respond.io contact needs an email or a phone number")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date);
    1 second when it is missing or unreadable."""
    if value is None or not value.strip():
        return DEFAULT_RETRY_AFTER
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else DEFAULT_RETRY_AFTER  # NaN
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return DEFAULT_RETRY_AFTER
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def workspace_key(api_token: str) -> str:
    """A stable, non-reversible key of a workspace's token, for limiter maps and logs."""
    return hashlib.sha256(api_token.encode()).hexdigest()[:16]


class RequestWindow:
    """Requests of one workspace paced at ``rate`` a second, never more than ``limit`` in any
    ``period`` seconds (``floor(rate)`` a second; one per ``1/rate`` seconds below 1/s), so
    never more than the rate in any one-second window, whatever window the server counts in.

    Each request is scheduled ``1/rate`` after the previous one's *scheduled* time, not
    after the moment it actually went: when the event loop wakes a waiter a little late,
    the next ones catch up instead of every later request inheriting the delay (a bucket of
    one refilled every ``1/rate`` s loses each such delay for good: ~20% of the rate at
    200/s on a busy worker). Catching up never breaks the window: the last ``limit`` send
    times are kept and a request goes only once the oldest is ``period`` old. Requests are
    spaced at the mean interval otherwise, never bunched, so network jitter moves a server's
    count by one at most as before. Waiters go in arrival order; a cancelled one takes no
    slot."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if not rate > 0 or math.isinf(rate):
            raise ValueError("rate must be a positive number")
        self._clock = clock
        self._sleep = sleep
        self.limit = max(1, math.floor(rate))
        self.period = max(1.0, self.limit / rate)
        self.interval = self.period / self.limit
        self._next = -math.inf  # scheduled time of the next request (on the clock)
        self._sent: deque[float] = deque(maxlen=self.limit)
        self._turn = asyncio.Lock()

    def has_capacity(self) -> bool:
        """Whether a request could go right now."""
        return self._wait(self._clock()) <= 0

    def _wait(self, now: float) -> float:
        wait = self._next - now
        if len(self._sent) == self.limit:
            wait = max(wait, self._sent[0] + self.period - now)
        return wait

    async def acquire(self) -> None:
        arrived = self._clock()
        async with self._turn:
            # Nobody else sends while this waiter holds the turn: one sleep is enough.
            scheduled = max(arrived, self._next)
            wait = self._wait(self._clock())
            if wait > 0:
                await self._sleep(wait)
            self._sent.append(self._clock())  # the oldest drops out (maxlen)
            self._next = scheduled + self.interval

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *_exc: object) -> None:
        return None


class RespondioClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        max_requests_per_second: float = 5.0,
        timeout: float = 10.0,
    ) -> None:
        if max_requests_per_second <= 0:
            raise ValueError("max_requests_per_second must be positive")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._max_rps = max_requests_per_second
        self._timeout = httpx.Timeout(timeout)
        self._limiters: dict[str, RequestWindow] = {}

    # ------------------------------------------------------------------ public

    async def get_contact(self, api_token: str, identifier: str) -> dict[str, Any] | None:
        """The contact, or None when respond.io has none with that identifier."""
        response = await self._request(
            "get_contact", "GET", api_token, identifier, f"/contact/{_encode(identifier)}"
        )
        if response is None:
            return None
        return _json_object(response, "get_contact")

    async def create_contact(
        self, api_token: str, identifier: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Create a contact; RespondioBadRequest (often RespondioConflict) when it exists."""
        return await self._post(
            "create_contact", api_token, identifier, f"/contact/{_encode(identifier)}", body
        )

    async def create_or_update_contact(
        self, api_token: str, identifier: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Create the contact, or update the one that has this identifier
        (respond.io answers ``{"contactId": n}``)."""
        path = f"/contact/create_or_update/{_encode(identifier)}"
        return await self._post("create_or_update_contact", api_token, identifier, path, body)

    async def _post(
        self, operation: str, api_token: str, identifier: str, path: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """POST `body` (both contact writes): the call took effect, so an odd answer body
        yields {} rather than an error (`_json_object`)."""
        response = await self._request(operation, "POST", api_token, identifier, path, json=body)
        assert response is not None
        return _json_object(response, operation, required=False)

    async def add_tags(self, api_token: str, identifier: str, tags: list[str]) -> None:
        """Add tags to an existing contact (RespondioNotFound when there is none)."""
        if not tags:
            raise ValueError("add_tags needs at least one tag")
        await self._request(
            "add_tags",
            "POST",
            api_token,
            identifier,
            f"/contact/{_encode(identifier)}/tag",
            json=list(tags),
        )

    async def get_json(
        self, operation: str, api_token: str, path: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """GET `path` (below the API base, already encoded) with query `params`: its JSON
        object, or None for a 404 (the reads of app.respondio.conversations)."""
        query = f"?{urlencode(params)}" if params else ""
        response = await self._request(operation, "GET", api_token, "", path + query)
        return None if response is None else _json_object(response, operation)

    # --------------------------------------------------------------- internals

    def _limiter_for(self, api_token: str) -> RequestWindow:
        key = workspace_key(api_token)
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = RequestWindow(self._max_rps)
        return limiter

    async def _request(
        self,
        operation: str,
        method: str,
        api_token: str,
        identifier: str,
        path: str,
        *,
        json: Any = None,
    ) -> httpx.Response | None:
        """Send one request; return the response, None for a GET's 404, or raise."""
        if not api_token or not api_token.strip():
            raise RespondioAuthError("no respond.io API token for this workspace")
        key = workspace_key(api_token)
        fields: dict[str, Any] = {
            "operation": operation,
            "workspace_key": key,
            "identifier_kind": identifier.partition(":")[0],
        }
        failure: str | None = None
        async with self._limiter_for(api_token):
            started = time.monotonic()
            try:
                response = await self._http.request(
                    method,
                    self._base_url + path,
                    json=json,
                    headers={
                        "Authorization": f"Bearer {api_token}",
                        "Accept": "application/json",
                    },
                    timeout=self._timeout,
                )
            except httpx.TimeoutException as exc:
                failure = f"respond.io {operation} timed out ({type(exc).__name__})"
            except httpx.RequestError as exc:
                failure = (
                    f"respond.io {operation} could not reach respond.io ({type(exc).__name__})"
                )
            fields["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
        if failure is not None:
            # Raised outside the except block so the httpx error (whose request holds the
            # Authorization header) is not chained to it.
            error: RespondioError = RespondioUnavailable(failure)
            logger.warning(
                "respondio.request.failed",
                extra={**fields, "error_type": type(error).__name__, "error": str(error)},
            )
            raise error

        status = response.status_code
        fields["status_code"] = status
        if 200 <= status < 300:
            logger.debug("respondio.request.ok", extra=fields)
            return response
        if status == 404 and method == "GET":
            logger.debug("respondio.request.not_found", extra=fields)
            return None

        error = _error_for(response, operation, api_token)
        if isinstance(error, RespondioRateLimited):
            logger.warning(
                "respondio.request.rate_limited",
                extra={**fields, "retry_after": error.retry_after},
            )
        else:
            logger.warning(
                "respondio.request.failed",
                extra={**fields, "error_type": type(error).__name__, "error": str(error)},
            )
        raise error


def _encode(identifier: str) -> str:
    return quote(identifier, safe="")


def _error_for(response: httpx.Response, operation: str, api_token: str) -> RespondioError:
    status = response.status_code
    detail = _error_message(response, api_token)
    message = f"respond.io {operation} failed" + (f": {detail}" if detail else "")
    if status == 429:
        return RespondioRateLimited(
            parse_retry_after(response.headers.get("retry-after")),
            message=message,
        )
    if status in (401, 403):
        return RespondioAuthError(message, status=status)
    if status == 404:
        return RespondioNotFound(message, status=status)
    if status == 409:
        return RespondioConflict(message, status=status)
    if 400 <= status < 500:
        return RespondioBadRequest(message, status=status)
    if status >= 500:
        return RespondioUnavailable(message, status=status)
    return RespondioError(f"respond.io {operation}: unexpected HTTP status", status=status)


def _error_message(response: httpx.Response, api_token: str) -> str:
    """respond.io's error message (``{"message": ...}``), short and without the token."""
    try:
        payload = response.json()
    except ValueError:
        text = ""
    else:
        text = payload.get("message", "") if isinstance(payload, dict) else ""
        text = text if isinstance(text, str) else str(text)
    text = " ".join(text.split())[:_MAX_MESSAGE_CHARS]
    return text.replace(api_token, "[redacted]") if api_token else text


def _json_object(
    response: httpx.Response, operation: str, *, required: bool = True
) -> dict[str, Any]:
    """The JSON object of a 2xx answer. Where the call already took effect (``required``
    False) an odd body yields ``{}`` rather than an error that would make the caller retry."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        if not required:
            return {}
        raise RespondioUnavailable(
            f"respond.io {operation} answered without a JSON object",
            status=response.status_code,
        )
    return payload
