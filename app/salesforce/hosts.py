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


def instance_origin(url: str, settings: Settings) -> str:
    """`scheme://host[:port]` of an `instance_url` from a token answer, or HostNotAllowed.
    Anything more (user info, a path, a query, a fragment, a backslash) is refused rather
    than cleaned: every later URL is built on this value."""
    parts = urlsplit(url)
    if (
        "\\" in url
        or "#" in url
        or "?" in url
        or "@" in parts.netloc
        or parts.path not in {"", "/"}
        or not parts.hostname
    ):
        raise HostNotAllowed("the instance URL is not a plain scheme://host[:port]")
    return ensure_allowed(f"{parts.scheme}://{parts.netloc}", settings)
