"""What enterprise orgs answer (docs/enterprise-orgs.md): duplicate rules in Salesforce's
own REST body, the active Lead assignment rule, deleted records named by a write."""

from __future__ import annotations

from .helpers import ACME, ACME_ADMIN, ACME_SALES, ANA, V, bearer

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


def test_a_profile_hides_fields_from_describe_soql_sosl_and_reads(client, token):
    profile = f"/__emulator/orgs/{ACME}/profiles/Integration/hidden-fields"
    assert client.put(profile, json={"Contact": ["MobilePhone"]}).status_code == 200
    user = f"/__emulator/orgs/{ACME}/users/{ACME_ADMIN}/profile"
    assert client.put(user, json={"profile": "Integration"}).status_code == 200
    h = bearer(token)

    names = [
        f["name"] for f in client.get(f"{V}/sobjects/Contact/describe", headers=h).json()["fields"]
    ]
    assert "MobilePhone" not in names and "Phone" in names
    soql = client.get(f"{V}/query", params={"q": "SELECT Id, MobilePhone FROM Contact"}, headers=h)
    assert soql.status_code == 400
    assert soql.json()[0]["errorCode"] == "INVALID_FIELD"
    assert "No such column 'MobilePhone' on entity 'Contact'" in soql.json()[0]["message"]
    where = client.get(
        f"{V}/query", params={"q": "SELECT Id FROM Contact WHERE MobilePhone = '1'"}, headers=h
    )
    assert where.json()[0]["errorCode"] == "INVALID_FIELD"
    sosl = client.get(
        f"{V}/search",
        params={"q": "FIND {123} IN PHONE FIELDS RETURNING Contact(Id, MobilePhone)"},
        headers=h,
    )
    assert sosl.status_code == 400 and sosl.json()[0]["errorCode"] == "INVALID_FIELD"
    read = client.get(f"{V}/sobjects/Contact/{ANA}?fields=MobilePhone", headers=h)
    assert read.status_code == 400 and read.json()[0]["errorCode"] == "INVALID_FIELD"
    whole = client.get(f"{V}/sobjects/Contact/{ANA}", headers=h).json()
    assert "MobilePhone" not in whole and whole["Phone"]
    # Another profile (the sales user's, System Administrator) still sees it.
    assert client.put(user, json={"profile": "System Administrator"}).status_code == 200
    seen = client.get(f"{V}/query", params={"q": "SELECT MobilePhone FROM Contact"}, headers=h)
    assert seen.status_code == 200


def test_large_tables_time_out_non_selective_filters(client, token):
    h = bearer(token)
    tables = f"/__emulator/orgs/{ACME}/large-tables"
    assert client.put(tables, json={"objects": ["Contact"]}).status_code == 200

    def ask(where: str) -> int:
        q = f"SELECT Id FROM Contact WHERE {where}"
        answer = client.get(f"{V}/query", params={"q": q}, headers=h)
        if answer.status_code != 200:
            assert answer.json() == [
                {
                    "message": "Your query request was running for too long.",
                    "errorCode": "QUERY_TIMEOUT",
                }
            ]
        return answer.status_code

    assert ask("Email = 'a@b.c'") == 200
    assert (
        ask("SystemModstamp >= 2026-01-01T00:00:00Z AND (Phone = '1' OR MobilePhone = '1')") == 200
    )
    assert ask("Phone = '1'") == 400
    assert ask("Email = 'a@b.c' OR (SystemModstamp >= 2026-01-01T00:00:00Z AND Phone = '1')") == 400
    assert ask("Phone LIKE '%0100'") == 400
    assert client.put(tables, json={"objects": []}).status_code == 200
    assert ask("Phone = '1'") == 200


def test_the_versions_a_real_org_serves(client, token):
    listed = client.get("/services/data").json()
    assert listed[0] == {"label": "Summer '14", "url": "/services/data/v31.0", "version": "31.0"}
    assert listed[-1] == {
        "label": "Winter '27",
        "url": "/services/data/v68.0",
        "version": "68.0",
    }
    assert [v["version"] for v in listed] == [f"{n}.0" for n in range(31, 69)]
    h = bearer(token)
    assert client.get("/services/data/v68.0/limits", headers=h).status_code == 200
    assert client.get("/services/data/v31.0/limits", headers=h).status_code == 200
    # Retired (21.0 to 30.0 since Summer '25; older ones before): 410 Gone.
    for retired in ("v30.0", "v21.0", "v20.0"):
        assert client.get(f"/services/data/{retired}/limits", headers=h).status_code == 410
    # Not released yet, or not a version at all: 404 NOT_FOUND.
    unknown = client.get("/services/data/v69.0/limits", headers=h)
    assert unknown.status_code == 404
    assert unknown.json()[0]["errorCode"] == "NOT_FOUND"
    assert client.get("/services/data/latest/limits", headers=h).status_code == 404
