"""Change events off the wire: the emulator's Avro payloads decoded with the schema, and the
changed-field bitmaps turned into field names (nested Name parts included)."""

from __future__ import annotations

from typing import Any

from app.salesforce.pubsub import events
from emulator.salesforce import SalesforceEmulator
from emulator.tests.helpers import ACME, ANA


def last_event(emu: SalesforceEmulator) -> Any:
    log = emu.change_events.log(ACME)
    return log.events[-1]


def decoded(emu: SalesforceEmulator) -> events.ChangeEvent:
    event = last_event(emu)
    schema = emu.change_events.by_schema_id[event.schema_id]
    return events.decode(events.parse(schema.id, schema.json), event.payload)


def test_an_update_names_exactly_the_changed_fields() -> None:
    emu = SalesforceEmulator()
    emu.update_contact(ACME, ANA, {"FirstName": "Anabela", "Phone": None, "Title": "CTO"})
    change = decoded(emu)
    assert change.change_type == "UPDATE" and change.record_ids == (ANA,)
    assert {"Name.FirstName", "Phone", "Title"} <= change.changed_fields
    assert "Email" not in change.changed_fields and "Name.LastName" not in change.changed_fields
    assert change.nulled_fields == {"Phone"}
    assert change.body["Title"] == "CTO" and change.body["Email"] is None  # unchanged: null


def test_a_create_carries_the_record_and_no_bitmap() -> None:
    emu = SalesforceEmulator()
    record = emu.add_contact(ACME, {"LastName": "Okafor", "Email": "ada@example.com"})
    change = decoded(emu)
    assert change.change_type == "CREATE" and change.record_ids == (record["Id"],)
    assert change.changed_fields == frozenset()
    assert change.body["Email"] == "ada@example.com"
    assert change.body["Name"]["LastName"] == "Okafor"
    assert change.client is None


def test_names_given_as_such_pass_and_unknown_positions_are_ignored() -> None:
    emu = SalesforceEmulator()
    schema = emu.change_events.schemas["Contact"]
    parsed = events.parse(schema.id, schema.json)
    assert events.changed_fields(parsed, ["Email", "0x0"]) == {"Email"}
    assert events.changed_fields(parsed, ["999-0x1"]) == frozenset()
