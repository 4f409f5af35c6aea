"""The settings answer warns when auto-create is on but no respond.io token is stored."""

from __future__ import annotations

from typing import Any

SETTINGS = "/v1/workspaces/{ws}/salesforce/settings"
CREDENTIALS = "/v1/workspaces/{ws}/respondio-credentials"
DOCUMENT = {
    "visible_fields": ["Name", "Email", "Phone", "MobilePhone", "Title", "LeadSource"],
    "editing_enabled": False,
    "phone_matching": "exact",
    "auto_create": {"enabled": True, "add_tag": True, "include_bulk_imports": False},
}


async def test_enabling_auto_create_without_a_token_says_so(client: Any, auth: Any) -> None:
    answer = await client.put(SETTINGS.format(ws="ws-1"), json=DOCUMENT, headers=auth("ws-1"))
    assert answer.status_code == 200
    [warning] = answer.json()["warnings"]
    assert warning["code"] == "respondio_token_missing"
    assert "respondio-credentials" in warning["message"]
    read = await client.get(SETTINGS.format(ws="ws-1"), headers=auth("ws-1", "agent"))
    assert read.json()["warnings"] == [warning]

    # A client that PUTs back what it read (warnings included) is not refused.
    again = await client.put(SETTINGS.format(ws="ws-1"), json=read.json(), headers=auth("ws-1"))
    assert again.status_code == 200

    stored = await client.put(
        CREDENTIALS.format(ws="ws-1"), json={"api_token": "rio-token"}, headers=auth("ws-1")
    )
    assert stored.status_code == 200
    read = await client.get(SETTINGS.format(ws="ws-1"), headers=auth("ws-1", "agent"))
    assert "warnings" not in read.json()
    assert read.json()["auto_create"]["enabled"] is True


async def test_no_warning_while_auto_create_is_off(client: Any, auth: Any) -> None:
    body = {**DOCUMENT, "auto_create": {**DOCUMENT["auto_create"], "enabled": False}}
    answer = await client.put(SETTINGS.format(ws="ws-1"), json=body, headers=auth("ws-1"))
    assert answer.status_code == 200 and "warnings" not in answer.json()
