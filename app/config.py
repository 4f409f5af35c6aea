"""One Settings class, read from the environment (and `.env` in development)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that are fine on a laptop and must never reach production.
DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789"
DEV_ENCRYPTION_KEY = "ZGV2LW9ubHktZmVybmV0LWtleS1jaGFuZ2UtbWUtMDE="
DEV_CLIENT_ID = "emulator-client-id"
DEV_CLIENT_SECRET = "emulator-client-secret"
_PLACEHOLDERS = {"", "changeme", "change-me", "secret", DEV_JWT_SECRET, DEV_ENCRYPTION_KEY}
# Salesforce retired REST API versions 7.0 to 30.0 (the last ones in Summer '25): 410 Gone.
LAST_RETIRED_API_VERSION = 30

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_PORT = re.compile(r"[0-9]{1,5}")


def checked_host(value: str, *, allow_port: bool = False) -> str:
    """`value` lower-cased when it is a host name (letters, digits, hyphens, dots; no empty
    label) with, when `allow_port`, an optional `:port`; else ValueError. A browser reads `\\`
    as `/` and `@` as the end of a user name, so nothing else may reach a URL we build."""
    host, sep, port = value.strip().lower().partition(":")
    if sep and (not allow_port or not _PORT.fullmatch(port) or not 0 < int(port) < 65536):
        raise ValueError(f"not a host name: {value!r} (letters, digits, '-' and '.' only)")
    if len(host) > 253 or not _HOSTNAME.fullmatch(host):
        raise ValueError(f"not a host name: {value!r} (letters, digits, '-' and '.' only)")
    return f"{host}:{port}" if sep else host


def _host_list(value: str, *, allow_port: bool) -> str:
    for item in value.split(","):
        if item.strip():
            checked_host(item, allow_port=allow_port)
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "production"
    log_level: str = "INFO"
    # Traces (docs/operations.md): the standard OpenTelemetry variables. Spans are exported
    # over OTLP/HTTP only when the endpoint is set; `traceparent` is propagated regardless.
    otel_exporter_otlp_endpoint: str | None = None
    otel_service_name: str = "salesforce-integration"

    database_url: str | None = None
    db_pool_size: int = 10
    # Every wait on PostgreSQL is bounded (app.db): making or getting a connection, and each
    # statement. Past them the request answers 503 `service_unavailable`.
    database_connect_timeout_seconds: float = Field(default=2.0, gt=0)
    database_statement_timeout_seconds: float = Field(default=5.0, gt=0)

    service_jwt_secret: str = ""
    service_jwt_audience: str = "salesforce-integration"
    service_jwt_issuer: str | None = None
    service_jwt_algorithm: Literal["HS256"] = "HS256"
    # Verified caller tokens kept per process (until each one's exp); 0 verifies every time.
    service_jwt_cache_max_entries: int = 10_000

    salesforce_client_id: str = ""
    salesforce_client_secret: str = ""
    salesforce_login_url: str = "https://login.salesforce.com"
    salesforce_sandbox_login_url: str = "https://test.salesforce.com"
    # The newest GA version Salesforce documents at build time (Winter '27).
    salesforce_api_version: str = "v68.0"
    salesforce_extra_allowed_hosts: str = ""
    salesforce_timeout_seconds: float = 10.0
    # How long a create or an activity holds its Idempotency-Key / external_id before another
    # request may settle it (it may have died): at most 30 s (contract), and longer than one
    # attempt can take (2 x SALESFORCE_TIMEOUT_SECONDS + 1), so a live one is never settled.
    writeback_lease_seconds: float = Field(default=25.0, gt=0, le=30)
    # Per org: this many timeouts/5xx/network failures in a row (each within the window of
    # the previous one) and Salesforce is not called for SALESFORCE_BREAKER_OPEN_SECONDS.
    salesforce_breaker_failures: int = 3
    salesforce_breaker_window_seconds: float = 30.0
    salesforce_breaker_open_seconds: float = 15.0
    salesforce_max_connections: int = 100
    # Every connection is refreshed at least this often, so Salesforce's idle refresh-token
    # expiry ("expire if not used for N days") never ends a quiet workspace's connection.
    salesforce_keepalive_hours: float = 24.0

    public_base_url: str = "http://127.0.0.1:8000"
    allowed_return_hosts: str = "app.respond.io"
    token_encryption_keys: str = ""

    lookup_cache_ttl_seconds: float = 60.0
    # While the org's change stream is healthy its answers live this long (docs/real-time.md).
    lookup_cache_ttl_streaming_seconds: float = 3600.0
    # Change Data Capture over Salesforce's Pub/Sub API (gRPC), run by the workers.
    change_stream_enabled: bool = True
    salesforce_pubsub_address: str = "api.pubsub.salesforce.com:7443"
    # A worker holds an org's stream under a lease it renews every third of this.
    change_stream_lease_seconds: float = Field(default=20.0, gt=0)
    # No message at all (events or keepalives, sent at least every 270 s) for this long:
    # the stream is dead and is opened again.
    change_stream_silence_seconds: float = Field(default=330.0, gt=0)
    # The name in `Sforce-Call-Options: client=<name>` of the service's own writes, which
    # change events carry back in `changeOrigin`.
    salesforce_client_name: str = "respondio-sfint"
    lookup_cache_max_entries: int = 100_000
    # How far back the recency query looks for records the lagging search index may miss.
    lookup_search_lag_seconds: float = Field(default=1800.0, ge=60)
    fields_cache_ttl_seconds: float = 600.0
    # Instead of the above while the org's change stream is healthy (docs/real-time.md):
    # a field removed or hidden is found at once (the query naming it fails and revalidates),
    # one added or relabelled shows within this time.
    fields_cache_ttl_streaming_seconds: float = 3600.0
    phone_default_region: str = "US"
    cache_url: str | None = None
    # Several deployments (or test runs) may share one Redis: each uses its own prefix.
    cache_key_prefix: str = "sfint:"
    # Bound of every Redis operation, and of a request's time on Redis in total.
    cache_timeout_seconds: float = Field(default=0.25, gt=0)
    cache_max_connections: int = 64
    # How long a replica's lock on one lookup's Salesforce call lasts if it dies mid-call.
    cache_lock_seconds: float = 20.0
    # With CACHE_URL: how long a replica serves a lookup answer from its own memory without
    # asking Redis (0 = always ask). Also the bound on a stale answer after a lost
    # invalidation message (app.workspace.near_cache).
    lookup_near_cache_ttl_seconds: float = 1.0
    lookup_near_cache_max_entries: int = 10_000

    respondio_api_base_url: str = "https://api.respond.io/v2"
    respondio_max_requests_per_second: float = 5.0
    respondio_timeout_seconds: float = 10.0
    autocreate_reconcile_interval_seconds: float = 60.0
    autocreate_reconcile_overlap_seconds: float = 300.0
    autocreate_bulk_min_batch: int = 10
    autocreate_bulk_settle_seconds: float = 5.0
    autocreate_max_attempts: int = 8
    autocreate_bulk_marker_tag: str = "Salesforce bulk import"
    autocreate_retry_base_seconds: float = 2.0
    autocreate_retry_max_seconds: float = 600.0
    autocreate_worker_concurrency: int = 20
    autocreate_job_heartbeat_seconds: float = 30.0
    autocreate_lease_seconds: float = 120.0
    autocreate_reconcile_page_size: int = 2000
    autocreate_reconcile_max_pages: int = 25
    autocreate_language_field: str = "Preferred_Language__c"
    webhook_max_body_bytes: int = 2_000_000
    # A request body must arrive within this (else 408): a slow client cannot hold a request.
    request_body_timeout_seconds: float = Field(default=10.0, gt=0)

    # The org's daily Salesforce API allocation (docs/api.md, "Salesforce API usage").
    salesforce_api_background_max_usage: float = Field(default=0.8, gt=0, le=1)
    salesforce_api_foreground_max_usage: float = Field(default=0.95, gt=0, le=1)
    lookup_miss_rate_per_workspace: float = Field(default=10.0, gt=0)
    lookup_miss_burst_per_workspace: int = Field(default=20, ge=1)
    # Salesforce-calling writes (edits, reverts, creates, activities) one workspace may make
    # per second on average, and at once (docs/api-allocation.md).
    salesforce_write_rate_per_workspace: float = Field(default=5.0, gt=0)
    salesforce_write_burst_per_workspace: int = Field(default=20, ge=1)
    # How often the per-purpose call counts and the usage seen are written to the store.
    api_usage_flush_seconds: float = Field(default=2.0, gt=0)
    # Reconciliation of a workspace where nothing new appears backs off up to this factor.
    autocreate_reconcile_max_backoff: int = Field(default=16, ge=1)

    @field_validator("salesforce_api_version")
    @classmethod
    def _version_format(cls, value: str) -> str:
        if not value.startswith("v"):
            value = f"v{value}"
        match = re.fullmatch(r"v(\d+)\.0", value)
        if match is None:
            raise ValueError("SALESFORCE_API_VERSION looks like v68.0")
        if int(match.group(1)) <= LAST_RETIRED_API_VERSION:
            raise ValueError(
                f"SALESFORCE_API_VERSION {value} is retired: Salesforce answers 410 Gone to "
                f"versions up to {LAST_RETIRED_API_VERSION}.0"
            )
        return value

    @field_validator("salesforce_keepalive_hours")
    @classmethod
    def _keepalive_positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("SALESFORCE_KEEPALIVE_HOURS must be more than 0")
        return value

    @field_validator("salesforce_extra_allowed_hosts")
    @classmethod
    def _extra_hosts_are_hosts(cls, value: str) -> str:
        return _host_list(value, allow_port=True)

    @field_validator("allowed_return_hosts")
    @classmethod
    def _return_hosts_are_hosts(cls, value: str) -> str:
        return _host_list(value, allow_port=True)

    @field_validator("public_base_url")
    @classmethod
    def _public_base_url_is_a_base_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in {"http", "https"} or parts.query or parts.fragment:
            raise ValueError("PUBLIC_BASE_URL looks like https://sf.example.com")
        checked_host(parts.netloc, allow_port=True)
        return value.strip()

    @model_validator(mode="after")
    def _lease_outlasts_an_attempt(self) -> Settings:
        shortest = 2 * self.salesforce_timeout_seconds + 1
        if self.writeback_lease_seconds < shortest:
            raise ValueError(
                f"WRITEBACK_LEASE_SECONDS must be at least {shortest:g} "
                "(2 x SALESFORCE_TIMEOUT_SECONDS + 1): a create still waiting for Salesforce "
                "would otherwise be settled, and made, a second time"
            )
        return self

    @model_validator(mode="after")
    def _secrets_outside_development(self) -> Settings:
        if self.environment == "production":
            missing = [
                name
                for name, value in (
                    ("SERVICE_JWT_SECRET", self.service_jwt_secret),
                    ("TOKEN_ENCRYPTION_KEYS", self.token_encryption_keys),
                    ("SALESFORCE_CLIENT_ID", self.salesforce_client_id),
                    ("SALESFORCE_CLIENT_SECRET", self.salesforce_client_secret),
                    ("DATABASE_URL", self.database_url or ""),
                )
                if value.strip().lower() in _PLACEHOLDERS
                or any(k.strip() in _PLACEHOLDERS for k in value.split(","))
            ]
            if missing:
                raise ValueError(
                    "outside development these settings need real values: " + ", ".join(missing)
                )
        else:
            self.service_jwt_secret = self.service_jwt_secret or DEV_JWT_SECRET
            self.token_encryption_keys = self.token_encryption_keys or DEV_ENCRYPTION_KEY
            self.salesforce_client_id = self.salesforce_client_id or DEV_CLIENT_ID
            self.salesforce_client_secret = self.salesforce_client_secret or DEV_CLIENT_SECRET
        return self

    @property
    def async_database_url(self) -> str:
        url = self.database_url or ""
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix) :]
        return url

    @property
    def extra_allowed_hosts(self) -> frozenset[str]:
        return frozenset(
            h.strip().lower() for h in self.salesforce_extra_allowed_hosts.split(",") if h.strip()
        )

    @property
    def return_hosts(self) -> frozenset[str]:
        return frozenset(
            h.strip().lower() for h in self.allowed_return_hosts.split(",") if h.strip()
        )

    @property
    def encryption_keys(self) -> list[str]:
        return [k.strip() for k in self.token_encryption_keys.split(",") if k.strip()]

    @property
    def oauth_redirect_uri(self) -> str:
        return self.public_base_url.rstrip("/") + "/v1/salesforce/oauth/callback"


@lru_cache
def get_settings() -> Settings:
    return Settings()
