"""Salesforce Outbound Messages: parse the SOAP 1.1 notification, render the Ack and faults.

Parsing goes through defusedxml with DTDs, entity declarations and external references all
forbidden, so a hostile body (billion laughs, XXE) is refused before anything is expanded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

SOAPENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_NOTIFICATIONS = 100
_SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")

ACK = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">\n'
    b" <soapenv:Body>\n"
    b'  <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">'
    b"<Ack>true</Ack></notificationsResponse>\n"
    b" </soapenv:Body>\n"
    b"</soapenv:Envelope>\n"
)

SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"


class SoapMessageInvalid(ValueError):
    """The body is not a well-formed, safe Outbound Message."""


@dataclass(frozen=True, slots=True)
class Notification:
    notification_id: str
    sobject_type: str
    fields: dict[str, str | None] = field(default_factory=dict)

    @property
    def record_id(self) -> str | None:
        """None for a record deleted before delivery (Salesforce sends an empty sObject)."""
        return self.fields.get("Id")


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    organization_id: str
    action_id: str | None
    notifications: list[Notification]


def fault(code: str, message: str) -> bytes:
    """A SOAP 1.1 Fault; `code` is `soapenv:Client` or `soapenv:Server`."""
    return (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">\n'
        " <soapenv:Body>\n"
        "  <soapenv:Fault>"
        f"<faultcode>{escape(code)}</faultcode>"
        f"<faultstring>{escape(message)}</faultstring>"
        "</soapenv:Fault>\n"
        " </soapenv:Body>\n"
        "</soapenv:Envelope>\n"
    ).encode()


def parse_outbound_message(body: bytes) -> OutboundMessage:
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SoapMessageInvalid(
            "DTDs, entity declarations and external references are not accepted"
        ) from exc
    except (ParseError, ValueError, LookupError) as exc:
        # LookupError: the XML declaration names an encoding Python does not know.
        raise SoapMessageInvalid("the body is not well-formed XML") from exc
    if root.tag != f"{{{SOAPENV_NS}}}Envelope":
        raise SoapMessageInvalid("the root element is not a SOAP 1.1 Envelope")
    soap_body = root.find(f"{{{SOAPENV_NS}}}Body")
    notifications = (
        soap_body.find(f"{{{OUTBOUND_NS}}}notifications") if soap_body is not None else None
    )
    if notifications is None:
        raise SoapMessageInvalid("no Outbound Message <notifications> in the SOAP Body")
    organization_id = _required_id(notifications, "OrganizationId")
    action = notifications.find(f"{{{OUTBOUND_NS}}}ActionId")
    items = notifications.findall(f"{{{OUTBOUND_NS}}}Notification")
    if len(items) > MAX_NOTIFICATIONS:
        raise SoapMessageInvalid(f"more than {MAX_NOTIFICATIONS} notifications in one message")
    return OutboundMessage(
        organization_id=organization_id,
        action_id=_text(action),
        notifications=[_notification(item) for item in items],
    )


def _notification(item: Element) -> Notification:
    notification_id = _required_id(item, "Id")
    sobject = item.find(f"{{{OUTBOUND_NS}}}sObject")
    if sobject is None:
        raise SoapMessageInvalid("a Notification has no sObject")
    declared = sobject.get(f"{{{XSI_NS}}}type") or ""
    sobject_type = declared.rpartition(":")[2]
    fields: dict[str, str | None] = {}
    for child in sobject:
        name = child.tag.rpartition("}")[2]
        if child.get(f"{{{XSI_NS}}}nil") == "true":
            fields[name] = None
        else:
            fields[name] = _text(child)
    if not fields:
        # Deleted before delivery: no data at all. Skipped; the rest of the message stands.
        return Notification(notification_id=notification_id, sobject_type=sobject_type)
    record_id = fields.get("Id")
    if record_id is None or not _SALESFORCE_ID.fullmatch(record_id):
        raise SoapMessageInvalid("a Notification's sObject has no valid Id")
    return Notification(notification_id=notification_id, sobject_type=sobject_type, fields=fields)


def _required_id(parent: Element, name: str) -> str:
    value = _text(parent.find(f"{{{OUTBOUND_NS}}}{name}"))
    if value is None or not _SALESFORCE_ID.fullmatch(value):
        raise SoapMessageInvalid(f"<{name}> is missing or not a Salesforce id")
    return value


def _text(element: Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    text = element.text.strip()
    return text or None
