"""A browser for the OAuth flow: the service through the ASGI transport, the Salesforce
emulator's login and consent pages over real HTTP."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

PASSWORD = "emulator"


ACME_ADMIN = "admin@acme.example"


ACME_SALES = "sales@acme.example"


GLOBEX_ADMIN = "admin@globex.example"


INITECH_ADMIN = "admin@initech.example"  # the seed org without API access


class _FormInputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("name"):
            self.fields[str(values["name"])] = values.get("value") or ""


def login_form_fields(page: str) -> dict[str, str]:
    """The inputs of the login page, as a browser would submit them."""
    parser = _FormInputs()
    parser.feed(page)
    return parser.fields


@dataclass
class Redirect:
    """Where Salesforce sent the browser back to: the callback path and its query."""

    url: str

    @property
    def path_and_query(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.path}?{parts.query}"

    @property
    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.url).query).items()}

    def with_params(self, **changes: str) -> str:
        from urllib.parse import urlencode

        return urlsplit(self.url).path + "?" + urlencode({**self.params, **changes})


@contextmanager
def _quiet_browser() -> Iterator[None]:
    """The browser's own HTTP traffic (it sees the code and state, as a real browser does) is
    not the service's: keep it out of the captured logs. The service sends nothing meanwhile."""
    loggers = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    before = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, before, strict=True):
            lg.setLevel(level)


class Browser:
    """The user's steps: ask the service to connect, log in at Salesforce, come back."""

    def __init__(self, client: httpx.AsyncClient, auth: Callable[..., dict[str, str]]) -> None:
        self.client = client
        self.auth = auth

    async def start(
        self, workspace: str = "ws-1", role: str = "owner", user: str = "user-1", **body: Any
    ) -> str:
        response = await self.client.post(
            f"/v1/workspaces/{workspace}/salesforce/connect",
            json=body,
            headers=self.auth(workspace, role, user),
        )
        assert response.status_code == 200, response.text
        authorize_url: str = response.json()["authorize_url"]
        return authorize_url

    async def authorize(
        self, authorize_url: str, username: str = ACME_ADMIN, decision: str = "allow"
    ) -> Redirect:
        with _quiet_browser():
            return await self._authorize(authorize_url, username, decision)

    async def _authorize(self, authorize_url: str, username: str, decision: str) -> Redirect:
        async with httpx.AsyncClient(timeout=10) as salesforce:
            page = await salesforce.get(authorize_url)
            assert page.status_code == 200, page.text
            form = login_form_fields(page.text)
            form.update({"username": username, "password": PASSWORD, "decision": decision})
            action = f"{urlsplit(authorize_url).scheme}://{urlsplit(authorize_url).netloc}"
            answer = await salesforce.post(action + "/services/oauth2/authorize", data=form)
        assert answer.status_code in (302, 303), answer.text
        location = answer.headers["location"]
        assert location.startswith("http://testserver/v1/salesforce/oauth/callback?"), location
        return Redirect(location)

    async def callback(self, target: Redirect | str, accept: str = "text/html") -> httpx.Response:
        path = target.path_and_query if isinstance(target, Redirect) else target
        return await self.client.get(path, headers={"Accept": accept})

    async def connect(
        self,
        workspace: str = "ws-1",
        username: str = ACME_ADMIN,
        accept: str = "text/html",
        **body: Any,
    ) -> httpx.Response:
        redirect = await self.authorize(await self.start(workspace, **body), username)
        return await self.callback(redirect, accept)

    async def status(self, workspace: str = "ws-1", role: str = "agent") -> dict[str, Any]:
        response = await self.client.get(
            f"/v1/workspaces/{workspace}/salesforce/connection",
            headers=self.auth(workspace, role),
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def disconnect(self, workspace: str = "ws-1", role: str = "owner") -> httpx.Response:
        return await self.client.delete(
            f"/v1/workspaces/{workspace}/salesforce/connection",
            headers=self.auth(workspace, role),
        )
