"""A record-level rejection of a write is Salesforce's answer about the record, never an
outage: the caller gets a 4xx carrying Salesforce's errorCode and message, and is not told
to retry. Only timeouts, 5xx and network failures are `salesforce_unavailable`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers.contact_app import ACME
from tests.helpers.edits import ANA, edit, edit_rows, revert, setup_workspace, stored


async def write_fault(sf_emulator: Any, **spec: Any) -> None:
    async with httpx.AsyncClient(base_url=sf_emulator.base_url, timeout=10) as http:
        response = await http.post(
            f"/__emulator/orgs/{ACME}/write-faults",
            json={"object": "Contact", "operations": ["update"], "count": 1, **spec},
        )
        assert response.status_code in (200, 201), response.text


REJECTIONS = [
    "ENTITY_IS_LOCKED",
    "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
    "DUPLICATE_VALUE",
    "FIELD_FILTER_VALIDATION_EXCEPTION",
    "STRING_TOO_LONG",
    "INVALID_CROSS_REFERENCE_KEY",
    "INSERT_UPDATE_DELETE_NOT_ALLOWED_DURING_MAINTENANCE",
    "FIELD_CUSTOM_VALIDATION_EXCEPTION",
]


@pytest.mark.parametrize("error_code", REJECTIONS)
async def test_record_level_rejections_are_validation_failures(
    client: Any, auth: Any, connect: Any, sf_emulator: Any, app: Any, error_code: str
) -> None:
    await setup_workspace(client, auth, connect)
    title = stored(sf_emulator)["Title"]
    await write_fault(sf_emulator, error_code=error_code)

    response = await edit(client, auth, {"Title": "Rejected"})

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "salesforce_validation_failed"
    assert problem["errors"][0]["errorCode"] == error_code
    assert problem["errors"][0]["message"]
    assert "Retry-After" not in response.headers
    assert stored(sf_emulator)["Title"] == title
    # A definite answer: the edit is settled as failed, not left pending.
    assert [(r.status, r.failure) for r in await edit_rows(app)] == [("failed", error_code)]


@pytest.mark.parametrize(
    "spec",
    [
        # A code this service has never heard of is still an answer about the record.
        {"error_code": "SOME_FUTURE_RECORD_ERROR", "message": "No, for a new reason."},
        # Real orgs answer some record-level codes with 403.
        {"error_code": "ENTITY_IS_LOCKED", "status": 403},
        {"error_code": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "message": "bad value: X"},
    ],
)
async def test_any_other_4xx_on_a_write_is_a_validation_failure(
    client: Any, auth: Any, connect: Any, sf_emulator: Any, spec: dict[str, Any]
) -> None:
    await setup_workspace(client, auth, connect)
    await write_fault(sf_emulator, **spec)

    response = await edit(client, auth, {"Title": "Rejected"})

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "salesforce_validation_failed"
    assert response.json()["errors"][0]["errorCode"] == spec["error_code"]


async def test_insufficient_access_is_403_with_salesforces_code(
    client: Any, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup_workspace(client, auth, connect)
    await write_fault(sf_emulator, error_code="INSUFFICIENT_ACCESS_OR_READONLY")

    response = await edit(client, auth, {"Title": "Rejected"})

    assert response.status_code == 403, response.text
    problem = response.json()
    assert problem["code"] == "salesforce_insufficient_access"
    assert problem["errors"][0]["errorCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert problem["detail"]


async def test_a_revert_rejected_by_salesforce_is_an_answer(
    client: Any, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup_workspace(client, auth, connect)
    assert (await edit(client, auth, {"Title": "Edited"})).status_code == 200
    await write_fault(sf_emulator, error_code="ENTITY_IS_LOCKED", record_id=ANA)

    response = await revert(client, auth, "Title")

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["errorCode"] == "ENTITY_IS_LOCKED"
    assert stored(sf_emulator)["Title"] == "Edited"


async def test_a_5xx_on_a_write_is_still_unavailable(
    client: Any, auth: Any, connect: Any, sf_emulator: Any
) -> None:
    await setup_workspace(client, auth, connect)
    await write_fault(sf_emulator, lose_answer="error_503")

    response = await edit(client, auth, {"Title": "Maybe written"})

    assert response.status_code == 502, response.text
    assert response.json()["code"] == "salesforce_unavailable"
