"""Tokens only ever go to Salesforce's own domains (plus explicitly configured hosts)."""

from __future__ import annotations

from urllib.parse import urlsplit

from app.config import Settings
from app.salesforce.errors import HostNotAllowed

SALESFORCE_DOMAINS = (
    ".salesforce.com",
    ".force.com",
    ".cloudforce.com",
    ".salesforce-setup.com",
    ".salesforce.mil",
    ".force.mil",
    ".cloudforce.mil",
    ".sfcrmproducts.cn",
    ".sfcrmapps.cn",
    ".salesforce.cn",
)


def ensure_allowed(url: str, settings: Settings) -> str:
    """Return `url` without a trailing slash, or raise HostNotAllowed."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    netloc = parts.netloc.lower().rsplit("@", 1)[-1]
    if parts.scheme in {"http", "https"} and netloc in settings.extra_allowed_hosts:
        return url.rstrip("/")
    if parts.scheme == "https" and host.endswith(SALESFORCE_DOMAINS) and parts.port in {None, 443}:
        return url.rstrip("/")
    raise HostNotAllowed(f"refusing to send credentials to {parts.scheme}://{host}")
