"""Editing Lead fields, reverting and the history: the Contact rules, on Leads (docs/api.md,
"Lead edits"), against the Salesforce emulator."""

from __future__ import annotations

from functools import partial
from typing import Any

import httpx

from tests.helpers.contact_app import ACME, GLOBEX
from tests.helpers.edits import (
    ANA,
    LEAD_VISIBLE,
    LEADS,
    LENA,
    LENA_EMAIL,
    edit,
    edit_rows,
    history,
    revert,
    setup_workspace,
    values,
)
from tests.helpers.lookups import EmulatorAdmin, lookup, put_settings

edit_lead = partial(edit, contact=LENA, path=LEADS)
revert_lead = partial(revert, contact=LENA, path=LEADS)
lead_history = partial(history, contact=LENA, path=LEADS)


def stored_lead(sf_emulator: Any, lead: str = LENA, org: str = ACME) -> dict[str, Any]:
    record: dict[str, Any] = sf_emulator.get_record(org, "Lead", lead)
    return record


async def setup(client, auth, connect, ws: str = "ws-1", org: str = ACME, **kw: Any) -> None:
    await setup_workspace(client, auth, connect, ws, org, leads=LEAD_VISIBLE, **kw)


async def test_lead_edit_writes_records_and_answers_the_lead(
    client, auth, connect, sf_emulator, app
) -> None:
    await setup(client, auth, connect)

    response = await edit_lead(
        client, auth, {"Company": "Lena Holdings", "Status": "Working - Contacted"}
    )

    assert response.status_code == 200, response.text
    lead = response.json()
    assert lead["id"] == LENA
    assert lead["url"].endswith(f"/lightning/r/Lead/{LENA}/view")
    assert [f["name"] for f in lead["fields"]] == LEAD_VISIBLE
    shown = {f["name"]: f for f in lead["fields"]}
    assert shown["Company"]["value"] == "Lena Holdings"
    assert shown["Status"]["value"] == "Working - Contacted"
    assert shown["Company"]["editable"] is True and shown["Company"]["revertible"] is True
    assert shown["Title"]["editable"] is True and shown["Title"]["revertible"] is False
    assert shown["Email"]["editable"] is False and shown["Name"]["editable"] is False
    record = stored_lead(sf_emulator)
    assert (record["Company"], record["Status"]) == ("Lena Holdings", "Working - Contacted")
    assert lead["last_modified_at"][:19] == record["LastModifiedDate"][:19]

    entries = await lead_history(client, auth)
    assert {(e["field"], e["old_value"], e["new_value"]) for e in entries} == {
        ("Company", "Lead Only Ltd", "Lena Holdings"),
        ("Status", "Open - Not Contacted", "Working - Contacted"),
    }
    assert {e["edited_by"] for e in entries} == {"agent-7"}
    rows = await edit_rows(app)
    assert {(r.object, r.contact_id, r.status) for r in rows} == {("Lead", LENA, "applied")}
    # The Lead's edits are its own: the Contact with the Lead's email has none.
    assert await history(client, auth) == []


async def test_lookup_shows_the_lead_edit_at_once_and_after_the_cache_expires(
    client, auth, connect, sf_emulator, clock
) -> None:
    await setup(client, auth, connect)
    first = (await lookup(client, auth, email=LENA_EMAIL)).json()
    assert first["matched_object"] == "Lead" and first["cached"] is False

    edited = await edit_lead(client, auth, {"Title": "Founder"})
    assert edited.status_code == 200, edited.text
    sf_emulator.reset_counters()
    cached = (await lookup(client, auth, email=LENA_EMAIL)).json()

    assert cached["cached"] is True
    assert cached["lead"] == edited.json()
    assert sf_emulator.counters["api"] == 0

    clock.advance(120)  # past the lookup TTL: read again, revertible from the Lead's history
    fresh = (await lookup(client, auth, email=LENA_EMAIL)).json()
    assert fresh["cached"] is False
    title = next(f for f in fresh["lead"]["fields"] if f["name"] == "Title")
    assert title["value"] == "Founder" and title["revertible"] is True


async def test_lead_revert_walks_back_and_conflicts_unless_forced(
    client, auth, connect, sf_emulator
) -> None:
    await setup(client, auth, connect)
    assert (await edit_lead(client, auth, {"Company": "Second"})).status_code == 200
    assert (await edit_lead(client, auth, {"Company": "Third"})).status_code == 200

    first = await revert_lead(client, auth, "Company")
    assert first.status_code == 200, first.text
    assert values(first.json())["Company"] == "Second"
    assert stored_lead(sf_emulator)["Company"] == "Second"

    sf_emulator.update_record(ACME, "Lead", LENA, {"Company": "Set in Salesforce"})
    conflict = await revert_lead(client, auth, "Company")
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "edit_conflict"
    assert stored_lead(sf_emulator)["Company"] == "Set in Salesforce"

    forced = await revert_lead(client, auth, "company", force=True)
    assert forced.status_code == 200, forced.text
    assert values(forced.json())["Company"] == "Lead Only Ltd"
    assert stored_lead(sf_emulator)["Company"] == "Lead Only Ltd"
    nothing = await revert_lead(client, auth, "Company")
    assert nothing.status_code == 404 and nothing.json()["code"] == "nothing_to_revert"

    entries = await lead_history(client, auth)
    assert [(e["old_value"], e["new_value"]) for e in entries] == [
        ("Second", "Third"),
        ("Lead Only Ltd", "Second"),
    ]
    assert all(e["reverted_by"] == "agent-8" and e["reverted_at"] for e in entries)


async def test_a_change_to_the_lead_in_salesforce_is_detected_not_overwritten(
    client, auth, connect, sf_emulator, app
) -> None:
    await setup(client, auth, connect)

    async def salesforce_user_edits_after_our_read(response: httpx.Response) -> None:
        request = response.request
        if request.method == "GET" and f"/sobjects/Lead/{LENA}" in request.url.path:
            sf_emulator.update_record(ACME, "Lead", LENA, {"Title": "Set in Salesforce"})

    hooks = app.state.services.http.event_hooks["response"]
    hooks.append(salesforce_user_edits_after_our_read)
    try:
        response = await edit_lead(client, auth, {"Title": "Set in respond.io"})
    finally:
        hooks.remove(salesforce_user_edits_after_our_read)

    assert response.status_code == 409
    assert response.json()["code"] == "edit_conflict"
    assert "The Lead was changed in Salesforce" in response.json()["detail"]
    assert stored_lead(sf_emulator)["Title"] == "Set in Salesforce"
    assert await lead_history(client, auth) == []
    assert [r.status for r in await edit_rows(app)] == ["failed"]


async def test_lead_history_is_newest_first(client, auth, connect) -> None:
    await setup(client, auth, connect)
    for fields in ({"Title": "One"}, {"Company": "Other"}, {"Title": "Two"}):
        assert (await edit_lead(client, auth, fields)).status_code == 200

    entries = await lead_history(client, auth)

    assert [(e["field"], e["new_value"]) for e in entries] == [
        ("Title", "Two"),
        ("Company", "Other"),
        ("Title", "One"),
    ]


async def test_a_converted_lead_is_not_found_and_the_next_lookup_shows_its_contact(
    client, auth, connect, sf_emulator
) -> None:
    await setup(client, auth, connect)
    assert (await lookup(client, auth, email=LENA_EMAIL)).json()["matched_object"] == "Lead"
    assert (await edit_lead(client, auth, {"Title": "Before"})).status_code == 200
    before = (await lookup(client, auth, email=LENA_EMAIL)).json()
    assert before["matched_object"] == "Lead" and before["cached"] is True
    converted = await EmulatorAdmin(sf_emulator).convert(ACME, LENA)
    patches = sf_emulator.counters["lead.patch"]

    response = await edit_lead(client, auth, {"Title": "After"})

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "salesforce_lead_not_found"
    assert sf_emulator.counters["lead.patch"] == patches  # seen on the read: nothing sent
    response = await revert_lead(client, auth, "Title")
    assert response.status_code == 404
    assert response.json()["code"] == "salesforce_lead_not_found"
    # No TTL waited for: the conversion was seen, so the lookup asks Salesforce again.
    after = (await lookup(client, auth, email=LENA_EMAIL)).json()
    assert after["cached"] is False
    assert after["matched_object"] == "Contact" and after["lead"] is None
    assert after["contact"]["id"] == converted["contact"]["Id"]
    # The edit history of the Lead stays readable.
    assert [e["new_value"] for e in await lead_history(client, auth)] == ["Before"]


async def test_a_lead_converted_between_read_and_write_is_not_found(
    client, auth, connect, sf_emulator, app
) -> None:
    await setup(client, auth, connect)
    assert (await lookup(client, auth, email=LENA_EMAIL)).json()["matched_object"] == "Lead"

    async def converted_after_our_read(response: httpx.Response) -> None:
        # Converted within the second of our read: If-Unmodified-Since (whole seconds) cannot
        # tell, so Salesforce answers the PATCH with CANNOT_UPDATE_CONVERTED_LEAD.
        request = response.request
        if request.method == "GET" and f"/sobjects/Lead/{LENA}" in request.url.path:
            stored = sf_emulator.org(ACME).objects["Lead"][LENA]
            read_at = stored["LastModifiedDate"]
            sf_emulator.convert_lead(ACME, LENA)
            stored["LastModifiedDate"] = read_at

    hooks = app.state.services.http.event_hooks["response"]
    hooks.append(converted_after_our_read)
    try:
        response = await edit_lead(client, auth, {"Title": "Too late"})
    finally:
        hooks.remove(converted_after_our_read)

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "salesforce_lead_not_found"
    rows = await edit_rows(app)
    assert [(r.status, r.failure) for r in rows] == [("failed", "CANNOT_UPDATE_CONVERTED_LEAD")]
    assert await lead_history(client, auth) == []
    after = (await lookup(client, auth, email=LENA_EMAIL)).json()
    assert after["matched_object"] == "Contact" and after["cached"] is False


async def test_deleted_missing_and_malformed_lead_ids(client, auth, connect, sf_emulator) -> None:
    await setup(client, auth, connect)
    sf_emulator.delete_record(ACME, "Lead", LENA)
    for lead in (LENA, "00Q5g0000009ZZZ", ANA, LENA[:15] + "ZZZ"):
        response = await edit_lead(client, auth, {"Title": "x"}, contact=lead)
        assert response.status_code == 404, (lead, response.text)
        assert response.json()["code"] == "salesforce_lead_not_found"
    response = await revert_lead(client, auth, "Title")
    assert response.status_code == 404
    assert response.json()["code"] == "salesforce_lead_not_found"
    response = await edit_lead(client, auth, {"Title": "x"}, contact="00Q-not-an-id")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "lead_id"
    # A Lead id on the Contact paths is not a Contact.
    response = await edit(client, auth, {"Title": "x"}, contact=LENA)
    assert response.status_code == 404
    assert response.json()["code"] == "salesforce_contact_not_found"


async def test_email_phone_read_only_and_hidden_lead_fields_are_refused(
    client, auth, connect, sf_emulator, app
) -> None:
    await setup(client, auth, connect)
    await lead_history(client, auth)
    sf_emulator.reset_counters()

    response = await edit_lead(
        client,
        auth,
        {
            "Title": "Allowed alone",
            "Email": "new@example.com",
            "Phone": "+1 555 0100",
            "MobilePhone": "+1 555 0101",
            "Name": "Read Only",
            "Industry": "Banking",  # a Lead field, but not one of the visible ones
            "Department": "x",  # a Contact field only
        },
    )

    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "field_not_editable"
    refused = {e["field"]: e["message"] for e in problem["errors"]}
    assert set(refused) == {"Email", "Phone", "MobilePhone", "Name", "Industry", "Department"}
    assert "type email" in refused["Email"]
    assert "type phone" in refused["Phone"] and "type phone" in refused["MobilePhone"]
    assert "read-only" in refused["Name"]
    assert "visible" in refused["Industry"]
    assert "not a field of Lead" in refused["Department"]
    assert (await revert_lead(client, auth, "Email")).json()["code"] == "field_not_editable"
    assert sf_emulator.counters["lead.patch"] == 0
    assert await edit_rows(app) == []


async def test_lead_edits_need_editing_and_leads_enabled(
    client, auth, connect, sf_emulator
) -> None:
    await setup(client, auth, connect, editing=False)
    response = await edit_lead(client, auth, {"Title": "Nope"})
    assert response.status_code == 403 and response.json()["code"] == "editing_disabled"

    await put_settings(  # editing on, Leads off
        client,
        auth,
        editing_enabled=True,
        leads={"enabled": False, "visible_fields": LEAD_VISIBLE},
    )
    response = await edit_lead(client, auth, {"Title": "Nope"})
    assert response.status_code == 403
    assert response.json()["code"] == "editing_disabled"
    assert "leads.enabled" in response.json()["detail"]
    response = await revert_lead(client, auth, "Title")
    assert response.status_code == 403
    assert stored_lead(sf_emulator).get("Title") is None
    assert await lead_history(client, auth) == []


async def test_workspaces_never_see_or_touch_each_others_lead_edits(
    client, auth, connect, sf_emulator
) -> None:
    await setup(client, auth, connect, "ws-a")
    await setup(client, auth, connect, "ws-b", GLOBEX)
    await setup(client, auth, connect, "ws-c")  # another workspace on the same org
    assert (await edit_lead(client, auth, {"Title": "A's edit"}, ws="ws-a")).status_code == 200
    url = f"{LEADS.format(ws='ws-a')}/{LENA}"

    # B's token on A's paths.
    response = await client.patch(
        url, json={"fields": {"Title": "B was here"}}, headers=auth("ws-b", "owner")
    )
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    response = await client.post(f"{url}/fields/Title/revert", headers=auth("ws-b"))
    assert response.status_code == 403
    response = await client.get(f"{url}/history", headers=auth("ws-b"))
    assert response.status_code == 403

    # A's Lead through B's connection to another org does not exist.
    response = await edit_lead(client, auth, {"Title": "B was here"}, ws="ws-b")
    assert response.status_code == 404
    assert response.json()["code"] == "salesforce_lead_not_found"
    assert await lead_history(client, auth, ws="ws-b") == []

    # A workspace on the same org sees none of A's edits and cannot revert them.
    assert await lead_history(client, auth, ws="ws-c") == []
    response = await revert_lead(client, auth, "Title", ws="ws-c")
    assert response.status_code == 404 and response.json()["code"] == "nothing_to_revert"
    assert stored_lead(sf_emulator)["Title"] == "A's edit"
    assert len(await lead_history(client, auth, ws="ws-a")) == 1
