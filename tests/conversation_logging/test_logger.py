"""The logger: a worker turns each stored closed conversation into one completed Task, read
back from the Salesforce emulator's records."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.helpers.autocreate import running_worker, wait_until
from tests.helpers.conversations import (
    ANA,
    BEN,
    SALES_USER,
    close,
    conversation,
    conversations,
    post,
    set_up,
    settled,
    signed,
    tasks_of,
)

LINE = re.compile(r"^\[(\d{4}-\d{2}-\d{2} \d{2}:\d{2})\] (.+?): (.*)$")
LIST = "/v1/workspaces/ws-1/salesforce/conversation-logging"


async def test_a_250_message_conversation_is_logged_complete_and_in_order(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any, settings: Any
) -> None:
    logging = await set_up(app, client, auth, sf_emulator)
    seeded = conversation(rio, logging, 250)
    event = close(rio, logging, seeded)
    answer = await post(client, logging, signed(rio, logging, event["event_id"]))
    assert answer.status_code == 200

    async with running_worker(settings, reconcile=False):
        await wait_until(lambda: settled(app), timeout=60)

    (task,) = await tasks_of(sf_emulator, ANA)
    assert task["Subject"] == "WhatsApp conversation: Resolved"
    assert task["Status"] == "Completed"
    assert task["OwnerId"] == SALES_USER  # the Salesforce user with the agent's email
    summary, _, transcript = task["Description"].partition("\n\n")
    assert summary == "Order 1234 refunded"
    lines = transcript.split("\n")
    assert len(lines) == 250
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines[:3]
    assert [m.group(3) for m in parsed if m] == [f"message number {i}" for i in range(250)]
    assert [m.group(2) for m in parsed[:2] if m] == ["Ana Souza", "Sam Seller"]
    stamps = [m.group(1) for m in parsed if m]
    assert stamps == sorted(stamps)
    assert task["ActivityDate"] == stamps[-1][:10]  # the closing day (UTC)

    (row,) = await conversations(app)
    assert (row.description, row.event) == (None, {})  # the transcript is not kept
    listed = (await client.get(LIST, headers=auth("ws-1", "manager"))).json()
    assert listed["counts"] == {"logged": 1, "skipped": 0, "pending": 0, "failed": 0}
    (entry,) = listed["events"]
    assert (entry["outcome"], entry["task_id"]) == ("logged", task["Id"])
    assert entry["task_url"].endswith(f"/lightning/r/Task/{task['Id']}/view")
    assert entry["processed_at"] is not None
    # The Task is one of the record's logged activities (9.4), under the conversation's id.
    activities = await client.get(
        "/v1/workspaces/ws-1/salesforce/activities", params={"record_id": ANA}, headers=auth()
    )
    assert [a["task_id"] for a in activities.json()] == [task["Id"]]


async def test_the_same_conversation_delivered_three_times_gives_one_task(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any, settings: Any
) -> None:
    logging = await set_up(app, client, auth, sf_emulator)
    event = close(rio, logging, conversation(rio, logging, 4))
    first = signed(rio, logging, event["event_id"])
    async with (
        running_worker(settings, reconcile=False),
        running_worker(settings, reconcile=False),
    ):  # two replicas
        assert (await post(client, logging, first)).status_code == 200
        assert (await post(client, logging, first)).status_code == 200  # redelivered
        renamed = signed(rio, logging, event["event_id"], new_id=True)
        assert (await post(client, logging, renamed)).status_code == 200  # under a new id
        await wait_until(lambda: settled(app), timeout=30)
        later = signed(rio, logging, event["event_id"], new_id=True)
        assert (await post(client, logging, later)).status_code == 200  # after it was logged
        await wait_until(lambda: settled(app), timeout=30)

    tasks = await tasks_of(sf_emulator, ANA)
    assert len(tasks) == 1
    listed = (await client.get(LIST, headers=auth("ws-1", "owner"))).json()
    assert len(listed["events"]) == 3  # the redelivery has the first one's id
    assert {e["task_id"] for e in listed["events"]} == {tasks[0]["Id"]}
    assert listed["counts"]["logged"] == 1


async def test_a_phone_matches_when_there_is_no_email_and_attachments_are_named(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any, settings: Any
) -> None:
    logging = await set_up(app, client, auth, sf_emulator)
    seeded = conversation(rio, logging, 1, email=None, phone="+60198765432")
    rio.conversations.add_message(
        logging.token,
        seeded["contact"]["id"],
        traffic="incoming",
        attachment={"type": "file", "url": "https://x.example/f", "fileName": "invoice.pdf"},
        channel_id=seeded["channel"]["id"],
        timestamp_ms=seeded["opened_time"] + 1500,
    )
    event = close(rio, logging, seeded, category=None, summary=None)
    await post(client, logging, signed(rio, logging, event["event_id"]))
    async with running_worker(settings, reconcile=False):
        await wait_until(lambda: settled(app), timeout=30)
    (task,) = await tasks_of(sf_emulator, BEN)
    assert task["Subject"] == "WhatsApp conversation"
    lines = task["Description"].split("\n")
    assert lines[0].endswith("Ana Souza: message number 0")
    assert lines[1].endswith("Ana Souza: [attachment: invoice.pdf]")


async def test_messages_without_a_time_are_taken_by_the_events_counts(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any, settings: Any
) -> None:
    logging = await set_up(app, client, auth, sf_emulator)
    earlier = conversation(rio, logging, 3, with_timestamps=False)
    close(rio, logging, earlier)  # an earlier conversation of the same contact
    seeded = conversation(rio, logging, 5, with_timestamps=False)
    event = close(rio, logging, seeded)
    conversation_counts = [
        event["conversation"][f"{k}MessageCount"] for k in ("incoming", "outgoing")
    ]
    assert conversation_counts == [3, 2]
    await post(client, logging, signed(rio, logging, event["event_id"]))
    async with running_worker(settings, reconcile=False):
        await wait_until(lambda: settled(app), timeout=30)
    (task,) = await tasks_of(sf_emulator, ANA)
    lines = task["Description"].split("\n\n", 1)[1].split("\n")
    assert lines == [
        f"{'Ana Souza' if i % 2 == 0 else 'Sam Seller'}: message number {i}" for i in range(5)
    ]


async def test_skips_are_recorded_with_their_reason(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any, settings: Any
) -> None:
    logging = await set_up(
        app, client, auth, sf_emulator, conversation_logging={"enabled": True, "min_messages": 3}
    )
    nobody = close(rio, logging, conversation(rio, logging, 4, email="nobody@example.com"))
    short = close(rio, logging, conversation(rio, logging, 2))
    for event in (nobody, short):
        await post(client, logging, signed(rio, logging, event["event_id"]))
    async with running_worker(settings, reconcile=False):
        await wait_until(lambda: settled(app, 2), timeout=30)
    listed = (await client.get(LIST, headers=auth("ws-1", "owner"))).json()
    assert listed["counts"] == {"logged": 0, "skipped": 2, "pending": 0, "failed": 0}
    reasons = {e["event_id"]: e["reason"] for e in listed["events"]}
    assert "no Salesforce Contact or Lead" in reasons[nobody["event_id"]]
    assert reasons[short["event_id"]] == "2 messages, fewer than min_messages (3)"
    assert await tasks_of(sf_emulator, ANA) == []


async def test_nothing_is_logged_while_logging_is_off(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any, settings: Any
) -> None:
    logging = await set_up(
        app, client, auth, sf_emulator, conversation_logging={"enabled": False, "min_messages": 1}
    )
    event = close(rio, logging, conversation(rio, logging, 2))
    await post(client, logging, signed(rio, logging, event["event_id"]))
    async with running_worker(settings, reconcile=False):
        await wait_until(lambda: settled(app), timeout=30)
    (row,) = await conversations(app)
    assert (row.status, row.reason) == ("skipped", "conversation logging is off for this workspace")
    assert await tasks_of(sf_emulator, ANA) == []


async def test_a_lead_is_matched_when_no_contact_is_and_leads_are_on(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any, settings: Any
) -> None:
    leads = {"enabled": True, "visible_fields": ["Name", "Company", "Email", "Phone", "Status"]}
    logging = await set_up(app, client, auth, sf_emulator, leads=leads)
    lead_only = close(rio, logging, conversation(rio, logging, 2, email="lead.only@example.com"))
    both = close(rio, logging, conversation(rio, logging, 2))  # Ana is a Contact and a Lead
    for event in (lead_only, both):
        await post(client, logging, signed(rio, logging, event["event_id"]))
    async with running_worker(settings, reconcile=False):
        await wait_until(lambda: settled(app, 2), timeout=30)
    assert len(await tasks_of(sf_emulator, "00Q5g0000006TPJEA2")) == 1
    assert len(await tasks_of(sf_emulator, ANA)) == 1  # a Contact always wins over a Lead
    assert await tasks_of(sf_emulator, "00Q5g0000006TMNEA2") == []


async def test_an_owner_salesforce_refuses_leaves_the_task_to_the_connected_user(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any, settings: Any
) -> None:
    logging = await set_up(app, client, auth, sf_emulator)
    event = close(rio, logging, conversation(rio, logging, 2))
    async with httpx.AsyncClient(base_url=sf_emulator.base_url) as http:
        fault = {
            "object": "Task",
            "operations": ["create"],
            "error_code": "INACTIVE_OWNER_OR_USER",
            "message": "operation performed with inactive user [0055g000000GR44] as owner",
            "fields": ["OwnerId"],
            "count": 1,
        }
        added = await http.post("/__emulator/orgs/00D5g000003GIV7EAO/write-faults", json=fault)
        assert added.status_code == 201, added.text
    await post(client, logging, signed(rio, logging, event["event_id"]))
    async with running_worker(settings, reconcile=False):
        await wait_until(lambda: settled(app), timeout=30)
    (task,) = await tasks_of(sf_emulator, ANA)
    assert task["OwnerId"] == "0055g000000GR2fAAG"  # the connected admin, not the agent


async def test_only_the_closed_conversations_messages_are_logged(
    app: Any, client: httpx.AsyncClient, auth: Any, sf_emulator: Any, rio: Any, settings: Any
) -> None:
    logging = await set_up(app, client, auth, sf_emulator)
    seeded = conversation(rio, logging, 2)
    for i in range(3):  # an earlier conversation's messages, a minute before this one opened
        rio.conversations.add_message(
            logging.token,
            seeded["contact"]["id"],
            traffic="incoming",
            text=f"earlier {i}",
            channel_id=seeded["channel"]["id"],
            timestamp_ms=seeded["opened_time"] - 60_000 + i,
        )
    event = close(rio, logging, seeded)
    rio.conversations.add_message(  # a message after it closed
        logging.token,
        seeded["contact"]["id"],
        traffic="incoming",
        text="one more thing",
        channel_id=seeded["channel"]["id"],
        timestamp_ms=event["conversation"]["closedTime"] + 1000,
    )
    await post(client, logging, signed(rio, logging, event["event_id"]))
    async with running_worker(settings, reconcile=False):
        await wait_until(lambda: settled(app), timeout=30)
    (task,) = await tasks_of(sf_emulator, ANA)
    lines = task["Description"].split("\n\n", 1)[1].split("\n")
    assert [line.split("] ", 1)[1] for line in lines] == [
        "Ana Souza: message number 0",
        "Sam Seller: message number 1",
    ]
