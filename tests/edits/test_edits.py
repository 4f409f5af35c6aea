"""Editing Contact fields, reverting and the history, against the Salesforce emulator."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.helpers.contact_app import ACME, GLOBEX
from tests.helpers.edits import (
    ANA,
    ANA_EMAIL,
    CONTACTS,
    DELETED,
    VISIBLE,
    edit,
    edit_rows,
    history,
    revert,
    setup_workspace,
    stored,
    values,
)

# -- edits ------------------------------------------------------------------------------------


async def test_edit_text_field_writes_records_and_answers_the_contact(
    client, auth, connect, sf_emulator, app
) -> None:
    await setup_workspace(client, auth, connect)
    before = stored(sf_emulator)

    response = await edit(client, auth, {"Title": "Chief Technology Officer"})

    assert response.status_code == 200, response.text
    contact = response.json()
    assert contact["id"] == ANA
    assert contact["url"].endswith(f"/lightning/r/Contact/{ANA}/view")
    assert [f["name"] for f in contact["fields"]] == VISIBLE
    title = next(f for f in contact["fields"] if f["name"] == "Title")
    assert title == {
        "name": "Title",
        "label": "Title",
        "type": "string",
        "value": "Chief Technology Officer",
        "editable": True,
        "revertible": True,
    }
    lead_source = next(f for f in contact["fields"] if f["name"] == "LeadSource")
    assert lead_source["editable"] is True and lead_source["revertible"] is False
    after = stored(sf_emulator)
    assert after["Title"] == "Chief Technology Officer"
    assert contact["last_modified_at"] is not None
    assert contact["last_modified_at"][:19] == after["LastModifiedDate"][:19]

    entries = await history(client, auth)
    assert len(entries) == 1
    assert entries[0]["field"] == "Title"
    assert entries[0]["old_value"] == before["Title"]
    assert entries[0]["new_value"] == "Chief Technology Officer"
    assert entries[0]["edited_by"] == "agent-7"
    assert entries[0]["edited_at"]
    assert entries[0]["reverted_at"] is None and entries[0]["reverted_by"] is None
    rows = await edit_rows(app)
    assert [(r.status, r.workspace_id, r.organization_id) for r in rows] == [
        ("applied", "ws-1", ACME)
    ]


async def test_edit_picklist_date_boolean_and_number_fields(
    client, auth, connect, sf_emulator
) -> None:
    await setup_workspace(client, auth, connect)

    response = await edit(
        client,
        auth,
        {
            "LeadSource": "Partner Referral",
            "Preferred_Language__c": "malay",  # restricted: matched like Salesforce, any case
            "Birthdate": "1990-01-31",
            "HasOptedOutOfEmail": True,
            "Customer_Score__c": 42.5,
        },
    )

    assert response.status_code == 200, response.text
    shown = values(response.json())
    assert shown["LeadSource"] == "Partner Referral"
    assert shown["Preferred_Language__c"] == "Malay"
    assert shown["Birthdate"] == "1990-01-31"
    assert shown["HasOptedOutOfEmail"] is True
    assert shown["Customer_Score__c"] == 42.5
    # Read back after the write: the formula field follows the new score.
    assert shown["Engagement_Level__c"] == "Low"
    record = stored(sf_emulator)
    assert record["LeadSource"] == "Partner Referral"
    assert record["Preferred_Language__c"] == "Malay"
    assert record["Birthdate"] == "1990-01-31"
    assert record["HasOptedOutOfEmail"] is True
    assert record["Customer_Score__c"] == 42.5
    assert {e["field"] for e in await history(client, auth)} == {
        "LeadSource",
        "Preferred_Language__c",
        "Birthdate",
        "HasOptedOutOfEmail",
        "Customer_Score__c",
    }


async def test_values_are_checked_against_the_describe_before_salesforce(
    client, auth, connect, sf_emulator, app
) -> None:
    await setup_workspace(client, auth, connect)
    await history(client, auth)  # warm the connection snapshot
    sf_emulator.reset_counters()
    cases = {
        "Title": ("x" * 129, "longer than 128"),
        "Preferred_Language__c": ("Klingon", "not one of the picklist values"),
        "Birthdate": ("31/01/1990", "YYYY-MM-DD"),
        "HasOptedOutOfEmail": ("yes", "true or false"),
        "Customer_Score__c": ("high", "must be a number"),
        "FirstName": (12, "must be a string"),
    }
    for field, (value, reason) in cases.items():
        response = await edit(client, auth, {field: value})
        assert response.status_code == 422, (field, response.text)
        problem = response.json()
        assert problem["code"] == "validation_error"
        assert problem["errors"][0]["field"] == f"fields.{field}"
        assert reason in problem["errors"][0]["message"], problem

    for field, value, reason in [
        ("Birthdate", "1990-02-30", "not a valid calendar date"),
        ("HasOptedOutOfEmail", None, "may not be empty"),
        ("Customer_Score__c", 1000, "outside the valid range"),
    ]:
        response = await edit(client, auth, {field: value})
        assert response.status_code == 422
        assert reason in response.json()["errors"][0]["message"]

    # Several bad values at once: every one is named, nothing is written.
    response = await edit(client, auth, {"Birthdate": "soon", "Title": "OK", "FirstName": 1})
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {
        "fields.Birthdate",
        "fields.FirstName",
    }
    assert sf_emulator.counters["contact.patch"] == 0
    assert await edit_rows(app) == []


async def test_null_clears_a_field_that_may_be_empty(client, auth, connect, sf_emulator) -> None:
    await setup_workspace(client, auth, connect)
    response = await edit(client, auth, {"Title": None, "Description": ""})
    assert response.status_code == 200, response.text
    assert stored(sf_emulator)["Title"] is None
    assert values(response.json())["Title"] is None


async def test_email_phone_formula_and_hidden_fields_are_refused(
    client, auth, connect, sf_emulator, app
) -> None:
    await setup_workspace(client, auth, connect)
    title = stored(sf_emulator)["Title"]
    await history(client, auth)
    sf_emulator.reset_counters()

    response = await edit(
        client,
        auth,
        {
            "Title": "Allowed alone",
            "Email": "new@example.com",
            "Phone": "+1 555 0100",
            "MobilePhone": "+1 555 0101",
            "Engagement_Level__c": "High",
            "Department": "Hidden",
            "Name": "Read Only",
            "No_Such_Field__c": "x",
        },
    )

    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "field_not_editable"
    refused = {e["field"]: e["message"] for e in problem["errors"]}
    assert set(refused) == {
        "Email",
        "Phone",
        "MobilePhone",
        "Engagement_Level__c",
        "Department",
        "Name",
        "No_Such_Field__c",
    }
    assert "type email" in refused["Email"]
    assert "type phone" in refused["MobilePhone"]
    assert "read-only" in refused["Engagement_Level__c"]
    assert "visible" in refused["Department"]
    assert "not a field of Contact" in refused["No_Such_Field__c"]
    for name in refused:
        assert name in problem["detail"]
    assert sf_emulator.counters["contact.patch"] == 0
    assert stored(sf_emulator)["Title"] == title
    assert await edit_rows(app) == []


async def test_validation_rule_rejection_carries_salesforce_error(
    client, auth, connect, sf_emulator, app
) -> None:
    await setup_workspace(client, auth, connect)
    title = stored(sf_emulator)["Title"]

    response = await edit(client, auth, {"Title": "A forbidden title"})

    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "salesforce_validation_failed"
    assert problem["errors"][0]["errorCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert "forbidden" in problem["errors"][0]["message"]
    assert "fields" in problem["errors"][0]
    assert stored(sf_emulator)["Title"] == title
    assert await history(client, auth) == []
    rows = await edit_rows(app)
    assert [(r.status, r.failure) for r in rows] == [
        ("failed", "FIELD_CUSTOM_VALIDATION_EXCEPTION")
    ]


async def test_deleted_missing_and_malformed_contact_ids(client, auth, connect) -> None:
    await setup_workspace(client, auth, connect)
    for contact in (DELETED, "0035g0000009ZZZAAA"[:15], "001000000000001AAA"):
        response = await edit(client, auth, {"Title": "x"}, contact=contact)
        assert response.status_code == 404, (contact, response.text)
        assert response.json()["code"] == "salesforce_contact_not_found"
    # An 18-character id whose checksum does not match its first 15 characters.
    response = await edit(client, auth, {"Title": "x"}, contact=ANA[:15] + "ZZZ")
    assert response.status_code == 404
    for contact in ("abc", "0035g0000006Sev!AE", "0035g0000006SevAAEX"):
        response = await edit(client, auth, {"Title": "x"}, contact=contact)
        assert response.status_code == 422, (contact, response.text)
        assert response.json()["code"] == "validation_error"
    # A 15-character id works and answers with the 18-character one.
    response = await edit(client, auth, {"Title": "Short id"}, contact=ANA[:15])
    assert response.status_code == 200
    assert response.json()["id"] == ANA
    assert (await revert(client, auth, "Title", contact=DELETED)).status_code == 404
    response = await client.get(
        f"{CONTACTS.format(ws='ws-1')}/{DELETED}/history", headers=auth("ws-1", "agent")
    )
    assert response.status_code == 200 and response.json() == []


async def test_body_limits(client, auth, connect) -> None:
    await setup_workspace(client, auth, connect)
    url = f"{CONTACTS.format(ws='ws-1')}/{ANA}"
    headers = auth("ws-1", "agent")
    too_many = {f"Field{i}__c": "x" for i in range(101)}
    cases: list[Any] = [
        {"fields": {}},
        {"fields": too_many},
        {"fields": {"Title": {"nested": True}}},
        {"fields": {"Title": ["a"]}},
        {"fields": {"Title; DROP": "x"}},
        {"fields": {"Title": "x"}, "extra": 1},
        {},
        [],
    ]
    for body in cases:
        response = await client.patch(url, json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "validation_error"
    response = await client.patch(url, content=b"{not json", headers=headers)
    assert response.status_code == 422
    huge = b'{"fields": {"Description": "' + b"x" * 1_100_000 + b'"}}'
    response = await client.patch(
        url, content=huge, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


async def test_concurrent_change_in_salesforce_is_detected_not_overwritten(
    client, auth, connect, sf_emulator, app
) -> None:
    await setup_workspace(client, auth, connect)

    async def salesforce_user_edits_after_our_read(response: httpx.Response) -> None:
        request = response.request
        if request.method == "GET" and f"/sobjects/Contact/{ANA}" in request.url.path:
            sf_emulator.update_contact(ACME, ANA, {"Title": "Set in Salesforce"})

    app.state.services.http.event_hooks["response"].append(salesforce_user_edits_after_our_read)
    try:
        response = await edit(client, auth, {"Title": "Set in respond.io"})
    finally:
        app.state.services.http.event_hooks["response"].remove(salesforce_user_edits_after_our_read)

    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "edit_conflict"
    assert "changed in Salesforce" in problem["detail"]
    assert stored(sf_emulator)["Title"] == "Set in Salesforce"
    assert await history(client, auth) == []
    assert [r.status for r in await edit_rows(app)] == ["failed"]

    # Trying again reads the new state and succeeds.
    response = await edit(client, auth, {"Title": "Set in respond.io"})
    assert response.status_code == 200
    assert (await history(client, auth))[0]["old_value"] == "Set in Salesforce"


async def test_same_request_twice_writes_and_records_once(
    client, auth, connect, sf_emulator
) -> None:
    await setup_workspace(client, auth, connect)
    body = {"Title": "Retried", "LeadSource": "Phone Inquiry"}
    first = await edit(client, auth, body)
    assert first.status_code == 200
    patches = sf_emulator.counters["contact.patch"]

    second = await edit(client, auth, body)

    assert second.status_code == 200
    assert values(second.json()) == values(first.json())
    assert sf_emulator.counters["contact.patch"] == patches
    entries = await history(client, auth)
    assert sorted(e["field"] for e in entries) == ["LeadSource", "Title"]
    # Partly the same: only the field that changes is written and recorded.
    third = await edit(client, auth, {"Title": "Retried", "LeadSource": "Other"})
    assert third.status_code == 200
    assert [e["field"] for e in await history(client, auth)][0] == "LeadSource"
    assert len(await history(client, auth)) == 3


async def test_editing_disabled(client, auth, connect, sf_emulator) -> None:
    await setup_workspace(client, auth, connect, editing=False)
    title = stored(sf_emulator)["Title"]
    response = await edit(client, auth, {"Title": "Nope"})
    assert response.status_code == 403
    assert response.json()["code"] == "editing_disabled"
    response = await revert(client, auth, "Title")
    assert response.status_code == 403
    assert response.json()["code"] == "editing_disabled"
    assert stored(sf_emulator)["Title"] == title
    assert await history(client, auth) == []
    lookup = await client.get(
        f"{CONTACTS.format(ws='ws-1')}/lookup",
        params={"email": ANA_EMAIL},
        headers=auth("ws-1", "agent"),
    )
    assert {(f["editable"], f["revertible"]) for f in lookup.json()["contact"]["fields"]} == {
        (False, False)
    }


async def test_every_role_may_edit_and_tokens_are_checked(client, auth, connect) -> None:
    await setup_workspace(client, auth, connect)
    for role in ("owner", "manager", "agent"):
        response = await client.patch(
            f"{CONTACTS.format(ws='ws-1')}/{ANA}",
            json={"fields": {"Title": f"By {role}"}},
            headers=auth("ws-1", role),
        )
        assert response.status_code == 200, response.text
    response = await client.patch(
        f"{CONTACTS.format(ws='ws-1')}/{ANA}", json={"fields": {"Title": "anonymous"}}
    )
    assert response.status_code == 401


# -- reverts ----------------------------------------------------------------------------------


async def test_revert_and_revert_again_walk_back(client, auth, connect, sf_emulator) -> None:
    await setup_workspace(client, auth, connect)
    original = stored(sf_emulator)["Title"]
    assert (await edit(client, auth, {"Title": "Second"})).status_code == 200
    assert (await edit(client, auth, {"Title": "Third"})).status_code == 200

    first = await revert(client, auth, "Title")
    assert first.status_code == 200, first.text
    assert values(first.json())["Title"] == "Second"
    assert stored(sf_emulator)["Title"] == "Second"
    title = next(f for f in first.json()["fields"] if f["name"] == "Title")
    assert title["revertible"] is True  # the first edit can still be undone

    second = await revert(client, auth, "title")  # field names are matched like Salesforce
    assert second.status_code == 200, second.text
    assert values(second.json())["Title"] == original
    assert stored(sf_emulator)["Title"] == original
    title = next(f for f in second.json()["fields"] if f["name"] == "Title")
    assert title["revertible"] is False

    third = await revert(client, auth, "Title")
    assert third.status_code == 404
    assert third.json()["code"] == "nothing_to_revert"

    entries = await history(client, auth)
    assert [(e["old_value"], e["new_value"]) for e in entries] == [
        ("Second", "Third"),
        (original, "Second"),
    ]
    assert all(e["reverted_by"] == "agent-8" and e["reverted_at"] for e in entries)


async def test_revert_conflict_unless_forced(client, auth, connect, sf_emulator) -> None:
    await setup_workspace(client, auth, connect)
    original = stored(sf_emulator)["Title"]
    assert (await edit(client, auth, {"Title": "Ours"})).status_code == 200
    sf_emulator.update_contact(ACME, ANA, {"Title": "Theirs"})
    patches = sf_emulator.counters["contact.patch"]

    conflict = await revert(client, auth, "Title")

    assert conflict.status_code == 409
    assert conflict.json()["code"] == "edit_conflict"
    assert "force=true" in conflict.json()["detail"]
    assert stored(sf_emulator)["Title"] == "Theirs"
    assert sf_emulator.counters["contact.patch"] == patches
    assert (await history(client, auth))[0]["reverted_at"] is None

    forced = await revert(client, auth, "Title", force=True)

    assert forced.status_code == 200, forced.text
    assert values(forced.json())["Title"] == original
    assert stored(sf_emulator)["Title"] == original
    entry = (await history(client, auth))[0]
    assert entry["reverted_by"] == "agent-8" and entry["reverted_at"]


async def test_revert_of_a_field_never_edited_or_not_editable(client, auth, connect) -> None:
    await setup_workspace(client, auth, connect)
    response = await revert(client, auth, "Title")
    assert response.status_code == 404
    assert response.json()["code"] == "nothing_to_revert"
    response = await revert(client, auth, "Email")
    assert response.status_code == 422
    assert response.json()["code"] == "field_not_editable"


async def test_history_is_newest_first(client, auth, connect) -> None:
    await setup_workspace(client, auth, connect)
    for fields in ({"Title": "One"}, {"LeadSource": "Other"}, {"Title": "Two"}):
        assert (await edit(client, auth, fields)).status_code == 200

    entries = await history(client, auth)

    assert [(e["field"], e["new_value"]) for e in entries] == [
        ("Title", "Two"),
        ("LeadSource", "Other"),
        ("Title", "One"),
    ]
    assert entries[0]["old_value"] == "One"
    assert set(entries[0]) == {
        "field",
        "old_value",
        "new_value",
        "edited_by",
        "edited_at",
        "reverted_at",
        "reverted_by",
    }


# -- the lookup cache ---------------------------------------------------------------------------


async def test_cached_lookup_shows_edit_and_revert_at_once(
    client, auth, connect, sf_emulator
) -> None:
    await setup_workspace(client, auth, connect)
    url = f"{CONTACTS.format(ws='ws-1')}/lookup"
    params = {"email": ANA_EMAIL}
    first = await client.get(url, params=params, headers=auth("ws-1", "agent"))
    assert first.json()["cached"] is False
    original = values(first.json()["contact"])["Title"]

    edited = await edit(client, auth, {"Title": "Fresh in cache", "Customer_Score__c": 85})
    assert edited.status_code == 200
    sf_emulator.reset_counters()
    after_edit = (await client.get(url, params=params, headers=auth("ws-1", "agent"))).json()

    assert after_edit["cached"] is True
    assert values(after_edit["contact"])["Title"] == "Fresh in cache"
    assert values(after_edit["contact"])["Engagement_Level__c"] == "High"
    assert after_edit["contact"] == edited.json() | {"fields": after_edit["contact"]["fields"]}
    assert sf_emulator.counters["query"] == 0
    assert sf_emulator.counters["api"] == 0

    assert (await revert(client, auth, "Title")).status_code == 200
    sf_emulator.reset_counters()
    after_revert = (await client.get(url, params=params, headers=auth("ws-1", "agent"))).json()

    assert after_revert["cached"] is True
    assert values(after_revert["contact"])["Title"] == original
    assert sf_emulator.counters["api"] == 0


# -- workspaces ---------------------------------------------------------------------------------


async def test_workspaces_never_see_or_touch_each_others_edits(
    client, auth, connect, sf_emulator
) -> None:
    await setup_workspace(client, auth, connect, "ws-a")
    await setup_workspace(client, auth, connect, "ws-b", GLOBEX)
    await setup_workspace(client, auth, connect, "ws-c")  # another workspace on the same org
    assert (await edit(client, auth, {"Title": "A's edit"}, ws="ws-a")).status_code == 200

    # B's token on A's paths.
    response = await client.patch(
        f"{CONTACTS.format(ws='ws-a')}/{ANA}",
        json={"fields": {"Title": "B was here"}},
        headers=auth("ws-b", "owner"),
    )
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    response = await client.post(
        f"{CONTACTS.format(ws='ws-a')}/{ANA}/fields/Title/revert", headers=auth("ws-b")
    )
    assert response.status_code == 403
    response = await client.get(f"{CONTACTS.format(ws='ws-a')}/{ANA}/history", headers=auth("ws-b"))
    assert response.status_code == 403

    # A's contact through B's connection to another org does not exist.
    response = await edit(client, auth, {"Title": "B was here"}, ws="ws-b")
    assert response.status_code == 404
    assert response.json()["code"] == "salesforce_contact_not_found"
    response = await revert(client, auth, "Title", ws="ws-b")
    assert response.status_code in (404,)
    assert await history(client, auth, ws="ws-b") == []

    # A workspace on the same org sees none of A's edits and cannot revert them.
    assert await history(client, auth, ws="ws-c") == []
    response = await revert(client, auth, "Title", ws="ws-c")
    assert response.status_code == 404
    assert response.json()["code"] == "nothing_to_revert"
    assert stored(sf_emulator)["Title"] == "A's edit"
    assert len(await history(client, auth, ws="ws-a")) == 1


async def test_concurrent_identical_requests_write_and_record_once(
    client, auth, connect, sf_emulator
) -> None:
    await setup_workspace(client, auth, connect)
    await history(client, auth)
    sf_emulator.reset_counters()

    responses = await asyncio.gather(
        *(edit(client, auth, {"Title": "Double click"}) for _ in range(5))
    )

    assert {r.status_code for r in responses} == {200}
    assert sf_emulator.counters["contact.patch"] == 1
    assert [e["new_value"] for e in await history(client, auth)] == ["Double click"]


async def test_lookup_marks_revertible_only_fields_with_an_edit_left_to_undo(
    client, auth, connect, sf_emulator, clock
) -> None:
    await setup_workspace(client, auth, connect)
    url = f"{CONTACTS.format(ws='ws-1')}/lookup"

    async def revertible() -> dict[str, bool]:
        answer = (await client.get(url, params={"email": ANA_EMAIL}, headers=auth())).json()
        return {f["name"]: f["revertible"] for f in answer["contact"]["fields"] if f["editable"]}

    assert not any((await revertible()).values())
    assert (
        await edit(client, auth, {"Title": "Undo me", "LeadSource": "Other"})
    ).status_code == 200
    cached = await revertible()
    assert {name for name, yes in cached.items() if yes} == {"Title", "LeadSource"}

    clock.advance(120)  # past the lookup TTL: read from Salesforce and the edit history again
    assert await revertible() == cached

    assert (await revert(client, auth, "Title")).status_code == 200
    assert {name for name, yes in (await revertible()).items() if yes} == {"LeadSource"}
    clock.advance(120)
    assert {name for name, yes in (await revertible()).items() if yes} == {"LeadSource"}
