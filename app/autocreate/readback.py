"""Reading Contacts back from Salesforce: an Outbound Message's body is only a hint (anyone
holding the endpoint URL can imitate it), so the Contacts it names are read by id, in one
SOQL query per message, and only Salesforce's values are used (docs/api.md, "Auto-create").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from app.autocreate.ingest import AUDIT_FIELDS, BASE_FIELDS
from app.config import Settings
from app.kit.clocks import Clock, monotonic
from app.salesforce.client import SalesforceClient

CONTACT_ID_PREFIX = "003"
_SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_IDS_PER_QUERY = 200  # 200 ids keep the SOQL far below its 100,000-character limit


def is_contact_id(record_id: str) -> bool:
    """Contact ids start with the key prefix 003 (a Lead's is 00Q)."""
    return record_id.startswith(CONTACT_ID_PREFIX)


def contacts_by_id_soql(fields: Sequence[str], ids: Sequence[str]) -> str:
    for record_id in ids:
        if not _SALESFORCE_ID.fullmatch(record_id):
            raise ValueError("not a Salesforce id")
    quoted = ", ".join(f"'{record_id}'" for record_id in ids)
    # SOQL, not SQL: the fields are the service's own names, the ids are checked above.
    return f"SELECT {', '.join(fields)} FROM Contact WHERE Id IN ({quoted})"  # noqa: S608


def readable(fields: Sequence[str], names: set[str]) -> list[str]:
    """The fields the connected user's describe shows (field-level security hides the
    others, and a query naming one fails); Id is always readable."""
    return [f for f in fields if f == "Id" or f in names]


class LanguageFields:
    """Whether the org's Contact has the configured language field, and which of the fields
    auto-create reads the connected user can see (describe, cached per workspace for
    FIELDS_CACHE_TTL_SECONDS)."""

    def __init__(
        self, salesforce: SalesforceClient, settings: Settings, *, clock: Clock = monotonic
    ) -> None:
        self._salesforce = salesforce
        self._settings = settings
        self._clock = clock
        self._cache: dict[str, tuple[float, str | None, list[str]]] = {}

    async def read(self, workspace_id: str) -> tuple[list[str], str | None]:
        """The Contact fields auto-create reads, and the language field among them."""
        configured = self._settings.autocreate_language_field.strip()
        cached = self._cache.get(workspace_id)
        now = self._clock()
        if cached is None or cached[0] < now:
            describe, _ = await self._salesforce.describe_contact(workspace_id)
            names = {str(f.get("name")) for f in (describe or {}).get("fields", [])}
            present = configured if configured and configured in names else None
            fields = readable(BASE_FIELDS + ([present] if present else []) + AUDIT_FIELDS, names)
            cached = (now + self._settings.fields_cache_ttl_seconds, present, fields)
            self._cache[workspace_id] = cached
        return cached[2], cached[1]


class ContactReader:
    def __init__(self, salesforce: SalesforceClient, languages: LanguageFields) -> None:
        self._salesforce = salesforce
        self._languages = languages

    async def read(
        self, workspace_id: str, ids: Sequence[str]
    ) -> tuple[dict[str, dict[str, Any]], str | None]:
        """The Contacts that exist, keyed by their 15-character id, and the language field
        read. Raises the client's errors (NotConnected, SalesforceError, ...)."""
        fields, language_field = await self._languages.read(workspace_id)
        unique = list(dict.fromkeys(ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(unique), _IDS_PER_QUERY):
            soql = contacts_by_id_soql(fields, unique[start : start + _IDS_PER_QUERY])
            for record in await self._salesforce.query(workspace_id, soql, purpose="autocreate"):
                found[str(record.get("Id", ""))[:15]] = record
        return found, language_field
