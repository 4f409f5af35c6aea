"""A short use of the client that openapi-python-client generates from the served OpenAPI:
tests/openapi/test_generated_client.py type-checks it (mypy --strict) against the generated
package, then runs it against the service. Arguments: base URL, owner token, workspace id."""

from __future__ import annotations

import sys
from typing import assert_type

from sfint_client import AuthenticatedClient
from sfint_client.api.contacts import lookup_contact
from sfint_client.api.settings import get_settings, put_settings
from sfint_client.api.write_back import create_contact
from sfint_client.models import (
    ContactCreateRequest,
    ContactCreateRequestFields,
    CreatedRecord,
    LookupResponse,
    Problem,
    ProblemFieldError,
    SettingsDocument,
    SettingsUpdate,
)
from sfint_client.types import Unset


def main(base_url: str, token: str, workspace: str) -> None:
    client = AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True)

    found = lookup_contact.sync(workspace, client=client, email="priya.raman@example.com")
    assert isinstance(found, LookupResponse), found
    assert found.matched and not isinstance(found.contact, Unset) and found.contact is not None

    # What a GET answers goes back in a PUT as it is.
    current = get_settings.sync(workspace, client=client)
    assert isinstance(current, SettingsDocument), current
    assert_type(current.record_creation_enabled, bool)
    update = SettingsUpdate.from_dict(current.to_dict())
    update.record_creation_enabled = True
    saved = put_settings.sync(workspace, client=client, body=update)
    assert isinstance(saved, SettingsDocument) and saved.record_creation_enabled, saved

    # A create repeated with its Idempotency-Key: 201, then the declared 200 replay.
    fields = ContactCreateRequestFields.from_dict(
        {"LastName": "Lima", "Email": "ana.lima@example.com", "Phone": "+60123456780"}
    )
    body = ContactCreateRequest(fields=fields)
    first = create_contact.sync_detailed(
        workspace, client=client, body=body, idempotency_key="usage-1"
    )
    again = create_contact.sync_detailed(
        workspace, client=client, body=body, idempotency_key="usage-1"
    )
    assert first.status_code == 201 and again.status_code == 200, (first, again)
    assert isinstance(first.parsed, CreatedRecord) and isinstance(again.parsed, CreatedRecord)
    assert again.parsed.id == first.parsed.id
    assert again.headers["Idempotent-Replayed"] == "true"

    # Problems are typed, their `errors` items too.
    refused = lookup_contact.sync(workspace, client=client)
    assert isinstance(refused, Problem), refused
    assert refused.code == "validation_error" and not isinstance(refused.errors, Unset)
    problem: ProblemFieldError = refused.errors[0]
    assert_type(problem.message, str)
    print("client usage: ok")


if __name__ == "__main__":
    main(*sys.argv[1:4])
