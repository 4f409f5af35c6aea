"""During a database outage Salesforce's Outbound Message gets what it understands: a SOAP
fault, 503 with `Retry-After` (it retries the message later), not a problem+json document."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.helpers.faultproxy import FaultProxy

WEBHOOK = "/v1/webhooks/salesforce/outbound-messages/0123456789abcdef0123456789abcdef"
ENVELOPE = b"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound">
<OrganizationId>00D5g000003GIV7EAO</OrganizationId><ActionId>04k5g0000008OaYAAU</ActionId>
</notifications></soapenv:Body></soapenv:Envelope>"""


@pytest.mark.parametrize("fault", ["cut", "blackhole"])
async def test_an_outbound_message_during_a_database_outage_is_a_soap_503(
    proxied_client: httpx.AsyncClient, pg_proxy: FaultProxy, fault: str
) -> None:
    await getattr(pg_proxy, fault)()
    async with asyncio.timeout(30):
        response = await proxied_client.post(
            WEBHOOK, content=ENVELOPE, headers={"Content-Type": "text/xml; charset=utf-8"}
        )
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert b"<soapenv:Fault>" in response.content
    assert b"soapenv:Server" in response.content
    assert int(response.headers["retry-after"]) > 0
    await pg_proxy.restore()
    async with asyncio.timeout(30):
        response = await proxied_client.post(
            WEBHOOK, content=ENVELOPE, headers={"Content-Type": "text/xml; charset=utf-8"}
        )
    assert response.status_code == 404  # an unknown key, once the database answers
