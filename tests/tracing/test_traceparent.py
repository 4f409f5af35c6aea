"""A caller's W3C `traceparent` is continued into every Salesforce call (docs/operations.md,
"Traces"), with exporting off (the tests' default); log lines carry the trace id."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from app.logs import json_formatter
from tests.helpers.lookups import lookup

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The service's JSON log lines, as `make run` writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def salesforce_traceparents(sf_emulator) -> list[str]:
    return [
        entry["headers"].get("traceparent", "")
        for entry in sf_emulator.requests.matching("/services/data")
    ]


@pytest.mark.parametrize("flags", ["01", "00"])
async def test_a_lookup_continues_the_callers_trace_into_salesforce(
    client, auth, connect, sf_emulator, log_lines, flags: str
) -> None:
    await connect("ws-1")
    sf_emulator.requests.clear()
    headers = {**auth("ws-1", "agent"), "traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-{flags}"}

    response = await client.get(
        "/v1/workspaces/ws-1/salesforce/contacts/lookup",
        params={"email": "priya.raman@example.com"},
        headers=headers,
    )

    assert response.status_code == 200 and response.json()["matched"] is True
    sent = salesforce_traceparents(sf_emulator)
    assert len(sent) >= 2  # the describe and the query at least
    for value in sent:
        match = TRACEPARENT.match(value)
        assert match, value
        assert match.group(1) == TRACE_ID
        # A span of this service's (the outbound call's), not the caller's own.
        assert match.group(2) != CALLER_SPAN
        assert value.endswith(f"-{flags}")
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    request_line = next(line for line in lines if line["event"] == "http.request")
    assert request_line["trace_id"] == TRACE_ID
    assert all(line.get("trace_id") == TRACE_ID for line in lines if "trace_id" in line)


async def test_without_a_traceparent_each_request_starts_its_own_trace(
    client, auth, connect, sf_emulator
) -> None:
    await connect("ws-1")
    traces = set()
    for email in ("priya.raman@example.com", "ben.tan@example.com"):
        sf_emulator.requests.clear()
        assert (await lookup(client, auth, email=email)).status_code == 200
        sent = salesforce_traceparents(sf_emulator)
        assert sent and all(TRACEPARENT.match(value) for value in sent)
        traces |= {TRACEPARENT.match(value).group(1) for value in sent}  # type: ignore[union-attr]
    assert len(traces) == 2
