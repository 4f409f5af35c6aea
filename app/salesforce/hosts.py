"""Tokens only ever go to Salesforce's own domains (plus explicitly configured hosts), and
only hostname characters get into a URL this service builds or accepts.

A browser reads `\\` as `/` and `@` as the end of a user name, so a "host" such as
`evil.com\\.my.salesforce.com` ends in a Salesforce domain for a naive suffix check but is
evil.com to the browser. `checked_host` accepts letters, digits, hyphens and dots only (and a
port where one is allowed); every host check below goes through it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from app.config import Settings, checked_host
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

# The hosts an admin sees in the browser, by suffix, and the org's My Domain login host they
# stand for: `acme.lightning.force.com` and `acme.my.salesforce-setup.com` are both
# `acme.my.salesforce.com`; `acme--uat.sandbox.lightning.force.com` is
# `acme--uat.sandbox.my.salesforce.com`.
_MY_DOMAIN_ALIASES = (
    (".lightning.force.com", ".my.salesforce.com"),
    (".my.salesforce-setup.com", ".my.salesforce.com"),
)


def is_host(value: str, *, allow_port: bool = False) -> bool:
    try:
        checked_host(value, allow_port=allow_port)
    except ValueError:
        return False
    return True


def my_domain_host(host: str) -> str:
    """The org's My Domain login host for a Lightning or setup host (others unchanged)."""
    for suffix, login_suffix in _MY_DOMAIN_ALIASES:
        if host.endswith(suffix):
            return host[: -len(suffix)] + login_suffix
    return host


def _netloc_host(netloc: str) -> str | None:
    """The checked `host[:port]` of a URL's netloc; None when it is not one (userinfo,
    backslashes, percent-escapes and the like)."""
    try:
        return checked_host(netloc, allow_port=True)
    except ValueError:
        return None


def ensure_allowed(url: str, settings: Settings) -> str:
    """Return `url` without a trailing slash, or raise HostNotAllowed."""
    parts = urlsplit(url)
    netloc = _netloc_host(parts.netloc)
    if netloc is None:
        raise HostNotAllowed(f"refusing to send credentials to {parts.scheme}://(not a host)")
    host = netloc.partition(":")[0]
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
        url != url.strip()  # urlsplit strips surrounding whitespace: refuse, don't clean
        or any(ch.isspace() for ch in url)
        or "\\" in url
        or "#" in url
        or "?" in url
        or "@" in parts.netloc
        or parts.path not in {"", "/"}
        or not parts.hostname
    ):
        raise HostNotAllowed("the instance URL is not a plain scheme://host[:port]")
    return ensure_allowed(f"{parts.scheme}://{parts.netloc}", settings)


__all__ = [
    "SALESFORCE_DOMAINS",
    "HostNotAllowed",
    "checked_host",
    "ensure_allowed",
    "instance_origin",
    "is_host",
    "my_domain_host",
]
