"""Orgs and users of the emulated Salesforce."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .fields import Field
from .schema_sales import TASK_STATUSES

DEFAULT_API_MAX = 15000


@dataclass
class User:
    id: str
    username: str
    password: str
    first_name: str
    last_name: str
    email: str
    alias: str = ""
    timezone: str = "America/Los_Angeles"
    locale: str = "en_US"
    language: str = "en_US"
    active: bool = True
    created_date: str = "2024-01-10T08:00:00.000+0000"
    api_enabled: bool = True  # the profile's "API Enabled" permission
    profile: str = "System Administrator"
    # "Approve Uninstalled Connected Apps" (System Administrator has it, custom profiles not).
    approve_uninstalled_apps: bool = False

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def record(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Username": self.username,
            "FirstName": self.first_name,
            "LastName": self.last_name,
            "Email": self.email,
            "Alias": self.alias or (self.first_name[:1] + self.last_name[:4]).lower(),
            "IsActive": self.active,
            "UserType": "Standard",
            "TimeZoneSidKey": self.timezone,
            "LocaleSidKey": self.locale,
            "LanguageLocaleKey": self.language,
            "CreatedDate": self.created_date,
            "CreatedById": self.id,
            "LastModifiedDate": self.created_date,
            "LastModifiedById": self.id,
            "SystemModstamp": self.created_date,
            "IsDeleted": False,
        }


@dataclass
class Org:
    id: str
    name: str
    edition: str = "Enterprise Edition"
    instance_name: str = "AP24"
    api_enabled: bool = True
    is_sandbox: bool = False
    my_domain: str = ""
    country: str = "United States"
    timezone: str = "America/Los_Angeles"
    created_date: str = "2023-06-01T00:00:00.000+0000"
    outbound_action_id: str = ""
    api_max: int = DEFAULT_API_MAX
    api_usage: int = 0
    # Whether an admin installed the emulator's connected app in the org (Setup > Connected
    # Apps OAuth Usage > Install); if not, only users who may approve uninstalled apps can
    # authorize it. Salesforce keeps `approval_limit` approvals per app and user (None: no
    # limit): the next one revokes the oldest.
    connected_app_installed: bool = False
    approval_limit: int | None = 5
    users: dict[str, User] = field(default_factory=dict)
    objects: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {
            "Contact": {},
            "Lead": {},
            "Task": {},
            "Account": {},
            "Opportunity": {},
            "Case": {},
        }
    )
    # Person Accounts enabled: Contact and Account describe `IsPersonAccount` and the
    # person fields (emulator/salesforce/person_accounts.py).
    person_accounts: bool = False
    validation_rules: list[dict[str, Any]] = field(default_factory=list)
    # Duplicate rules: {"object", "fields", "action": "block"|"alert", "match_objects"...}
    duplicate_rules: list[dict[str, Any]] = field(default_factory=list)
    # Write faults: {"object", "record_id", "operations", "error_code", ..., "remaining"}
    write_faults: list[dict[str, Any]] = field(default_factory=list)
    # Task statuses: (label, closed, default), in picklist order.
    task_statuses: list[tuple[str, bool, bool]] = field(default_factory=lambda: list(TASK_STATUSES))
    # The search index: record id -> versions (visible from, searchable copy), oldest first.
    search_index: dict[str, list[tuple[datetime, dict[str, Any]]]] = field(default_factory=dict)
    fault: str | None = None
    fault_remaining: int | None = None
    # Field-level security: profile -> object -> fields its users cannot read.
    hidden_fields: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # The active Lead assignment rule's owner (None: no active rule).
    lead_assignment_owner: str | None = None
    # Objects with millions of rows: non-selective filters answer QUERY_TIMEOUT.
    large_tables: set[str] = field(default_factory=set)
    # Custom fields an admin added (Setup > Object Manager): object -> fields, described after
    # the standard ones (SalesforceEmulator.add_custom_field).
    custom_fields: dict[str, list[Field]] = field(default_factory=dict)

    @property
    def contacts(self) -> dict[str, dict[str, Any]]:
        return self.objects["Contact"]

    @property
    def leads(self) -> dict[str, dict[str, Any]]:
        return self.objects["Lead"]

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        return self.objects["Task"]

    @property
    def default_user(self) -> User:
        return next(iter(self.users.values()))

    def record(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Name": self.name,
            "Division": None,
            "OrganizationType": self.edition,
            "InstanceName": self.instance_name,
            "IsSandbox": self.is_sandbox,
            "Country": self.country,
            "PrimaryContact": self.default_user.name if self.users else None,
            "DefaultLocaleSidKey": "en_US",
            "LanguageLocaleKey": "en_US",
            "TimeZoneSidKey": self.timezone,
            "NamespacePrefix": None,
            "CreatedDate": self.created_date,
            "CreatedById": self.default_user.id if self.users else None,
            "LastModifiedDate": self.created_date,
            "LastModifiedById": self.default_user.id if self.users else None,
            "SystemModstamp": self.created_date,
            "IsDeleted": False,
        }
