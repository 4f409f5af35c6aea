"""`change_stream` of the connection object: whether the org's changes arrive in real time
(app/stream, docs/real-time.md), read from the workspace core's view of the streams."""

from __future__ import annotations

from app.config import Settings
from app.connections.schemas import ChangeStreamView, ConnectionView
from app.db import Database
from app.workspace.stream_state import view_of


async def with_change_stream(
    view: ConnectionView, db: Database, organization_id: str, settings: Settings
) -> ConnectionView:
    stream = await view_of(db, organization_id, settings)
    view.change_stream = ChangeStreamView(
        state=stream.state,  # type: ignore[arg-type]
        reason=stream.reason,
        last_event_at=stream.last_event_at,
    )
    return view
