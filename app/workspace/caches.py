"""Every Salesforce datum this process caches for a workspace, and how it is forgotten.

`WorkspaceCaches` holds the three caches (connection + settings snapshots, Contact
describes, lookup answers). `Invalidation` is what connect and disconnect call: it runs the
purge of every cache that registered for that event, so a feature that caches Salesforce data
registers its purge here instead of being known to the connect flow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.workspace.context import WorkspaceContexts
from app.workspace.describes import DescribeCache
from app.workspace.lookup_cache import LookupCache

Purge = Callable[[str], Awaitable[None]]


def _never(_workspace_id: str) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class WorkspaceCaches:
    """The caches of Salesforce data every feature reads through, forgotten together."""

    contexts: WorkspaceContexts
    describes: DescribeCache
    lookups: LookupCache
    # Whether the workspace's org streams its changes now (app.workspace.stream_state): its
    # cached answers are then kept current within seconds, and an edit may start from one.
    streaming: Callable[[str], bool] = _never

    async def purge(self, workspace_id: str) -> None:
        self.contexts.invalidate(workspace_id)
        self.describes.purge_workspace(workspace_id)
        await self.lookups.purge_workspace(workspace_id)


class Invalidation:
    """The purges to run when a workspace disconnects, and when it connects or reconnects
    (caches holding the connection's state: status, instance URL, answers under the old
    grant)."""

    def __init__(self) -> None:
        self.on_disconnect: list[Purge] = []
        self.on_connect: list[Purge] = []

    def purge_on_both(self, purge: Purge) -> None:
        self.on_disconnect.append(purge)
        self.on_connect.append(purge)

    async def purge_workspace(self, workspace_id: str, *, reason: str = "disconnect") -> None:
        for hook in self.on_connect if reason == "connect" else self.on_disconnect:
            await hook(workspace_id)
