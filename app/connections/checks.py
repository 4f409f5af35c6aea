"""Checks of a connect request's addresses: the login host (or My Domain) and the page the
confirmation links back to."""

from __future__ import annotations

from urllib.parse import urlsplit

from app.config import Settings
from app.connections.errors import invalid
from app.connections.schemas import ConnectRequest
from app.salesforce import oauth
from app.salesforce.hosts import is_host

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def checked_login_url(settings: Settings, request: ConnectRequest) -> str:
    """Where to authorize or ask tokens: the My Domain given, else the environment's login
    host; a 422 for a host that is not Salesforce's (nor an allowed extra host)."""
    try:
        return oauth.login_url_for(settings, request.environment, request.my_domain)
    except ValueError as exc:
        raise invalid("my_domain", str(exc)) from exc


def checked_return_url(return_url: str | None, allowed: frozenset[str]) -> str | None:
    if not return_url:
        return None
    parts = urlsplit(return_url)
    host = (parts.hostname or "").lower()
    netloc = parts.netloc.lower()
    if parts.scheme not in {"https", "http"} or not host or parts.username or parts.password:
        raise invalid("return_url", "must be an https URL")
    if host != "::1" and not is_host(parts.netloc, allow_port=True):
        raise invalid("return_url", "its host may hold only letters, digits, '-' and '.'")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise invalid("return_url", "must be an https URL")
    if host not in allowed and netloc not in allowed:
        raise invalid("return_url", "its host is not an allowed return host")
    return return_url
