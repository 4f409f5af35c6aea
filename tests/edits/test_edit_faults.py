"""No edit lost or half-recorded: Salesforce failing, answers lost, a crash before the mark."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.helpers.contact_app import ACME
from tests.helpers.edits import (
    edit,
    edit_rows,
    history,
    revert,
    setup_workspace,
    stored,
)


class OnPatch:
    """At the HTTP boundary: act on the service's next PATCH to Salesforce."""

    def __init__(self, app: Any) -> None:
        self._http: httpx.AsyncClient = app.state.services.http
        self._hooks: list[tuple[str, Callable[..., Awaitable[None]]]] = []

    def before(self, action: Callable[[], None]) -> None:
        async def hook(request: httpx.Request) -> None:
            if request.method == "PATCH":
                self.remove()
                action()

        self._add("request", hook)

    def lose_answer(self) -> None:
        """Salesforce applies the PATCH, but its answer never arrives (a timeout)."""

        async def hook(response: httpx.Response) -> None:
            if response.request.method == "PATCH":
                self.remove()
                raise httpx.ReadTimeout("answer lost", request=response.request)

        self._add("response", hook)

    def _add(self, kind: str, hook: Callable[..., Awaitable[None]]) -> None:
        self._http.event_hooks[kind].append(hook)
        self._hooks.append((kind, hook))

    def remove(self) -> None:
        for kind, hook in self._hooks:
            if hook in self._http.event_hooks[kind]:
                self._http.event_hooks[kind].remove(hook)
        self._hooks.clear()


@pytest.fixture
def on_patch(app: Any) -> Any:
    hooks = OnPatch(app)
    yield hooks
    hooks.remove()


async def test_patch_failing_with_503_leaves_no_history(
    client, auth, connect, sf_emulator, app, on_patch
) -> None:
    await setup_workspace(client, auth, connect)
    title = stored(sf_emulator)["Title"]
    on_patch.before(lambda: sf_emulator.set_fault(ACME, "server_unavailable", 1))

    response = await edit(client, auth, {"Title": "Never written"})

    assert response.status_code == 502
    assert response.json()["code"] == "salesforce_unavailable"
    assert stored(sf_emulator)["Title"] == title
    # No answer from Salesforce: the outcome is unknown until Salesforce is asked again.
    assert [r.status for r in await edit_rows(app)] == ["pending"]
    assert await history(client, auth) == []
    rows = await edit_rows(app)
    assert [(r.status, r.failure) for r in rows] == [("failed", "not_in_salesforce")]


async def test_patch_definitely_refused_is_marked_failed_at_once(
    client, auth, connect, sf_emulator, app, on_patch
) -> None:
    await setup_workspace(client, auth, connect)
    on_patch.before(lambda: sf_emulator.set_fault(ACME, "request_limit_exceeded", 1))

    response = await edit(client, auth, {"Title": "Never written"})

    assert response.status_code == 503
    assert response.json()["code"] == "salesforce_rate_limited"
    assert [(r.status, r.failure) for r in await edit_rows(app)] == [
        ("failed", "REQUEST_LIMIT_EXCEEDED")
    ]
    assert await history(client, auth) == []


async def test_lost_answer_then_retry_records_the_edit_once(
    client, auth, connect, sf_emulator, app, on_patch
) -> None:
    await setup_workspace(client, auth, connect)
    on_patch.lose_answer()

    lost = await edit(client, auth, {"Title": "Applied, answer lost"})

    assert lost.status_code == 502
    assert stored(sf_emulator)["Title"] == "Applied, answer lost"
    assert [r.status for r in await edit_rows(app)] == ["pending"]
    patches = sf_emulator.counters["contact.patch"]

    retried = await edit(client, auth, {"Title": "Applied, answer lost"})

    assert retried.status_code == 200
    assert sf_emulator.counters["contact.patch"] == patches  # nothing left to write
    assert [r.status for r in await edit_rows(app)] == ["applied"]
    entries = await history(client, auth)
    assert [(e["field"], e["new_value"]) for e in entries] == [("Title", "Applied, answer lost")]


@asynccontextmanager
async def database_refuses_to_mark_applied(app: Any) -> AsyncIterator[None]:
    """While inside, the database fails every update of an edit to `applied`: the process
    losing its database between the PATCH and recording its outcome, as in a crash."""
    async with app.state.services.db.engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION refuse_applied() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN RAISE EXCEPTION 'database went away'; END $$"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER refuse_applied BEFORE UPDATE ON contact_field_edits "
                "FOR EACH ROW WHEN (NEW.status = 'applied' AND OLD.status = 'pending') "
                "EXECUTE FUNCTION refuse_applied()"
            )
        )
    try:
        yield
    finally:
        async with app.state.services.db.engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER refuse_applied ON contact_field_edits"))
            await conn.execute(text("DROP FUNCTION refuse_applied()"))


async def test_crash_between_patch_and_mark_is_settled_on_next_history_read(
    client, auth, connect, sf_emulator, app
) -> None:
    await setup_workspace(client, auth, connect)
    original = stored(sf_emulator)["Title"]

    async with database_refuses_to_mark_applied(app):
        response = await edit(client, auth, {"Title": "Written before the crash"})

    # Salesforce has the change, so the caller is told so; the record is settled later.
    assert response.status_code == 200
    assert stored(sf_emulator)["Title"] == "Written before the crash"
    assert [r.status for r in await edit_rows(app)] == ["pending"]

    entries = await history(client, auth)

    assert [(e["old_value"], e["new_value"]) for e in entries] == [
        (original, "Written before the crash")
    ]
    assert [r.status for r in await edit_rows(app)] == ["applied"]
    reverted = await revert(client, auth, "Title")
    assert reverted.status_code == 200
    assert stored(sf_emulator)["Title"] == original


async def test_pending_row_of_a_write_that_never_happened_is_settled_failed(
    client, auth, connect, sf_emulator, app, on_patch
) -> None:
    """A crash after recording and before the PATCH: Salesforce never saw the change."""
    await setup_workspace(client, auth, connect)

    def crash() -> None:
        raise httpx.ConnectError("process died before sending")

    on_patch.before(crash)
    response = await edit(client, auth, {"Title": "Never sent"})
    assert response.status_code == 502
    assert [r.status for r in await edit_rows(app)] == ["pending"]

    # The next edit of the contact settles it from the values it reads anyway.
    assert (await edit(client, auth, {"LeadSource": "Other"})).status_code == 200
    assert [r.status for r in await edit_rows(app)] == ["failed", "applied"]
    assert [e["field"] for e in await history(client, auth)] == ["LeadSource"]


async def test_revert_with_lost_answer_is_settled_as_reverted(
    client, auth, connect, sf_emulator, app, on_patch
) -> None:
    await setup_workspace(client, auth, connect)
    original = stored(sf_emulator)["Title"]
    assert (await edit(client, auth, {"Title": "To be reverted"})).status_code == 200
    on_patch.lose_answer()

    response = await revert(client, auth, "Title")

    assert response.status_code == 502
    assert stored(sf_emulator)["Title"] == original
    (row,) = await edit_rows(app)
    assert row.revert_started_at is not None and row.reverted_at is None

    (entry,) = await history(client, auth)
    assert entry["reverted_by"] == "agent-8" and entry["reverted_at"]
    again = await revert(client, auth, "Title")
    assert again.status_code == 404
    assert again.json()["code"] == "nothing_to_revert"


@pytest.mark.parametrize("value", ["a\u0000b", "\u0000"])
async def test_a_nul_character_is_a_validation_error_naming_the_field(
    client, auth, connect, sf_emulator, app, value
) -> None:
    await setup_workspace(client, auth, connect)
    title = stored(sf_emulator)["Title"]

    response = await edit(client, auth, {"Title": value, "LeadSource": "Web"})

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["errors"] == [
        {"field": "fields.Title", "message": "must not contain the NUL character"}
    ]
    assert stored(sf_emulator)["Title"] == title
    assert await edit_rows(app) == []
