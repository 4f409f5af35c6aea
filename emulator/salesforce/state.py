"""In-memory state of the Salesforce emulator: orgs, users, records, tokens,
switches and counters. Thread-safe: tests touch it from another thread."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from . import outbound
from .errors import FAULTS
from .models import DEFAULT_API_MAX, Org, User
from .schema import CONTACT, LEAD, ORGANIZATION, USER, SObjectType, sobject, with_computed
from .tokens import TokenStore
from .util import fmt_datetime, make_id, now, parse_datetime, same_id

SEED_PATH = Path(__file__).with_name("seed.json")
API_VERSIONS = [f"{n}.0" for n in range(20, 66)]


def _as_sf_datetime(value: datetime | str | None, default: datetime) -> str:
    if value is None:
        return fmt_datetime(default)
    if isinstance(value, datetime):
        return fmt_datetime(value)
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a datetime: {value!r}")
    return fmt_datetime(parsed)


class SalesforceEmulator(TokenStore):
    """The whole emulated Salesforce: see emulator/README.md."""

    def __init__(
        self,
        seed_path: str | Path | None = None,
        *,
        rotate_refresh_tokens: bool = False,
        latency_ms: int = 0,
        client_id: str = "emulator-client-id",
        client_secret: str = "emulator-client-secret",
    ) -> None:
        self._lock = threading.RLock()
        self.base_url: str | None = None
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.latency_ms = latency_ms
        self.session_seconds = 2 * 60 * 60
        self.query_batch_size = 2000
        self.client_id = client_id
        self.client_secret = client_secret
        self.clients: dict[str, str] = {client_id: client_secret}
        self.counters: Counter[str] = Counter()
        self.orgs: dict[str, Org] = {}
        self.schema_last_modified = now()
        self.cursors: dict[str, dict[str, Any]] = {}
        self.outbound_log: list[outbound.Delivery] = []
        self._next_number = 7_000_000
        self._init_tokens()
        self.load_seed(seed_path or SEED_PATH)

    # -- seed ------------------------------------------------------------------
    def load_seed(self, path: str | Path) -> None:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        with self._lock:
            if data.get("schema_last_modified"):
                parsed = parse_datetime(data["schema_last_modified"])
                if parsed:
                    self.schema_last_modified = parsed
            for o in data["orgs"]:
                org = Org(
                    id=o["id"],
                    name=o["name"],
                    edition=o.get("edition", "Enterprise Edition"),
                    instance_name=o.get("instance_name", "AP24"),
                    api_enabled=o.get("api_enabled", True),
                    is_sandbox=o.get("is_sandbox", False),
                    my_domain=o.get("my_domain", ""),
                    country=o.get("country", "United States"),
                    timezone=o.get("timezone", "America/Los_Angeles"),
                    created_date=o.get("created_date", "2023-06-01T00:00:00.000+0000"),
                    outbound_action_id=o.get("outbound_action_id") or make_id("04k", 1),
                    api_max=o.get("api_max", DEFAULT_API_MAX),
                    api_usage=o.get("api_usage", 0),
                    validation_rules=list(o.get("validation_rules", [])),
                )
                for u in o["users"]:
                    user = User(**u)
                    org.users[user.id] = user
                self.orgs[org.id] = org
                for type_name, key in (("Contact", "contacts"), ("Lead", "leads")):
                    for rec in o.get(key, []):
                        self._insert(org, sobject(type_name) or CONTACT, dict(rec))

    def _insert(
        self,
        org: Org,
        t: SObjectType,
        fields: dict[str, Any],
        created_by: str | None = None,
        created_date: datetime | str | None = None,
    ) -> dict[str, Any]:
        ts = now()
        created = _as_sf_datetime(fields.pop("CreatedDate", None) or created_date, ts)
        user = created_by or fields.pop("CreatedById", None) or org.default_user.id
        rec: dict[str, Any] = {f.name: f.default for f in t.fields if f.compute is None}
        rec.update({k: v for k, v in fields.items()})
        rec["Id"] = fields.get("Id") or self._new_id(t.key_prefix)
        rec["IsDeleted"] = bool(fields.get("IsDeleted", False))
        rec["OwnerId"] = fields.get("OwnerId") or user
        rec["CreatedDate"] = created
        rec["CreatedById"] = user
        rec["LastModifiedDate"] = _as_sf_datetime(fields.get("LastModifiedDate"), ts)
        if "LastModifiedDate" not in fields:
            rec["LastModifiedDate"] = created
        rec["LastModifiedById"] = fields.get("LastModifiedById") or user
        rec["SystemModstamp"] = rec["LastModifiedDate"]
        org.objects[t.name][rec["Id"]] = rec
        return rec

    def _new_id(self, prefix: str) -> str:
        with self._lock:
            self._next_number += 1
            return make_id(prefix, self._next_number)

    # -- lookups ---------------------------------------------------------------
    def org(self, org_id: str) -> Org:
        with self._lock:
            for oid, org in self.orgs.items():
                if same_id(oid, org_id):
                    return org
        raise KeyError(f"no such org: {org_id}")

    def find_user(self, username: str) -> tuple[Org, User] | None:
        with self._lock:
            for org in self.orgs.values():
                for user in org.users.values():
                    if user.username.lower() == username.strip().lower():
                        return org, user
        return None

    def user(self, org_id: str, user_id: str) -> User | None:
        with self._lock:
            org = self.org(org_id)
            for uid, user in org.users.items():
                if same_id(uid, user_id):
                    return user
        return None

    def find_record(self, org: Org, t: SObjectType, record_id: str) -> dict[str, Any] | None:
        """The stored record (deleted or not) by 15- or 18-char id; caller holds the lock."""
        if t is ORGANIZATION:
            return org.record() if same_id(org.id, record_id) else None
        if t is USER:
            for u in org.users.values():
                if same_id(u.id, record_id):
                    return u.record()
            return None
        table = org.objects[t.name]
        if record_id in table:
            return table[record_id]
        for rid, rec in table.items():
            if same_id(rid, record_id):
                return rec
        return None

    def snapshot(self, org_id: str, type_name: str) -> list[dict[str, Any]]:
        """Copies of all records of a type, with calculated fields, for queries."""
        t = sobject(type_name)
        if t is None:
            raise KeyError(type_name)
        with self._lock:
            org = self.org(org_id)
            if t is ORGANIZATION:
                rows = [org.record()]
            elif t is USER:
                rows = [u.record() for u in org.users.values()]
            else:
                rows = list(org.objects[t.name].values())
            return [with_computed(t, r) for r in rows]

    # -- counters, switches, usage -----------------------------------------------
    def reset_counters(self) -> None:
        with self._lock:
            self.counters.clear()

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counters[key] += n

    def set_fault(self, org_id: str, fault: str | None, count: int | None = None) -> None:
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {sorted(FAULTS)}")
        with self._lock:
            org = self.org(org_id)
            org.fault = fault
            org.fault_remaining = count if fault else None

    def take_fault(self, org: Org) -> str | None:
        with self._lock:
            fault = org.fault
            if fault and org.fault_remaining is not None:
                org.fault_remaining -= 1
                if org.fault_remaining <= 0:
                    org.fault, org.fault_remaining = None, None
            return fault

    def use_api(self, org: Org) -> bool:
        """Count one API request for the org; False when over the daily allocation."""
        with self._lock:
            if org.api_usage >= org.api_max:
                return False
            org.api_usage += 1
            return True

    def limit_info(self, org: Org) -> str:
        with self._lock:
            return f"api-usage={org.api_usage}/{org.api_max}"

    # -- data API for tests ----------------------------------------------------
    def add_contact(
        self,
        org_id: str,
        fields: dict[str, Any],
        created_by: str | None = None,
        created_date: datetime | str | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            org = self.org(org_id)
            rec = self._insert(org, CONTACT, dict(fields), created_by, created_date)
            return with_computed(CONTACT, rec)

    def add_lead(self, org_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            org = self.org(org_id)
            fields = {"Company": "Unknown", "Status": "Open - Not Contacted", **fields}
            return with_computed(LEAD, self._insert(org, LEAD, fields))

    def touch(self, rec: dict[str, Any], user_id: str, *, at_least_one_second: bool) -> None:
        """Bump LastModifiedDate/SystemModstamp (whole seconds, never backwards).

        A simulated human edit moves the date forward by at least one second so
        that an If-Unmodified-Since carrying the previous value always sees it."""
        prev = parse_datetime(rec["LastModifiedDate"]) or now()
        ts = now()
        if at_least_one_second:
            ts = max(ts, prev + timedelta(seconds=1))
        else:
            ts = max(ts, prev)
        rec["LastModifiedDate"] = rec["SystemModstamp"] = fmt_datetime(ts)
        rec["LastModifiedById"] = user_id

    def update_contact(
        self, org_id: str, contact_id: str, fields: dict[str, Any], modified_by: str | None = None
    ) -> dict[str, Any]:
        """A change made by a Salesforce user in the UI (no validation)."""
        with self._lock:
            org = self.org(org_id)
            rec = self.find_record(org, CONTACT, contact_id)
            if rec is None:
                raise KeyError(contact_id)
            rec.update(fields)
            self.touch(rec, modified_by or org.default_user.id, at_least_one_second=True)
            return with_computed(CONTACT, rec)

    def delete_contact(self, org_id: str, contact_id: str) -> None:
        with self._lock:
            org = self.org(org_id)
            rec = self.find_record(org, CONTACT, contact_id)
            if rec is None:
                raise KeyError(contact_id)
            rec["IsDeleted"] = True
            self.touch(rec, org.default_user.id, at_least_one_second=False)

    def get_contact(self, org_id: str, contact_id: str) -> dict[str, Any] | None:
        with self._lock:
            rec = self.find_record(self.org(org_id), CONTACT, contact_id)
            return with_computed(CONTACT, rec) if rec else None

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
        ts = created_date or now()
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

    # -- outbound messages -------------------------------------------------------
    async def send_outbound_messages(
        self,
        org_id: str,
        url: str,
        contact_ids: list[str],
        batch_size: int = 100,
        fields: list[str] | None = None,
    ) -> list[int]:
        """POST Outbound Message SOAP to url, <=100 notifications a message; status per message."""
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
