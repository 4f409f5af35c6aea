"""What enterprise orgs answer (docs/enterprise-orgs.md): duplicate rules in Salesforce's
own REST body, the active Lead assignment rule, deleted records named by a write."""

from __future__ import annotations

from .helpers import ACME, ACME_SALES, ANA, V, bearer

RULES = f"/__emulator/orgs/{ACME}/duplicate-rules"


def test_duplicates_are_named_under_salesforces_spelling(client, token):
    rule = {"object": "Contact", "fields": ["Email"], "action": "block"}
    assert client.put(RULES, json=[rule]).status_code == 200
    answer = client.post(
        f"{V}/sobjects/Contact",
        json={"LastName": "Souza", "Email": "ana.souza@example.com"},
        headers=bearer(token),
    )
    assert answer.status_code == 400
    error = answer.json()[0]
    assert error["errorCode"] == "DUPLICATES_DETECTED"
    assert "duplicateResult" not in error  # the REST API spells it `duplicateResut`
    matches = error["duplicateResut"]["matchResults"][0]["matchRecords"]
    assert [m["record"]["Id"] for m in matches] == [ANA]


def test_an_alerting_rule_saves_with_the_header_a_blocking_one_never(client, token):
    rules = [
        {"object": "Contact", "fields": ["Email"], "action": "alert"},
        {"object": "Lead", "fields": ["Email"], "action": "block", "match_objects": ["Contact"]},
    ]
    assert client.put(RULES, json=rules).status_code == 200
    allow = {**bearer(token), "Sforce-Duplicate-Rule-Header": "allowSave=true"}
    body = {"LastName": "Souza", "Email": "ana.souza@example.com"}
    refused = client.post(f"{V}/sobjects/Contact", json=body, headers=bearer(token))
    assert refused.status_code == 400
    assert refused.json()[0]["duplicateResut"]["allowSave"] is True
    assert client.post(f"{V}/sobjects/Contact", json=body, headers=allow).status_code == 201
    lead = {**body, "Company": "Souza Ltda"}
    blocked = client.post(f"{V}/sobjects/Lead", json=lead, headers=allow)
    assert blocked.status_code == 400
    assert blocked.json()[0]["duplicateResut"]["allowSave"] is False


def test_a_task_naming_a_deleted_lead_is_entity_is_deleted(client, token):
    lead = client.post(
        f"/__emulator/orgs/{ACME}/leads", json={"LastName": "Gone", "Company": "Gone Co"}
    ).json()
    assert client.delete(f"/__emulator/orgs/{ACME}/leads/{lead['Id']}").status_code < 300
    answer = client.post(
        f"{V}/sobjects/Task",
        json={"WhoId": lead["Id"], "Subject": "x", "Status": "Completed"},
        headers=bearer(token),
    )
    assert answer.status_code == 400
    assert answer.json() == [
        {"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": ["WhoId"]}
    ]


def test_the_active_lead_assignment_rule_owns_new_leads(client, token):
    rule = f"/__emulator/orgs/{ACME}/lead-assignment-rule"
    assert client.put(rule, json={"owner_id": ACME_SALES}).status_code == 200
    made = client.post(
        f"{V}/sobjects/Lead", json={"LastName": "New", "Company": "N"}, headers=bearer(token)
    )
    assert made.status_code == 201
    lead_id = made.json()["id"]
    read = client.get(f"{V}/sobjects/Lead/{lead_id}?fields=OwnerId", headers=bearer(token))
    assert read.json()["OwnerId"] == ACME_SALES
    # `Sforce-Auto-Assign: false` skips the rule, as in Salesforce.
    skipped = client.post(
        f"{V}/sobjects/Lead",
        json={"LastName": "Mine", "Company": "M"},
        headers={**bearer(token), "Sforce-Auto-Assign": "FALSE"},
    )
    own = client.get(
        f"{V}/sobjects/Lead/{skipped.json()['id']}?fields=OwnerId", headers=bearer(token)
    )
    assert own.json()["OwnerId"] != ACME_SALES
    assert client.delete(rule).status_code < 300
    assert client.get(rule).json() == {"owner_id": None}
