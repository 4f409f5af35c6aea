"""Webhook setup, status and respond.io credential endpoints: shapes, roles, secrecy."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from app.autocreate import soap
from app.crypto import sha256_hex
from app.models import Connection, RespondioCredential
from tests.helpers.autocreate import WEBHOOK_PATH, Workspace


async def test_respondio_token_is_stored_encrypted_and_never_returned(
    client: httpx.AsyncClient, app: Any, auth: Any
) -> None:
    path = "/v1/workspaces/ws-9/respondio-credentials"
    assert (await client.get(path, headers=auth("ws-9", "agent"))).json() == {
        "configured": False,
        "updated_at": None,
    }
    response = await client.put(
        path, json={"api_token": "  secret-rio-token  "}, headers=auth("ws-9", "manager")
    )
    assert response.status_code == 200
    assert response.json()["configured"] is True
    assert "secret-rio-token" not in response.text
    shown = (await client.get(path, headers=auth("ws-9"))).json()
    assert shown["configured"] is True and shown["updated_at"]
    async with app.state.services.db.transaction() as session:
        row = await session.get(RespondioCredential, "ws-9")
    assert row is not None and "secret-rio-token" not in row.api_token_encrypted
    assert app.state.services.cipher.decrypt(row.api_token_encrypted) == "secret-rio-token"


async def test_respondio_token_needs_a_manager_and_a_real_value(
    client: httpx.AsyncClient, auth: Any
) -> None:
    path = "/v1/workspaces/ws-9/respondio-credentials"
    agent = await client.put(path, json={"api_token": "t"}, headers=auth("ws-9", "agent"))
    assert agent.status_code == 403 and agent.json()["code"] == "forbidden"
    other = await client.put(path, json={"api_token": "t"}, headers=auth("ws-8", "owner"))
    assert other.status_code == 403
    for body in ({"api_token": "   "}, {"api_token": "a b"}, {}):
        response = await client.put(path, json=body, headers=auth("ws-9"))
        assert response.status_code == 422 and response.json()["code"] == "validation_error"
    assert (await client.put(path, json={"api_token": "t"})).status_code == 401


async def test_webhook_setup_gives_the_url_with_the_key(
    client: httpx.AsyncClient, app: Any, workspace: Workspace, auth: Any
) -> None:
    response = await client.get(
        f"/v1/workspaces/{workspace.id}/salesforce/webhook", headers=auth(workspace.id)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["outbound_message_url"] == "http://testserver" + WEBHOOK_PATH + workspace.key
    assert {"Id", "Email", "Phone", "MobilePhone", "CreatedDate", "CreatedById"} <= set(
        body["fields_to_include"]
    )
    assert body["setup_steps"] and body["optional_fields_to_include"] == ["Preferred_Language__c"]
    agent = await client.get(
        f"/v1/workspaces/{workspace.id}/salesforce/webhook", headers=auth(workspace.id, "agent")
    )
    assert agent.status_code == 403


async def test_webhook_setup_without_a_connection_is_409(
    client: httpx.AsyncClient, auth: Any
) -> None:
    response = await client.get("/v1/workspaces/ws-7/salesforce/webhook", headers=auth("ws-7"))
    assert response.status_code == 409
    assert response.json()["code"] == "salesforce_not_connected"
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_connection_without_a_key_gets_one(
    client: httpx.AsyncClient, app: Any, workspace: Workspace, auth: Any
) -> None:
    async with app.state.services.db.transaction() as session:
        row = await session.scalar(select(Connection).where(Connection.workspace_id == "ws-1"))
        assert row is not None
        row.webhook_key_hash = row.webhook_key_encrypted = None
    body = (await client.get("/v1/workspaces/ws-1/salesforce/webhook", headers=auth("ws-1"))).json()
    key = body["outbound_message_url"].rsplit("/", 1)[1]
    async with app.state.services.db.transaction() as session:
        row = await session.scalar(select(Connection).where(Connection.workspace_id == "ws-1"))
    assert row is not None and row.webhook_key_hash == sha256_hex(key)


async def test_status_counts_by_outcome(
    client: httpx.AsyncClient, app: Any, workspace: Workspace, auth: Any
) -> None:
    empty = await client.get(
        f"/v1/workspaces/{workspace.id}/salesforce/auto-create/status", headers=auth(workspace.id)
    )
    assert empty.status_code == 200
    assert empty.json() == {
        "enabled": True,
        "created": 0,
        "skipped": {"total": 0, "by_reason": {}},
        "failed": {"total": 0, "by_reason": {}},
        "pending": 0,
        "waiting": 0,
        "waiting_for": None,
        "watermark": None,
        "last_reconciled_at": None,
        "last_error": None,
        "paused_reason": None,
    }
    agent = await client.get(
        f"/v1/workspaces/{workspace.id}/salesforce/auto-create/status",
        headers=auth(workspace.id, "agent"),
    )
    assert agent.status_code == 403


def test_soap_parser_reads_the_documented_message() -> None:
    body = b"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00Dxx0000001gPLEAY</OrganizationId>
   <ActionId>04kxx0000000001AAA</ActionId>
   <SessionId xsi:nil="true"/>
   <Notification>
    <Id>04lxx00000000A1AAI</Id>
    <sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>003xx000004TmiQAAS</sf:Id>
     <sf:Email>ana@example.com</sf:Email>
     <sf:Phone xsi:nil="true"/>
     <sf:FirstName>Ana &amp; Co</sf:FirstName>
     <sf:CreatedDate>2026-11-24T10:00:00.000Z</sf:CreatedDate>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"""
    message = soap.parse_outbound_message(body)
    assert message.organization_id == "00Dxx0000001gPLEAY"
    [notification] = message.notifications
    assert notification.notification_id == "04lxx00000000A1AAI"
    assert notification.sobject_type == "Contact"
    assert notification.fields == {
        "Id": "003xx000004TmiQAAS",
        "Email": "ana@example.com",
        "Phone": None,
        "FirstName": "Ana & Co",
        "CreatedDate": "2026-11-24T10:00:00.000Z",
    }


def test_soap_fault_escapes_its_message() -> None:
    assert b"&lt;x&gt;" in soap.fault("soapenv:Client", "<x>")
