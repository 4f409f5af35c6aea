"""Creating Contacts, Leads and Tasks over REST with Salesforce's validation, duplicate
rules, and the Task / TaskStatus objects (configurable closed statuses)."""

from __future__ import annotations

from .helpers import ACME, ANA, LEAD_CONVERTED, LEAD_ONLY, V, bearer

SOBJECTS = f"{V}/sobjects"


def _create(client, token, obj, body, **headers):
    return client.post(f"{SOBJECTS}/{obj}/", json=body, headers={**bearer(token), **headers})


def test_create_contact_and_lead(client, emu, token):
    resp = _create(client, token, "Contact", {"LastName": "Lima", "Email": "ana.lima@example.com"})
    assert resp.status_code == 201
    body = resp.json()
    assert body == {"id": body["id"], "success": True, "errors": []}
    assert body["id"].startswith("003")
    lead = _create(client, token, "Lead", {"LastName": "Lee", "Company": "Lee Ltd"}).json()
    assert lead["id"].startswith("00Q")
    stored = emu.get_record(ACME, "Lead", lead["id"])
    assert stored["Status"] == "Open - Not Contacted" and stored["IsConverted"] is False


def test_create_validation(client, token):
    e = _create(client, token, "Contact", {"FirstName": "No"}).json()[0]
    assert e == {
        "message": "Required fields are missing: [LastName]",
        "errorCode": "REQUIRED_FIELD_MISSING",
        "fields": ["LastName"],
    }
    e = _create(client, token, "Lead", {"FirstName": "No"}).json()[0]
    assert e["fields"] == ["LastName", "Company"]
    e = _create(client, token, "Lead", {"LastName": "L", "Company": "C", "IsConverted": True})
    assert e.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    e = _create(client, token, "Contact", {"LastName": "L", "Preferred_Language__c": "Klingon"})
    assert e.json()[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    e = _create(client, token, "Contact", {"LastName": "L", "Email": "nope@"}).json()[0]
    assert e["errorCode"] == "INVALID_EMAIL_ADDRESS" and e["fields"] == ["Email"]
    e = _create(client, token, "Lead", {"LastName": "L", "Company": "C" * 256}).json()[0]
    assert e["errorCode"] == "STRING_TOO_LONG" and e["fields"] == ["Company"]
    e = _create(client, token, "Contact", {"LastName": "L", "OwnerId": "0055g000000ZZZZAAA"})
    assert e.json()[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"


def test_duplicate_rules(client, emu, token):
    rules = [{"object": "Contact", "fields": ["Email"], "action": "block"}]
    assert client.put(f"/__emulator/orgs/{ACME}/duplicate-rules", json=rules).status_code == 200
    resp = _create(client, token, "Contact", {"LastName": "Dup", "Email": "ANA.SOUZA@example.com"})
    assert resp.status_code == 400
    err = resp.json()[0]
    assert err["errorCode"] == "DUPLICATES_DETECTED"
    result = err["duplicateResut"]
    assert result["allowSave"] is False and result["duplicateRuleEntityType"] == "Contact"
    assert result["errorMessage"] == err["message"]
    match = result["matchResults"][0]
    assert match["entityType"] == "Contact" and match["size"] == 1 and match["success"]
    record = match["matchRecords"][0]["record"]
    assert record == {
        "attributes": {"type": "Contact", "url": f"{SOBJECTS}/Contact/{ANA}"},
        "Id": ANA,
    }
    # an alert rule over Contacts and Leads: blocked unless the header allows the save
    rules = [
        {
            "object": "Lead",
            "fields": ["Email"],
            "action": "alert",
            "match_objects": ["Contact", "Lead"],
        }
    ]
    client.put(f"/__emulator/orgs/{ACME}/duplicate-rules", json=rules)
    body = {"LastName": "Only", "Company": "X", "Email": "lead.only@example.com"}
    err = _create(client, token, "Lead", body).json()[0]
    assert err["duplicateResut"]["allowSave"] is True
    ids = [
        r["record"]["Id"] for m in err["duplicateResut"]["matchResults"] for r in m["matchRecords"]
    ]
    assert ids == [LEAD_ONLY]  # converted Leads are not matched
    ok = _create(client, token, "Lead", body, **{"Sforce-Duplicate-Rule-Header": "allowSave=true"})
    assert ok.status_code == 201


def test_task_describe(client, token):
    d = client.get(f"{SOBJECTS}/Task/describe", headers=bearer(token)).json()
    assert d["keyPrefix"] == "00T"
    f = {x["name"]: x for x in d["fields"]}
    assert f["WhoId"]["referenceTo"] == ["Contact", "Lead"] and f["WhoId"]["polymorphicForeignKey"]
    assert f["Subject"]["length"] == 255 and f["Subject"]["nillable"] is True
    assert f["Description"]["type"] == "textarea" and f["Description"]["length"] == 32000
    assert f["ActivityDate"]["type"] == "date"
    assert f["Status"]["type"] == "picklist" and f["Status"]["restrictedPicklist"] is True
    assert f["TaskSubtype"]["updateable"] is False and f["TaskSubtype"]["createable"] is True
    assert f["IsClosed"]["createable"] is False
    ext = f["Respondio_External_Id__c"]
    assert ext["externalId"] and ext["unique"] and ext["custom"] and ext["nillable"]


def test_task_create_validation_and_query(client, emu, token):
    h = bearer(token)
    long = _create(client, token, "Task", {"WhoId": ANA, "Description": "x" * 32001}).json()[0]
    assert long["errorCode"] == "STRING_TOO_LONG" and long["fields"] == ["Description"]
    bad = _create(client, token, "Task", {"WhoId": "0035g0000000000AAA"}).json()[0]
    assert bad == {
        "message": "invalid cross reference id",
        "errorCode": "INVALID_CROSS_REFERENCE_KEY",
        "fields": ["WhoId"],
    }
    wrong = _create(client, token, "Task", {"WhoId": "0015g0000000001AAA"}).json()[0]
    assert wrong["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    body = {
        "WhoId": ANA,
        "Subject": "WhatsApp conversation",
        "Description": "y" * 32000,
        "ActivityDate": "2026-11-30",
        "Status": "Completed",
        "TaskSubtype": "Task",
        "Respondio_External_Id__c": "conv-1/closing-1",
    }
    created = _create(client, token, "Task", body)
    assert created.status_code == 201
    task_id = created.json()["id"]
    assert task_id.startswith("00T")
    again = _create(client, token, "Task", body).json()[0]
    assert again["errorCode"] == "DUPLICATE_VALUE"
    assert again["fields"] == ["Respondio_External_Id__c"] and task_id in again["message"]
    q = f"SELECT Id, Subject, Status, IsClosed, ActivityDate FROM Task WHERE WhoId = '{ANA}'"
    rows = client.get(f"{V}/query", params={"q": q}, headers=h).json()["records"]
    assert [(r["Id"], r["IsClosed"], r["ActivityDate"]) for r in rows] == [
        (task_id, True, "2026-11-30")
    ]
    lead_task = _create(client, token, "Task", {"WhoId": LEAD_CONVERTED, "Subject": "x"})
    assert lead_task.status_code == 201  # a Lead is a valid WhoId
    subtype = client.patch(f"{SOBJECTS}/Task/{task_id}", json={"TaskSubtype": "Call"}, headers=h)
    assert subtype.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_task_statuses_are_configurable(client, token):
    h = bearer(token)
    q = "SELECT MasterLabel, ApiName, IsClosed, IsDefault FROM TaskStatus WHERE IsClosed = true"
    rows = client.get(f"{V}/query", params={"q": q}, headers=h).json()["records"]
    assert [(r["MasterLabel"], r["ApiName"]) for r in rows] == [("Completed", "Completed")]
    bad = _create(client, token, "Task", {"WhoId": ANA, "Status": "Done"}).json()[0]
    assert bad["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    statuses = [
        {"label": "Open", "closed": False, "default": True},
        {"label": "Done", "closed": True},
        {"label": "Cancelled", "closed": True},
    ]
    resp = client.put(f"/__emulator/orgs/{ACME}/task-statuses", json=statuses)
    assert resp.status_code == 200
    q = "SELECT MasterLabel, IsDefault FROM TaskStatus WHERE IsClosed = true ORDER BY MasterLabel"
    rows = client.get(f"{V}/query", params={"q": q}, headers=h).json()["records"]
    assert [r["MasterLabel"] for r in rows] == ["Cancelled", "Done"]
    done = _create(client, token, "Task", {"WhoId": ANA, "Status": "Done"}).json()
    plain = _create(client, token, "Task", {"WhoId": ANA}).json()
    q = f"SELECT Id, Status, IsClosed FROM Task WHERE WhoId = '{ANA}' ORDER BY IsClosed"
    rows = client.get(f"{V}/query", params={"q": q}, headers=h).json()["records"]
    assert {(r["Id"], r["Status"], r["IsClosed"]) for r in rows} == {
        (done["id"], "Done", True),
        (plain["id"], "Open", False),
    }
    picklist = client.get(f"{SOBJECTS}/Task/describe", headers=h).json()["fields"]
    status = next(f for f in picklist if f["name"] == "Status")
    assert [p["value"] for p in status["picklistValues"]] == ["Open", "Done", "Cancelled"]
    assert client.put(f"/__emulator/orgs/{ACME}/task-statuses", json=[]).status_code == 400
