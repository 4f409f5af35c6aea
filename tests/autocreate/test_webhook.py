"""The Outbound Message listener: authentication by key and org, hostile XML, idempotent
storage before the Ack, and acknowledged drops."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import delete, func, select, update

from app.autocreate.soap import ACK
from app.models import AutocreateNotification, Connection, WorkspaceSettings
from tests.helpers.autocreate import (
    ACME,
    WEBHOOK_PATH,
    Workspace,
    acked,
    add_contacts,
    deliver,
    post_soap,
    rows,
)
from tests.helpers.factories import set_auto_create


async def notification_count(app: Any) -> int:
    async with app.state.services.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(AutocreateNotification)))


def message(sf_emulator: Any, path: str, contact_ids: list[str]) -> bytes:
    from emulator.salesforce.outbound import build_deliveries

    [delivery] = build_deliveries(sf_emulator, ACME, "http://testserver" + path, contact_ids)
    return delivery.body


async def test_ack_is_exactly_the_documented_envelope(
    client: httpx.AsyncClient, app: Any, sf_emulator: Any, workspace: Workspace
) -> None:
    [contact_id] = add_contacts(sf_emulator, 1)
    [response] = await deliver(client, sf_emulator, workspace.webhook_path, [contact_id])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.content == ACK
    assert b"<Ack>true</Ack>" in response.content
    [row] = await rows(app)
    assert (row.salesforce_contact_id, row.source, row.status) == (contact_id, "webhook", "pending")
    assert await notification_count(app) == 1


async def test_same_message_three_times_is_stored_once(
    client: httpx.AsyncClient, app: Any, sf_emulator: Any, workspace: Workspace
) -> None:
    body = message(sf_emulator, workspace.webhook_path, add_contacts(sf_emulator, 2))
    for _ in range(3):
        assert acked(await post_soap(client, workspace.webhook_path, body))
    assert len(await rows(app)) == 2
    assert await notification_count(app) == 2


async def test_a_new_notification_for_a_known_contact_makes_no_second_row(
    client: httpx.AsyncClient, app: Any, sf_emulator: Any, workspace: Workspace
) -> None:
    ids = add_contacts(sf_emulator, 1)
    await deliver(client, sf_emulator, workspace.webhook_path, ids)
    await deliver(client, sf_emulator, workspace.webhook_path, ids)  # new notification id
    assert await notification_count(app) == 2
    assert len(await rows(app)) == 1


async def test_forged_key_is_404_with_a_soap_fault(
    client: httpx.AsyncClient, app: Any, sf_emulator: Any, workspace: Workspace
) -> None:
    body = message(sf_emulator, workspace.webhook_path, add_contacts(sf_emulator, 1))
    for key in ("forged-" + workspace.key[7:], "x", "a" * 300):
        response = await post_soap(client, WEBHOOK_PATH + key, body)
        assert response.status_code == 404
        assert b"<faultcode>soapenv:Client</faultcode>" in response.content
    assert await rows(app) == []


async def test_wrong_org_is_403(
    client: httpx.AsyncClient, app: Any, sf_emulator: Any, workspace: Workspace
) -> None:
    body = message(sf_emulator, workspace.webhook_path, add_contacts(sf_emulator, 1))
    forged = body.replace(ACME.encode(), b"00D8c000003VlcBEAS")
    response = await post_soap(client, workspace.webhook_path, forged)
    assert response.status_code == 403
    assert b"soapenv:Fault" in response.content
    assert await rows(app) == []
    assert await notification_count(app) == 0


async def test_org_id_in_15_character_form_is_accepted(
    client: httpx.AsyncClient, app: Any, sf_emulator: Any, workspace: Workspace
) -> None:
    body = message(sf_emulator, workspace.webhook_path, add_contacts(sf_emulator, 1))
    short = body.replace(
        f"<OrganizationId>{ACME}</OrganizationId>".encode(),
        f"<OrganizationId>{ACME[:15]}</OrganizationId>".encode(),
    )
    assert acked(await post_soap(client, workspace.webhook_path, short))


HOSTILE_BODIES = {
    "billion laughs": b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound">
<OrganizationId>00D5g000003GIV7EAO</OrganizationId><ActionId>&lol2;</ActionId>
</notifications></soapenv:Body></soapenv:Envelope>""",
    "external entity": b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound">
<OrganizationId>00D5g000003GIV7EAO</OrganizationId><ActionId>&xxe;</ActionId>
</notifications></soapenv:Body></soapenv:Envelope>""",
    "bare doctype": b"""<?xml version="1.0"?><!DOCTYPE soapenv:Envelope>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"/>""",
    "not xml": b'{"OrganizationId": "00D5g000003GIV7EAO"}',
    "truncated": b"<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'>",
    "not soap": b"<notifications/>",
    "unknown encoding": b"""<?xml version="1.0" encoding="x-no-such-charset"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"/>""",
}


async def test_hostile_or_malformed_xml_is_400_and_stores_nothing(
    client: httpx.AsyncClient, app: Any, sf_emulator: Any, workspace: Workspace
) -> None:
    for name, body in HOSTILE_BODIES.items():
        response = await post_soap(client, workspace.webhook_path, body)
        assert response.status_code == 400, name
        assert b"soapenv:Fault" in response.content, name
        assert b"root:" not in response.content
    assert await rows(app) == []
    assert await notification_count(app) == 0


async def test_dtd_inside_a_valid_message_is_refused(
    client: httpx.AsyncClient, app: Any, sf_emulator: Any, workspace: Workspace
) -> None:
    body = message(sf_emulator, workspace.webhook_path, add_contacts(sf_emulator, 1))
    declaration, rest = body.split(b"\n", 1)
    with_dtd = declaration + b'\n<!DOCTYPE x [<!ENTITY e "v">]>\n' + rest
    response = await post_soap(client, workspace.webhook_path, with_dtd)
    assert response.status_code == 400
    assert await rows(app) == []


async def test_oversize_body_is_400(
    client: httpx.AsyncClient, app: Any, sf_emulator: Any, workspace: Workspace
) -> None:
    limit = app.state.services.settings.webhook_max_body_bytes
    response = await post_soap(client, workspace.webhook_path, b"<a>" + b"x" * limit + b"</a>")
    assert response.status_code == 400
    assert b"larger than" in response.content

    async def chunks() -> Any:  # no Content-Length: the stream itself is counted
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    response = await client.post(workspace.webhook_path, content=chunks())
    assert response.status_code == 400
    assert await rows(app) == []


async def test_batch_of_100_notifications_in_one_message(
    client: httpx.AsyncClient, app: Any, sf_emulator: Any, workspace: Workspace
) -> None:
    ids = add_contacts(sf_emulator, 100)
    responses = await deliver(client, sf_emulator, workspace.webhook_path, ids)
    assert len(responses) == 1 and acked(responses[0])
    stored = await rows(app)
    assert sorted(r.salesforce_contact_id for r in stored) == sorted(ids)


async def test_auto_create_off_acknowledges_and_drops(
    client: httpx.AsyncClient, app: Any, sf_emulator: Any, workspace: Workspace
) -> None:
    await set_auto_create(app.state.services.db, workspace.id, enabled=False)
    [response] = await deliver(
        client, sf_emulator, workspace.webhook_path, add_contacts(sf_emulator, 1)
    )
    assert acked(response)
    assert await rows(app) == []
    assert await notification_count(app) == 0


async def test_reauthorization_required_acknowledges_and_drops(
    client: httpx.AsyncClient, app: Any, sf_emulator: Any, workspace: Workspace
) -> None:
    async with app.state.services.db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.workspace_id == workspace.id)
            .values(status="reauthorization_required")
        )
    [response] = await deliver(
        client, sf_emulator, workspace.webhook_path, add_contacts(sf_emulator, 1)
    )
    assert acked(response)
    assert await rows(app) == []


async def test_disconnected_workspace_acknowledges_and_drops(
    client: httpx.AsyncClient, app: Any, sf_emulator: Any, workspace: Workspace
) -> None:
    ids = add_contacts(sf_emulator, 2)
    await deliver(client, sf_emulator, workspace.webhook_path, ids[:1])  # key now known
    async with app.state.services.db.transaction() as session:
        await session.execute(delete(Connection).where(Connection.workspace_id == workspace.id))
    [response] = await deliver(client, sf_emulator, workspace.webhook_path, ids[1:])
    assert acked(response)
    assert [r.salesforce_contact_id for r in await rows(app)] == ids[:1]


async def test_contacts_created_before_enabling_are_not_stored(
    client: httpx.AsyncClient, app: Any, sf_emulator: Any, workspace: Workspace
) -> None:
    old = sf_emulator.add_contact(
        ACME, {"LastName": "Old", "Email": "old@example.com"}, created_date="2020-01-01T00:00:00Z"
    )
    [response] = await deliver(client, sf_emulator, workspace.webhook_path, [old["Id"]])
    assert acked(response)
    assert await rows(app) == []


async def test_settings_row_missing_means_off(
    client: httpx.AsyncClient, app: Any, sf_emulator: Any, workspace: Workspace
) -> None:
    async with app.state.services.db.transaction() as session:
        await session.execute(
            delete(WorkspaceSettings).where(WorkspaceSettings.workspace_id == workspace.id)
        )
    [response] = await deliver(
        client, sf_emulator, workspace.webhook_path, add_contacts(sf_emulator, 1)
    )
    assert acked(response)
    assert await rows(app) == []
