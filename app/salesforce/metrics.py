"""Prometheus metrics of the calls made to Salesforce."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SALESFORCE_CALLS = Counter(
    "salesforce_api_calls_total", "Calls made to Salesforce", ["operation", "outcome"]
)
# No tenant identifier is ever a label: /metrics names no org and no workspace. The share of
# the daily allocation used, as each answer's Sforce-Limit-Info says, over every org.
SALESFORCE_API_USAGE_RATIO = Histogram(
    "salesforce_api_usage_ratio",
    "Share of the org's daily API allocation used, per Salesforce answer (all orgs)",
    buckets=(0.1, 0.25, 0.5, 0.75, 0.8, 0.9, 0.95, 1.0),
)
