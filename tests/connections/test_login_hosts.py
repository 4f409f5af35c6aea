"""Login hosts: a My Domain given in any of the forms an admin copies from the browser is
turned into the org's `*.my.salesforce.com` host, and only hostname characters get into a
URL the service builds (a browser reads `\\` as `/`, so `evil.com\\.salesforce.com` is
evil.com to it)."""

from __future__ import annotations

from typing import Any

import pytest

from app.config import Settings
from app.salesforce.hosts import HostNotAllowed, checked_host, ensure_allowed
from tests.helpers.browser import Browser


@pytest.mark.parametrize(
    "given,login_host",
    [
        ("acme.lightning.force.com", "acme.my.salesforce.com"),
        ("https://acme.lightning.force.com/", "acme.my.salesforce.com"),
        ("acme.my.salesforce-setup.com", "acme.my.salesforce.com"),
        ("ACME.My.Salesforce.com", "acme.my.salesforce.com"),
        ("acme--sandbox.sandbox.lightning.force.com", "acme--sandbox.sandbox.my.salesforce.com"),
        (
            "acme--sandbox.sandbox.my.salesforce-setup.com",
            "acme--sandbox.sandbox.my.salesforce.com",
        ),
        ("acme.develop.lightning.force.com", "acme.develop.my.salesforce.com"),
    ],
)
async def test_lightning_and_setup_hosts_become_the_my_domain(
    browser: Browser, given: str, login_host: str
) -> None:
    url = await browser.start(my_domain=given)
    assert url.startswith(f"https://{login_host}/services/oauth2/authorize?"), url


@pytest.mark.parametrize(
    "my_domain",
    [
        "evil.com\\.salesforce.com",
        "https://evil.com\\.my.salesforce.com",
        "evil.com/.my.salesforce.com",
        "user@acme.my.salesforce.com",
        "evil.com@acme.my.salesforce.com",
        "acme.my.salesforce.com:8443",
        "acme.my.salesforce.com:443@evil.com",
        "acme my.salesforce.com",
        "acme.my.salesforce.com%2F@evil.com",
        "acme_.my.salesforce.com?x=1",
        "-acme.my.salesforce.com",
        "acme..my.salesforce.com",
    ],
)
async def test_only_hostname_characters_are_accepted(
    browser: Browser, app: Any, my_domain: str
) -> None:
    response = await browser.client.post(
        "/v1/workspaces/ws-1/salesforce/connect",
        json={"my_domain": my_domain},
        headers=browser.auth(),
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert [e["field"] for e in problem["errors"]] == ["my_domain"]


@pytest.mark.parametrize(
    "return_url",
    ["https://app.respond.io\\@evil.com/", "https://evil.com\\.app.respond.io/"],
)
async def test_return_url_host_must_be_hostname_characters(
    browser: Browser, return_url: str
) -> None:
    response = await browser.client.post(
        "/v1/workspaces/ws-1/salesforce/connect",
        json={"return_url": return_url},
        headers=browser.auth(),
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "return_url"


def test_ensure_allowed_refuses_what_is_not_a_hostname(settings: Settings) -> None:
    for bad in (
        "https://evil.com\\.salesforce.com",
        "https://evil.com%5C.salesforce.com",
        "https://user:pw@acme.my.salesforce.com",
    ):
        with pytest.raises(HostNotAllowed):
            ensure_allowed(bad, settings)


def test_checked_host() -> None:
    assert checked_host("Acme.My.Salesforce.com") == "acme.my.salesforce.com"
    assert checked_host("127.0.0.1:8555", allow_port=True) == "127.0.0.1:8555"
    for bad in ("evil.com\\x", "a@b", "a/b", "a:1", "", "a..b", "-a.b", "a b", "a.b:99999"):
        with pytest.raises(ValueError):
            checked_host(bad, allow_port=bad == "a.b:99999")


@pytest.mark.parametrize(
    "name,value",
    [
        ("salesforce_extra_allowed_hosts", "127.0.0.1:8555,evil.com\\.salesforce.com"),
        ("salesforce_extra_allowed_hosts", "user@127.0.0.1:8555"),
        ("public_base_url", "https://evil.com\\.respond.io"),
        ("public_base_url", "https://user@sf.respond.io"),
        ("public_base_url", "ftp://sf.respond.io"),
        ("allowed_return_hosts", "app.respond.io,evil.com\\.respond.io"),
    ],
)
def test_settings_refuse_hosts_that_are_not_hostnames(
    make_settings: Any, name: str, value: str
) -> None:
    with pytest.raises(ValueError):
        make_settings(**{name: value})
