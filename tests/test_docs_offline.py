"""/docs and /redoc name no host but the service's own: they work without internet."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

ATTRIBUTE_URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
ANY_URL = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_page_references_only_the_service(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    html = response.text
    # The browser may load nothing from elsewhere (ReDoc's bundle names a CDN logo).
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "img-src 'self' data:" in policy
    assert ANY_URL.findall(policy) == []
    # No absolute or protocol-relative URL at all (CDN script, style, fonts, favicon).
    assert ANY_URL.findall(html) == []
    assets = ATTRIBUTE_URL.findall(html)
    assert assets, "the page loads its script from the service"
    for asset in assets:
        url = urljoin(f"http://testserver{page}", asset)
        assert urlsplit(url).netloc == "testserver", url
        fetched = await client.get(url)
        assert fetched.status_code == 200, url
        assert len(fetched.content) > 0


async def test_swagger_ui_asks_no_online_validator(client: httpx.AsyncClient) -> None:
    assert '"validatorUrl": null' in (await client.get("/docs")).text
