"""The data API tests and the admin API use to shape an org: seed and change records
as Salesforce users would (no API validation), convert Leads, send Outbound Messages.

Mixed into SalesforceEmulator; every method takes the emulator's lock."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import outbound
from .schema import CONTACT, LEAD, SObjectType, sobject, with_computed
from .schema_sales import CONVERTED_STATUS

if TYPE_CHECKING:
    from .clock import Clock
    from .models import Org

LEAD_TO_CONTACT = (
    "Salutation",
    "FirstName",
    "LastName",
    "Title",
    "Email",
    "Phone",
    "MobilePhone",
    "LeadSource",
    "Description",
    "HasOptedOutOfEmail",
)


def _type(type_name: str) -> SObjectType:
    t = sobject(type_name)
    if t is None or t.name not in ("Contact", "Lead", "Task", "Account", "Opportunity", "Case"):
        raise KeyError(f"no such stored object: {type_name}")
    return t


class DataAPI:
    _lock: threading.RLock
    clock: Clock
    outbound_log: list[outbound.Delivery]
    _next_number: int

    # Provided by SalesforceEmulator.
    def org(self, org_id: str) -> Org: ...  # pragma: no cover
    def find_record(self, org: Org, t: SObjectType, record_id: str) -> dict[str, Any] | None: ...
    def _insert(
        self,
        org: Org,
        t: SObjectType,
        fields: dict[str, Any],
        created_by: str | None = None,
        created_date: datetime | str | None = None,
    ) -> dict[str, Any]: ...
    def touch(
        self, org: Org, t: SObjectType, rec: dict[str, Any], user_id: str, *, human: bool
    ) -> None: ...

    # -- any stored object (Contact, Lead, Task) ---------------------------------
    def add_record(
        self,
        org_id: str,
        type_name: str,
        fields: dict[str, Any],
        created_by: str | None = None,
        created_date: datetime | str | None = None,
    ) -> dict[str, Any]:
        t = _type(type_name)
        with self._lock:
            org = self.org(org_id)
            if t is LEAD:
                fields = {"Company": "Unknown", **fields}
            rec = self._insert(org, t, dict(fields), created_by, created_date)
            return with_computed(t, rec)

    def get_record(self, org_id: str, type_name: str, record_id: str) -> dict[str, Any] | None:
        t = _type(type_name)
        with self._lock:
            rec = self.find_record(self.org(org_id), t, record_id)
            return with_computed(t, rec) if rec else None

    def update_record(
        self,
        org_id: str,
        type_name: str,
        record_id: str,
        fields: dict[str, Any],
        modified_by: str | None = None,
    ) -> dict[str, Any]:
        """A change made by a Salesforce user in the UI (no validation)."""
        t = _type(type_name)
        with self._lock:
            org = self.org(org_id)
            rec = self.find_record(org, t, record_id)
            if rec is None:
                raise KeyError(record_id)
            rec.update(fields)
            self.touch(org, t, rec, modified_by or org.default_user.id, human=True)
            return with_computed(t, rec)

    def delete_record(self, org_id: str, type_name: str, record_id: str) -> None:
        t = _type(type_name)
        with self._lock:
            org = self.org(org_id)
            rec = self.find_record(org, t, record_id)
            if rec is None:
                raise KeyError(record_id)
            rec["IsDeleted"] = True
            self.touch(org, t, rec, org.default_user.id, human=False)

    def undelete_record(self, org_id: str, type_name: str, record_id: str) -> dict[str, Any]:
        """A deleted record restored from the recycle bin, as a user does in Salesforce (or
        the SOAP API's undelete): found again, and an UNDELETE change event. ValueError when
        the record is not in the recycle bin (Salesforce's UNDELETE_FAILED)."""
        t = _type(type_name)
        with self._lock:
            org = self.org(org_id)
            rec = self.find_record(org, t, record_id)
            if rec is None:
                raise KeyError(record_id)
            if not rec.get("IsDeleted"):
                raise ValueError("UNDELETE_FAILED: Entity is not in the recycle bin")
            rec["IsDeleted"] = False
            self.touch(org, t, rec, org.default_user.id, human=False)
            return with_computed(t, rec)

    # -- Contacts (the names existing tests use) ---------------------------------
    def add_contact(
        self,
        org_id: str,
        fields: dict[str, Any],
        created_by: str | None = None,
        created_date: datetime | str | None = None,
    ) -> dict[str, Any]:
        return self.add_record(org_id, "Contact", fields, created_by, created_date)

    def update_contact(
        self, org_id: str, contact_id: str, fields: dict[str, Any], modified_by: str | None = None
    ) -> dict[str, Any]:
        return self.update_record(org_id, "Contact", contact_id, fields, modified_by)

    def delete_contact(self, org_id: str, contact_id: str) -> None:
        self.delete_record(org_id, "Contact", contact_id)

    def get_contact(self, org_id: str, contact_id: str) -> dict[str, Any] | None:
        return self.get_record(org_id, "Contact", contact_id)

    def bulk_create_contacts(
        self,
        org_id: str,
        n: int,
        created_by: str | None = None,
        created_date: datetime | str | None = None,
        email_domain: str = "import.example",
        last_name_prefix: str = "Imported",
    ) -> list[dict[str, Any]]:
        """n contacts sharing one CreatedDate second and CreatedById (an import batch)."""
        ts = created_date or self.clock.now()
        out = []
        with self._lock:
            org = self.org(org_id)
            batch = self._next_number
            for i in range(n):
                fields = {
                    "FirstName": "Row",
                    "LastName": f"{last_name_prefix} {i + 1}",
                    "Email": f"row{i + 1}.b{batch}@{email_domain}",
                    "Phone": f"+1 415 555 {(batch + i) % 10000:04d}",
                    "LeadSource": "Purchased List",
                }
                out.append(
                    with_computed(CONTACT, self._insert(org, CONTACT, fields, created_by, ts))
                )
        return out

    # -- Leads -------------------------------------------------------------------
    def add_lead(self, org_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        return self.add_record(org_id, "Lead", fields)

    def convert_lead(
        self,
        org_id: str,
        lead_id: str,
        contact_id: str | None = None,
        converted_status: str = CONVERTED_STATUS,
        converted_by: str | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Convert a Lead as a user would: into a new Contact (its name, email, phones...)
        or into an existing one. Returns (lead, contact)."""
        with self._lock:
            org = self.org(org_id)
            lead = self.find_record(org, LEAD, lead_id)
            if lead is None or lead.get("IsDeleted"):
                raise KeyError(lead_id)
            if lead.get("IsConverted"):
                raise ValueError("the lead is already converted")
            user = converted_by or org.default_user.id
            if contact_id:
                contact = self.find_record(org, CONTACT, contact_id)
                if contact is None or contact.get("IsDeleted"):
                    raise KeyError(contact_id)
            else:
                fields = {k: lead.get(k) for k in LEAD_TO_CONTACT if lead.get(k) is not None}
                contact = self._insert(org, CONTACT, fields, created_by=user)
            lead.update(
                {
                    "IsConverted": True,
                    "Status": converted_status,
                    "ConvertedContactId": contact["Id"],
                    "ConvertedDate": self.clock.now().date().isoformat(),
                }
            )
            self.touch(org, LEAD, lead, user, human=True)
            return with_computed(LEAD, lead), with_computed(CONTACT, contact)

    # -- Task statuses -------------------------------------------------------------
    def set_task_statuses(self, org_id: str, statuses: list[dict[str, Any]]) -> None:
        """[{"label": "Done", "closed": true, "default": false}, ...]; one default."""
        rows = [(str(s["label"]), bool(s.get("closed")), bool(s.get("default"))) for s in statuses]
        if not rows or sum(1 for r in rows if r[2]) != 1:
            raise ValueError("give at least one status and exactly one default")
        if not any(r[1] for r in rows):
            raise ValueError("at least one status must be closed")
        with self._lock:
            self.org(org_id).task_statuses = rows

    # -- outbound messages -------------------------------------------------------
    async def send_outbound_messages(
        self,
        org_id: str,
        url: str,
        contact_ids: list[str],
        batch_size: int = 100,
        fields: list[str] | None = None,
    ) -> list[int]:
        """POST Outbound Message SOAP to url, <=100 notifications a message; status per message.

        A Contact deleted before delivery is sent with an empty sObject."""
        deliveries = outbound.build_deliveries(
            self, org_id, url, contact_ids, batch_size=batch_size, fields=fields
        )
        return [await outbound.deliver(self, d) for d in deliveries]

    async def resend_outbound_message(self, message_id: str | None = None) -> int:
        """POST again, byte for byte, an earlier message (default: the last one sent)."""
        with self._lock:
            if not self.outbound_log:
                raise LookupError("no outbound message was sent yet")
            delivery = self.outbound_log[-1]
            if message_id is not None:
                delivery = next(d for d in self.outbound_log if d.message_id == message_id)
        return await outbound.deliver(self, delivery, resend=True)
