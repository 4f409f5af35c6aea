"""Prometheus metrics of the calls made to Salesforce."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SALESFORCE_CALLS = Counter(
    "salesforce_api_calls_total", "Calls made to Salesforce", ["operation", "outcome"]
)
SALESFORCE_API_USAGE = Gauge(
    "salesforce_api_usage",
    "Last Sforce-Limit-Info api-usage seen, per org",
    ["organization_id", "kind"],
)
