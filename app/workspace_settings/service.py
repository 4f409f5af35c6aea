"""Fields (from the Contact or Lead describe) and the workspace's settings document."""

from __future__ import annotations

import logging

from app import errors as app_errors
from app.db import Database
from app.workspace.caches import WorkspaceCaches
from app.workspace.contacts import hidden_match_fields
from app.workspace.context import (
    SettingsSnapshot,
    WorkspaceContext,
    read_context,
    require_connected,
)
from app.workspace.describes import ContactDescribe, Described, SObject
from app.workspace.errors import with_salesforce_errors
from app.workspace.related_settings import (
    DEFAULT_LIMIT,
    PART_OBJECTS,
    CustomerSettings,
    RelatedPart,
    RelatedSettings,
)
from app.workspace.repository import respondio_token_set
from app.workspace_settings import repository
from app.workspace_settings.schemas import (
    AutoCreateSettings,
    ContactFieldOut,
    ConversationLoggingSettings,
    LeadSettingsDocument,
    RecordCreationDocument,
    RelatedDocument,
    SettingsDocument,
    SettingsUpdate,
    SettingsWarning,
)

logger = logging.getLogger("app.settings")


RESPONDIO_TOKEN_MISSING = SettingsWarning(
    code="respondio_token_missing",
    message="Auto-create is on but no respond.io API token is stored: new Contacts wait and "
    "are created once one is set (PUT /v1/workspaces/{workspace_id}/respondio-credentials).",
)

MATCH_FIELD_HIDDEN = (
    "The connected Salesforce user's profile hides {sobject}.{field} (field-level security): "
    "lookups cannot match on it. A Salesforce admin can grant read access to that field on "
    "the user's profile or permission set."
)


def document(
    snapshot: SettingsSnapshot, warnings: list[SettingsWarning] | None = None
) -> SettingsDocument:
    return SettingsDocument(
        visible_fields=list(snapshot.visible_fields),
        editing_enabled=snapshot.editing_enabled,
        phone_matching=snapshot.phone_matching,  # type: ignore[arg-type]
        auto_create=AutoCreateSettings(
            enabled=snapshot.auto_create.enabled,
            add_tag=snapshot.auto_create.add_tag,
            include_bulk_imports=snapshot.auto_create.include_bulk_imports,
        ),
        record_creation_enabled=snapshot.record_creation_enabled,
        activity_logging_enabled=snapshot.activity_logging_enabled,
        warnings=warnings or None,
        leads=LeadSettingsDocument(
            enabled=snapshot.leads.enabled, visible_fields=list(snapshot.leads.visible_fields)
        ),
        related=RelatedDocument.model_validate(snapshot.customer.to_json()["related"]),
        record_creation=RecordCreationDocument(person_accounts=snapshot.customer.person_accounts),
        conversation_logging=ConversationLoggingSettings(
            enabled=snapshot.conversation_logging.enabled,
            min_messages=snapshot.conversation_logging.min_messages,
        ),
    )


class WorkspaceSettingsService:
    def __init__(self, db: Database, caches: WorkspaceCaches) -> None:
        self._db = db
        self._contexts = caches.contexts
        self._describes = caches.describes
        self._lookups = caches.lookups

    async def describe(self, workspace_id: str, sobject: Described = "Contact") -> ContactDescribe:
        async def load(context: WorkspaceContext) -> ContactDescribe:
            require_connected(context)
            return await self._describes.get(context, sobject)

        return await with_salesforce_errors(self._contexts, workspace_id, load)

    async def fields(
        self, workspace_id: str, sobject: Described = "Contact"
    ) -> list[ContactFieldOut]:
        describe = await self.describe(workspace_id, sobject)
        # The describe's fields carry the same names as the answer (`editable` included).
        return [ContactFieldOut.model_validate(f, from_attributes=True) for f in describe.fields]

    async def get(self, workspace_id: str) -> SettingsDocument:
        context = await read_context(self._db, workspace_id)
        return document(context.settings, await self._warnings(workspace_id, context.settings))

    async def replace(
        self, workspace_id: str, new: SettingsUpdate, user_id: str
    ) -> SettingsDocument:
        current = (await read_context(self._db, workspace_id)).settings
        visible = list(new.visible_fields)
        if visible != list(current.visible_fields):
            visible = await self._checked_fields(workspace_id, visible, "Contact")
        lead_visible = None
        if new.leads is not None:
            lead_visible = list(new.leads.visible_fields)
            if lead_visible != list(current.leads.visible_fields):
                lead_visible = await self._checked_fields(workspace_id, lead_visible, "Lead")
        customer = await self._customer(workspace_id, new, current.customer)
        saved = await repository.save(
            self._db, workspace_id, new, visible, lead_visible, customer, user_id
        )
        # What a lookup selects and how it matches may have changed: forget this workspace's
        # answers and snapshot at once (other replicas: at once with CACHE_URL, else within
        # the snapshot TTL).
        self._contexts.invalidate(workspace_id)
        await self._lookups.purge_workspace(workspace_id)
        logger.info(
            "settings.replaced",
            extra={
                "workspace_id": workspace_id,
                "user_id": user_id,
                "editing_enabled": saved.editing_enabled,
                "phone_matching": saved.phone_matching,
                "auto_create_enabled": saved.auto_create.enabled,
                "record_creation_enabled": saved.record_creation_enabled,
                "activity_logging_enabled": saved.activity_logging_enabled,
                "leads_enabled": saved.leads.enabled,
                "related_enabled": [
                    name for name, part in saved.related.parts().items() if part.enabled
                ],
                "conversation_logging_enabled": saved.conversation_logging.enabled,
            },
        )
        return document(saved, await self._warnings(workspace_id, saved))

    async def _customer(
        self, workspace_id: str, new: SettingsUpdate, current: CustomerSettings
    ) -> CustomerSettings:
        """The `related` and `record_creation` to store. Every enabled part's fields are
        checked against its object's describe, which fetches it now (not during a lookup)
        and keeps it shared like the Contact's."""
        related = current.related
        if new.related is not None:
            parts: dict[str, RelatedPart] = {}
            for name, doc in new.related:
                sobject = PART_OBJECTS[name]
                names = list(doc.fields)
                if doc.enabled:
                    names = await self._checked_fields(workspace_id, names, sobject, name)
                limit = getattr(doc, "limit", DEFAULT_LIMIT)
                parts[name] = RelatedPart(doc.enabled, tuple(names), limit)
            related = RelatedSettings(**parts)
        person_accounts = current.person_accounts
        if new.record_creation is not None:
            person_accounts = new.record_creation.person_accounts
        return CustomerSettings(related, person_accounts)

    async def _warnings(
        self, workspace_id: str, snapshot: SettingsSnapshot
    ) -> list[SettingsWarning]:
        warnings: list[SettingsWarning] = []
        if snapshot.auto_create.enabled and not await respondio_token_set(self._db, workspace_id):
            warnings.append(RESPONDIO_TOKEN_MISSING)
        return warnings + await self._hidden_match_fields(workspace_id, snapshot)

    async def _hidden_match_fields(
        self, workspace_id: str, snapshot: SettingsSnapshot
    ) -> list[SettingsWarning]:
        """`match_field_hidden` for each match field the connected user's describe hides
        (Contact, and Lead while Leads are on): lookups cannot match on it. Nothing when not
        connected, or when Salesforce cannot be asked now (the settings still answer)."""
        objects: list[SObject] = ["Contact", "Lead"] if snapshot.leads.enabled else ["Contact"]

        async def load(context: WorkspaceContext) -> list[SettingsWarning]:
            if context.connection_id is None:
                return []
            warnings: list[SettingsWarning] = []
            for sobject in objects:
                describe = await self._describes.get(context, sobject)
                warnings += [
                    SettingsWarning(
                        code="match_field_hidden",
                        message=MATCH_FIELD_HIDDEN.format(sobject=sobject, field=name),
                        object=sobject,
                        field=name,
                    )
                    for name in hidden_match_fields(describe)
                ]
            return warnings

        try:
            return await with_salesforce_errors(self._contexts, workspace_id, load)
        except app_errors.AppError as exc:
            logger.info(
                "settings.warnings.unchecked",
                extra={"workspace_id": workspace_id, "error": exc.code},
            )
            return []

    async def _checked_fields(
        self, workspace_id: str, names: list[str], sobject: Described, part: str | None = None
    ) -> list[str]:
        """The names in the describe's spelling; 422 naming unknown or repeated ones."""
        describe = await self.describe(workspace_id, sobject)
        if part is not None:
            key = f"related.{part}.fields"
        else:
            key = "visible_fields" if sobject == "Contact" else "leads.visible_fields"
        unknown: list[str] = []
        repeated: list[str] = []
        seen: set[str] = set()
        canonical: list[str] = []
        for name in names:
            field = describe.field(name)
            if field is None:
                unknown.append(name)
                continue
            if field.name in seen:
                repeated.append(name)
                continue
            seen.add(field.name)
            canonical.append(field.name)
        problems = [
            {"field": key, "message": f"{name!r} is not a field of {sobject}"} for name in unknown
        ] + [{"field": key, "message": f"{name!r} is listed more than once"} for name in repeated]
        if problems:
            detail = []
            if unknown:
                detail.append(f"unknown {sobject} fields: " + ", ".join(unknown))
            if repeated:
                detail.append("listed more than once: " + ", ".join(repeated))
            raise app_errors.ValidationFailed(f"{key}: " + "; ".join(detail), errors=problems)
        return canonical
