from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import defusedxml.ElementTree as SafeET
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator.salesforce import SalesforceEmulator
from emulator.server import start_in_thread

from .helpers import ACME, ANA, CARLA, GLOBEX, V, bearer

NS = {
    "soapenv": "http://schemas.xmlsoap.org/soap/envelope/",
    "om": "http://soap.sforce.com/2005/09/outbound",
    "sf": "urn:sobject.enterprise.soap.sforce.com",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
ACK = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b'<soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">'
    b"<Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"
)


class Receiver:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.reply = ACK
        self.status = 200

    async def listener(self, request: Request) -> Response:
        self.posts.append({"headers": dict(request.headers), "body": await request.body()})
        return Response(self.reply, status_code=self.status, media_type="text/xml")


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    rx = Receiver()
    running = start_in_thread(Starlette(routes=[Route("/om", rx.listener, methods=["POST"])]))
    yield rx, f"{running.url}/om"
    running.stop()


@pytest.fixture
def rx(receiver: tuple[Receiver, str]) -> tuple[Receiver, str]:
    r, url = receiver
    r.posts.clear()
    r.reply, r.status = ACK, 200
    return r, url


def notifications(body: bytes) -> tuple[Any, list[Any]]:
    root = SafeET.fromstring(body)
    notes = root.find("soapenv:Body/om:notifications", NS)
    return notes, notes.findall("om:Notification", NS)


async def test_outbound_message_envelope(emu: SalesforceEmulator, rx):
    r, url = rx
    statuses = await emu.send_outbound_messages(ACME, url, [ANA, CARLA])
    assert statuses == [200]
    post = r.posts[0]
    assert post["headers"]["content-type"].startswith("text/xml")
    assert "soapaction" in post["headers"]
    notes, items = notifications(post["body"])
    assert notes.findtext("om:OrganizationId", namespaces=NS) == ACME
    assert notes.findtext("om:ActionId", namespaces=NS).startswith("04k")
    session = notes.find("om:SessionId", NS)
    assert session.get(f"{{{NS['xsi']}}}nil") == "true"
    assert notes.findtext("om:EnterpriseUrl", namespaces=NS) == (
        f"{emu.base_url}/services/Soap/c/62.0/{ACME[:15]}"
    )
    assert notes.findtext("om:PartnerUrl", namespaces=NS).endswith(f"/u/62.0/{ACME[:15]}")
    assert len(items) == 2
    first = items[0]
    assert first.findtext("om:Id", namespaces=NS).startswith("04l")
    sobj = first.find("om:sObject", NS)
    assert sobj.get(f"{{{NS['xsi']}}}type") == "sf:Contact"
    assert sobj.findtext("sf:Id", namespaces=NS) == ANA
    assert sobj.findtext("sf:Email", namespaces=NS) == "ana.souza@example.com"
    assert sobj.findtext("sf:CreatedDate", namespaces=NS) == "2025-01-14T09:12:44.000Z"
    assert sobj.find("sf:MobilePhone", NS).get(f"{{{NS['xsi']}}}nil") == "true"
    delivery = emu.outbound_log[-1]
    assert delivery.acked and delivery.status == 200


async def test_batches_of_at_most_100_and_resend(emu: SalesforceEmulator, rx):
    r, url = rx
    ids = [c["Id"] for c in emu.bulk_create_contacts(ACME, 250)]
    statuses = await emu.send_outbound_messages(ACME, url, ids)
    assert statuses == [200, 200, 200]
    sizes = [len(notifications(p["body"])[1]) for p in r.posts]
    assert sizes == [100, 100, 50]
    note_ids = [
        n.findtext("om:Id", namespaces=NS) for p in r.posts for n in notifications(p["body"])[1]
    ]
    assert len(set(note_ids)) == 250
    # duplicate delivery: the very same message again
    assert await emu.resend_outbound_message() == 200
    assert r.posts[-1]["body"] == r.posts[2]["body"]
    first = emu.outbound_log[-3]
    assert await emu.resend_outbound_message(first.message_id) == 200
    assert r.posts[-1]["body"] == r.posts[0]["body"]
    assert await emu.send_outbound_messages(ACME, url, ids[:5], batch_size=2) == [200] * 3


async def test_nack_is_recorded(emu: SalesforceEmulator, rx):
    r, url = rx
    r.reply = b"<oops/>"
    assert await emu.send_outbound_messages(ACME, url, [ANA]) == [200]
    assert emu.outbound_log[-1].acked is False
    r.status = 500
    assert await emu.send_outbound_messages(ACME, url, [ANA]) == [500]


def test_admin_api(client, emu: SalesforceEmulator, token, rx):
    r, url = rx
    client.get(f"{V}/limits", headers=bearer(token))
    assert client.get("/__emulator/counters").json()["limits"] == 1
    assert client.post("/__emulator/counters/reset").status_code == 200
    assert client.get("/__emulator/counters").json() == {}
    resp = client.post(
        "/__emulator/faults", json={"org_id": ACME, "fault": "server_unavailable", "count": 1}
    )
    assert resp.status_code == 200
    assert client.get(f"{V}/limits", headers=bearer(token)).status_code == 503
    assert client.get(f"{V}/limits", headers=bearer(token)).status_code == 200
    assert client.post("/__emulator/faults", json={"org_id": ACME, "fault": "x"}).status_code == 400
    settings = client.put(
        "/__emulator/settings", json={"latency_ms": 5, "rotate_refresh_tokens": True}
    ).json()
    assert settings["latency_ms"] == 5 and emu.rotate_refresh_tokens is True
    assert client.post("/__emulator/expire-tokens", json={}).json() == {"expired": 1}
    assert client.get(f"{V}/limits", headers=bearer(token)).status_code == 401
    assert client.post("/__emulator/revoke-grants", json={"org_id": ACME}).json() == {"revoked": 1}

    created = client.post(
        f"/__emulator/orgs/{GLOBEX}/contacts",
        json={"LastName": "Admin", "Email": "admin.made@example.com"},
    )
    assert created.status_code == 201
    cid = created.json()["Id"]
    assert emu.get_contact(GLOBEX, cid)["Email"] == "admin.made@example.com"
    before = created.json()["LastModifiedDate"]
    patched = client.patch(f"/__emulator/orgs/{GLOBEX}/contacts/{cid}", json={"Title": "Edited"})
    assert patched.json()["Title"] == "Edited" and patched.json()["LastModifiedDate"] > before
    assert client.delete(f"/__emulator/orgs/{GLOBEX}/contacts/{cid}").status_code == 204
    assert emu.get_contact(GLOBEX, cid)["IsDeleted"] is True
    bulk = client.post(
        f"/__emulator/orgs/{ACME}/bulk-contacts", json={"n": 3, "created_by": "0055g000000GR44AAG"}
    ).json()
    recs = [emu.get_contact(ACME, i) for i in bulk["ids"]]
    assert len({r["CreatedDate"] for r in recs}) == 1
    assert {r["CreatedById"] for r in recs} == {"0055g000000GR44AAG"}
    sent = client.post(
        f"/__emulator/orgs/{ACME}/outbound-messages",
        json={"url": url, "contact_ids": bulk["ids"], "batch_size": 2},
    ).json()
    assert sent["statuses"] == [200, 200] and len(sent["messages"][0]["notification_ids"]) == 2
    again = client.post(
        "/__emulator/outbound-messages/resend",
        json={"message_id": sent["messages"][0]["message_id"]},
    )
    assert again.json() == {"status": 200} and r.posts[-1]["body"] == r.posts[-3]["body"]
    assert client.post("/__emulator/orgs/00Dnope/contacts", json={}).status_code == 404


def test_index_page_lists_logins(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "admin@acme.example" in page.text and "emulator" in page.text
    assert "Initech" in page.text and "API_DISABLED_FOR_ORG" in page.text


def test_record_deleted_before_delivery_has_an_empty_sobject(client, emu, rx):
    r, url = rx
    sent = client.post(
        f"/__emulator/orgs/{ACME}/outbound-messages",
        json={"url": url, "contact_ids": [ANA], "deleted_ids": [CARLA]},
    ).json()
    assert sent["statuses"] == [200] and sent["messages"][0]["record_ids"] == [ANA, CARLA]
    notes, items = notifications(r.posts[-1]["body"])
    assert notes.findtext("om:OrganizationId", namespaces=NS) == ACME  # the rest stays valid
    alive, gone = (item.find("om:sObject", NS) for item in items)
    assert alive.findtext("sf:Id", namespaces=NS) == ANA
    assert gone.get(f"{{{NS['xsi']}}}type") == "sf:Contact"
    assert list(gone) == [] and (gone.text or "").strip() == ""
    assert items[1].findtext("om:Id", namespaces=NS).startswith("04l")
    assert emu.get_contact(ACME, CARLA)["IsDeleted"] is True
