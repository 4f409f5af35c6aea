"""Outbound Messages: the SOAP 1.1 notifications Salesforce POSTs to a listener.

One message carries at most 100 <Notification>s. Each notification has its own
04l... Id; resending a recorded message re-posts the identical bytes, so the
listener sees the same notification Ids again (at-least-once delivery).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
import httpx

from .schema import CONTACT
from .util import fmt_datetime_soap, make_id, parse_datetime

if TYPE_CHECKING:
    from .state import SalesforceEmulator

MAX_NOTIFICATIONS = 100
API_VERSION = "62.0"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAPENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"
DEFAULT_FIELDS = [
    "Id",
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "MobilePhone",
    "OwnerId",
    "CreatedById",
    "CreatedDate",
    "LastModifiedDate",
]


@dataclass
class Delivery:
    message_id: str
    org_id: str
    url: str
    body: bytes
    notification_ids: list[str]
    record_ids: list[str]
    attempts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> int | None:
        return self.attempts[-1]["status"] if self.attempts else None

    @property
    def acked(self) -> bool:
        return bool(self.attempts) and self.attempts[-1]["acked"]


def _value(ftype: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if ftype == "datetime" and isinstance(value, str):
        dt = parse_datetime(value)
        return fmt_datetime_soap(dt) if dt else value
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    return str(value)


def notification_xml(notification_id: str, record: dict[str, Any], fields: list[str]) -> str:
    """One <Notification>; a record deleted before delivery has an empty sObject."""
    open_tag = (
        '    <sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"'
    )
    head = ["   <Notification>", f"    <Id>{notification_id}</Id>"]
    if record.get("IsDeleted"):
        return "\n".join([*head, open_tag + "/>", "   </Notification>"])
    lines = [*head, open_tag + ">"]
    for name in fields:
        f = CONTACT.field(name)
        if f is None:
            continue
        text = _value(f.type, record.get(f.name))
        if text is None:
            lines.append(f'     <sf:{f.name} xsi:nil="true"/>')
        else:
            lines.append(f"     <sf:{f.name}>{escape(text)}</sf:{f.name}>")
    lines += ["    </sObject>", "   </Notification>"]
    return "\n".join(lines)


def envelope(*, org_id: str, action_id: str, base_url: str, notifications: list[str]) -> bytes:
    org15 = org_id[:15]
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soapenv:Envelope xmlns:soapenv="{SOAPENV_NS}"'
        ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        " <soapenv:Body>\n"
        f'  <notifications xmlns="{OUTBOUND_NS}">\n'
        f"   <OrganizationId>{org_id}</OrganizationId>\n"
        f"   <ActionId>{action_id}</ActionId>\n"
        '   <SessionId xsi:nil="true"/>\n'
        f"   <EnterpriseUrl>{escape(base_url)}/services/Soap/c/{API_VERSION}/{org15}"
        "</EnterpriseUrl>\n"
        f"   <PartnerUrl>{escape(base_url)}/services/Soap/u/{API_VERSION}/{org15}</PartnerUrl>\n"
    )
    tail = "\n  </notifications>\n </soapenv:Body>\n</soapenv:Envelope>\n"
    return (head + "\n".join(notifications) + tail).encode("utf-8")


def build_deliveries(
    state: SalesforceEmulator,
    org_id: str,
    url: str,
    contact_ids: list[str],
    *,
    batch_size: int = 100,
    fields: list[str] | None = None,
) -> list[Delivery]:
    """Build (and record in state.outbound_log) the messages for these contacts.

    The data is each record's state now (Salesforce sends the latest state)."""
    batch_size = max(1, min(batch_size, MAX_NOTIFICATIONS))
    fields = fields or DEFAULT_FIELDS
    base_url = state.base_url or "http://127.0.0.1"
    deliveries: list[Delivery] = []
    with state._lock:
        org = state.org(org_id)
        records = []
        for cid in contact_ids:
            rec = state.get_contact(org.id, cid)
            if rec is None:
                raise KeyError(f"no such contact: {cid}")
            records.append(rec)
        for start in range(0, len(records), batch_size):
            chunk = records[start : start + batch_size]
            ids = [state._new_id("04l") for _ in chunk]
            parts = [
                notification_xml(nid, rec, fields) for nid, rec in zip(ids, chunk, strict=True)
            ]
            delivery = Delivery(
                message_id=secrets.token_hex(8),
                org_id=org.id,
                url=url,
                body=envelope(
                    org_id=org.id,
                    action_id=org.outbound_action_id or make_id("04k", 1),
                    base_url=base_url,
                    notifications=parts,
                ),
                notification_ids=ids,
                record_ids=[r["Id"] for r in chunk],
            )
            state.outbound_log.append(delivery)
            deliveries.append(delivery)
    return deliveries


def is_ack(body: bytes) -> bool:
    """True if the listener answered <notificationsResponse><Ack>true</Ack>."""
    try:
        root = SafeET.fromstring(body)
    except Exception:
        return False
    for el in root.iter(f"{{{OUTBOUND_NS}}}Ack"):
        return (el.text or "").strip().lower() == "true"
    return False


async def deliver(state: SalesforceEmulator, delivery: Delivery, *, resend: bool = False) -> int:
    """POST one message; record status and whether it was acknowledged."""
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    try:
        async with httpx.AsyncClient(timeout=60.0) as client:
            resp = await client.post(delivery.url, content=delivery.body, headers=headers)
        status, acked = resp.status_code, resp.status_code == 200 and is_ack(resp.content)
    except httpx.HTTPError as exc:
        status, acked = 0, False
        delivery.attempts.append({"status": 0, "acked": False, "error": repr(exc)})
        state.count("outbound.failed")
        return status
    delivery.attempts.append({"status": status, "acked": acked, "resend": resend})
    state.count("outbound.sent")
    if not acked:
        state.count("outbound.nack")
    return status
