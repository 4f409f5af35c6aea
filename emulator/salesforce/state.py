"""In-memory state of the Salesforce emulator: orgs, users, records, tokens,
switches and counters. Thread-safe: tests touch it from another thread."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import Counter, deque
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from . import outbound, person_accounts
from .approvals import Approvals
from .apps import DEFAULT_REFRESH_IDLE_DAYS, ConnectedApp
from .change_events import ChangeEvents
from .client_credentials import ClientCredentials
from .clock import Clock
from .data import DataAPI
from .errors import FAULTS
from .fields import CUSTOMIZABLE, Field, custom_field
from .models import DEFAULT_API_MAX, Org, User
from .request_log import RequestLog
from .schema import ORGANIZATION, TASK, TASK_STATUS, USER, SObjectType, sobject, with_computed
from .schema_customer import number_case
from .tokens import TokenStore
from .util import fmt_datetime, make_id, now, parse_datetime, same_id

SEED_PATH = Path(__file__).with_name("seed.json")
SEEDED_TYPES = (
    ("Account", "accounts"),
    ("Contact", "contacts"),
    ("Lead", "leads"),
    ("Task", "tasks"),
    ("Opportunity", "opportunities"),
    ("Case", "cases"),
)


def _as_sf_datetime(value: datetime | str | None, default: datetime) -> str:
    """A stored datetime: Salesforce keeps whole seconds (a written .500 reads .000)."""
    if value is None:
        return fmt_datetime(default)
    if isinstance(value, datetime):
        return fmt_datetime(value.replace(microsecond=0))
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a datetime: {value!r}")
    return fmt_datetime(parsed.replace(microsecond=0))


class SalesforceEmulator(Approvals, ClientCredentials, TokenStore, DataAPI):
    """The whole emulated Salesforce: see emulator/README.md."""

    # Bumped when the saved state's shape changes (emulator/persistence.py starts fresh then):
    # 3 added Account, Opportunity, Case and Person Accounts.
    STATE_VERSION = 3

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
        self.state_version = self.STATE_VERSION
        self.clock = Clock()
        self.base_url: str | None = None
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.latency_ms = latency_ms
        self.session_seconds = 2 * 60 * 60
        self.refresh_token_idle_days: int | None = DEFAULT_REFRESH_IDLE_DAYS
        self.query_batch_size = 2000
        # Seconds (emulator clock) before a new or changed record is visible to SOSL.
        self.search_index_delay_seconds = 0
        # SOQL datetime literals only as YYYY-MM-DDThh:mm:ssZ or ±hh:mm (no millis).
        self.strict_soql_datetimes = True
        # Keys replacing those of every token answer (a hostile or broken login host, e.g.
        # {"instance_url": "https://evil.example"}); the grant is issued as usual.
        self.token_answer_overrides: dict[str, Any] = {}
        self.client_id = client_id
        self.client_secret = client_secret
        self.apps: dict[str, ConnectedApp] = {client_id: ConnectedApp(client_id, client_secret)}
        self.counters: Counter[str] = Counter()
        self.requests = RequestLog()  # what the service sent (request_log.py)
        # The text of the latest SOQL and SOSL requests, oldest first (tests read it).
        self.queries: deque[str] = deque(maxlen=1000)
        # Every REST call: [arrived, answered] on time.monotonic() (answered None while in
        # flight), so a test can tell what happened before a call was even made.
        self.rest_calls: deque[list[float | None]] = deque(maxlen=10_000)
        self.orgs: dict[str, Org] = {}
        self.schema_last_modified = now()
        self.cursors: dict[str, dict[str, Any]] = {}
        self.outbound_log: list[outbound.Delivery] = []
        self._next_number = 7_000_000
        self._task_types: dict[tuple[Any, ...], SObjectType] = {}
        self._init_tokens()
        self.change_events = ChangeEvents()  # Change Data Capture (change_events.py)
        self.pubsub: Any = None  # the gRPC servicer once started (pubsub_server.py)
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
                    duplicate_rules=list(o.get("duplicate_rules", [])),
                    connected_app_installed=o.get("connected_app_installed", False),
                    person_accounts=bool(o.get("person_accounts_enabled", False)),
                )
                for u in o["users"]:
                    user = User(**u)
                    org.users[user.id] = user
                self.orgs[org.id] = org
                for type_name, key in SEEDED_TYPES:
                    t = sobject(type_name)
                    assert t is not None
                    for rec in o.get(key, []):
                        self._insert(org, t, dict(rec))
                for rec in o.get("person_accounts", []):
                    person_accounts.insert(self, org, dict(rec))

    def _insert(
        self,
        org: Org,
        t: SObjectType,
        fields: dict[str, Any],
        created_by: str | None = None,
        created_date: datetime | str | None = None,
    ) -> dict[str, Any]:
        ts = self.clock.now()
        created = _as_sf_datetime(fields.pop("CreatedDate", None) or created_date, ts)
        user = created_by or fields.pop("CreatedById", None) or org.default_user.id
        rec: dict[str, Any] = {f.name: f.default for f in t.fields if f.compute is None}
        # An explicit null on a field with a default (Status, Priority...) keeps the default.
        rec.update({k: v for k, v in fields.items() if v is not None or rec.get(k) is None})
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
        self.after_write(org, t, rec)
        return rec

    def _new_id(self, prefix: str) -> str:
        with self._lock:
            self._next_number += 1
            return make_id(prefix, self._next_number)

    def after_write(self, org: Org, t: SObjectType, rec: dict[str, Any]) -> None:
        """Derived values (Task IsClosed) and the search index, after any write."""
        if t.name == "Case":
            number_case(org, rec)
        if t.name == "Account" and org.person_accounts:
            person_accounts.sync_contact(self, org, rec)
        if t.name == "Task":
            closed = {label for label, is_closed, _ in org.task_statuses if is_closed}
            was_closed = rec.get("IsClosed")
            rec["IsClosed"] = rec.get("Status") in closed
            if rec["IsClosed"] and not was_closed:
                rec["CompletedDateTime"] = fmt_datetime(self.clock.now())
        visible = self.clock.now() + timedelta(seconds=self.search_index_delay_seconds)
        versions = org.search_index.setdefault(rec["Id"], [])
        versions.append((visible, dict(rec)))
        self.change_events.record_write(org.id, t, rec)

    def touch(
        self, org: Org, t: SObjectType, rec: dict[str, Any], user_id: str, *, human: bool
    ) -> None:
        """Bump LastModifiedDate/SystemModstamp (whole seconds, never backwards).

        A simulated human edit moves the date forward by at least one second so
        that an If-Unmodified-Since carrying the previous value always sees it."""
        prev = parse_datetime(rec["LastModifiedDate"]) or self.clock.now()
        ts = self.clock.now()
        ts = max(ts, prev + timedelta(seconds=1)) if human else max(ts, prev)
        rec["LastModifiedDate"] = rec["SystemModstamp"] = fmt_datetime(ts)
        rec["LastModifiedById"] = user_id
        self.after_write(org, t, rec)

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

    def _user_active(self, org_id: str, user_id: str) -> bool:
        user = self.user(org_id, user_id)
        return user is not None and user.active

    def org_type(self, org: Org, name: str) -> SObjectType | None:
        """The object as this org describes it (Task's Status values are the org's own;
        Contact and Account carry the person fields where Person Accounts are enabled; the
        custom fields its admin added come last)."""
        t = self._org_type(org, name)
        # getattr: a state file saved by an older emulator (make run) has no such attribute.
        added = getattr(org, "custom_fields", {}).get(t.name) if t is not None else None
        if t is None or not added:
            return t
        return dataclasses.replace(t, fields=[*t.fields, *added])

    def add_custom_field(
        self,
        org_id: str,
        type_name: str,
        name: str,
        field_type: str = "string",
        label: str | None = None,
        length: int | None = None,
    ) -> tuple[Field, str | None]:
        """A custom field an admin adds in Setup > Object Manager: in the object's describe
        at once (its Last-Modified moves), readable and writable through the API, and in the
        object's change events, whose schema gets a new id (events published before keep
        theirs). The field and that schema id (None: the object has no change events).
        ValueError as Setup refuses: a name that is not `Name__c`, a name taken, a type
        not offered here."""
        with self._lock:
            org = self.org(org_id)
            t = self.org_type(org, type_name)
            if t is None or t.name not in CUSTOMIZABLE:
                raise ValueError(f"no custom fields on {type_name}")
            added = custom_field(name, field_type, label, length)
            if t.field(name) is not None:
                raise ValueError(f"DUPLICATE_DEVELOPER_NAME: {t.name} already has {name}")
            if not hasattr(org, "custom_fields"):
                org.custom_fields = {}
            org.custom_fields.setdefault(t.name, []).append(added)
            step = self.schema_last_modified + timedelta(seconds=1)
            self.schema_last_modified = max(self.clock.now(), step)
            base = sobject(t.name)
            assert base is not None
            full = dataclasses.replace(base, fields=[*base.fields, *org.custom_fields[t.name]])
            schema = self.change_events.change_schema(org.id, full)
            return added, schema.id if schema is not None else None

    def _org_type(self, org: Org, name: str) -> SObjectType | None:
        t = sobject(name)
        if org.person_accounts and t is not None and t.name in ("Contact", "Account"):
            return person_accounts.org_type(t.name)
        if t is not TASK:
            return t
        key = tuple(org.task_statuses)
        with self._lock:
            cached = self._task_types.get(key)
            if cached is None:
                default = next((s[0] for s in key if s[2]), key[0][0])
                fields = [
                    dataclasses.replace(
                        f, picklist=tuple(s[0] for s in key), default=default, restricted=True
                    )
                    if f.name == "Status"
                    else f
                    for f in TASK.fields
                ]
                cached = dataclasses.replace(TASK, fields=fields)
                self._task_types[key] = cached
            return cached

    def find_record(self, org: Org, t: SObjectType, record_id: str) -> dict[str, Any] | None:
        """The stored record (deleted or not) by 15- or 18-char id; caller holds the lock."""
        if t is ORGANIZATION:
            return org.record() if same_id(org.id, record_id) else None
        if t is USER:
            for u in org.users.values():
                if same_id(u.id, record_id):
                    return u.record()
            return None
        if t.name not in org.objects:
            return None
        table = org.objects[t.name]
        if record_id in table:
            return table[record_id]
        for rid, rec in table.items():
            if same_id(rid, record_id):
                return rec
        return None

    def task_status_rows(self, org: Org) -> list[dict[str, Any]]:
        rows = []
        for i, (label, closed, default) in enumerate(org.task_statuses, start=1):
            rows.append(
                {
                    "Id": make_id("01J", 100 + i),
                    "MasterLabel": label,
                    "ApiName": label,
                    "SortOrder": i,
                    "IsDefault": default,
                    "IsClosed": closed,
                    "CreatedDate": org.created_date,
                    "CreatedById": org.default_user.id,
                    "LastModifiedDate": org.created_date,
                    "LastModifiedById": org.default_user.id,
                    "SystemModstamp": org.created_date,
                    "IsDeleted": False,
                }
            )
        return rows

    def snapshot(self, org_id: str, type_name: str) -> list[dict[str, Any]]:
        """Copies of all records of a type, with calculated fields, for queries."""
        with self._lock:
            org = self.org(org_id)
            t = self.org_type(org, type_name)
            if t is None:
                raise KeyError(type_name)
            if t is ORGANIZATION:
                rows = [org.record()]
            elif t is USER:
                rows = [u.record() for u in org.users.values()]
            elif t is TASK_STATUS:
                rows = self.task_status_rows(org)
            else:
                rows = list(org.objects[t.name].values())
            return [with_computed(t, r) for r in rows]

    def searchable(self, org_id: str, type_name: str) -> list[tuple[dict, dict]]:
        """(indexed copy to match against, current record) for SOSL; records the index
        has not caught up with yet are matched on their older version, or not at all."""
        t = sobject(type_name)
        if t is None:
            raise KeyError(type_name)
        out = []
        with self._lock:
            org = self.org(org_id)
            at = self.clock.now()
            for rec in org.objects.get(t.name, {}).values():
                versions = org.search_index.get(rec["Id"], [])
                seen = [v for v in versions if v[0] <= at]
                if not seen:
                    continue
                org.search_index[rec["Id"]] = versions[versions.index(seen[-1]) :]
                out.append((with_computed(t, seen[-1][1]), with_computed(t, rec)))
        return out

    def __setstate__(self, values: dict[str, Any]) -> None:
        """A state saved by an older emulator (emulator/persistence.py) gains what it lacks."""
        self.__dict__.update(values)
        self.__dict__.setdefault("rest_calls", deque(maxlen=10_000))

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
