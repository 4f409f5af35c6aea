"""Leads beside Contacts: describe, SOQL, SOSL with several objects in RETURNING,
record GET/PATCH, conversion (admin) and the converted-Lead rule, record pages."""

from __future__ import annotations

from .helpers import ACME, LEAD_ANA, LEAD_CARL, LEAD_CONVERTED, LEAD_ONLY, PRIYA, V, bearer

LEAD = f"{V}/sobjects/Lead"


def test_lead_describe(client, token):
    d = client.get(f"{LEAD}/describe", headers=bearer(token)).json()
    assert (d["name"], d["keyPrefix"], d["labelPlural"]) == ("Lead", "00Q", "Leads")
    f = {x["name"]: x for x in d["fields"]}
    for name in (
        "Id", "FirstName", "LastName", "Name", "Company", "Email", "Phone", "MobilePhone",
        "Status", "LeadSource", "Title", "Industry", "Description", "IsConverted",
        "ConvertedContactId", "ConvertedDate", "CreatedDate", "LastModifiedDate",
        "SystemModstamp", "CreatedById", "OwnerId",
    ):  # fmt: skip
        assert name in f, name
    assert f["Company"]["nillable"] is False and f["Company"]["createable"]
    assert f["Email"]["type"] == "email" and f["Email"]["idLookup"] is True
    assert f["MobilePhone"]["type"] == "phone"
    status = f["Status"]
    assert status["type"] == "picklist" and status["nillable"] is False
    assert status["defaultedOnCreate"] is True
    defaults = [p["value"] for p in status["picklistValues"] if p["defaultValue"]]
    assert defaults == ["Open - Not Contacted"]
    assert {"Working - Contacted", "Closed - Converted", "Closed - Not Converted"} <= {
        p["value"] for p in status["picklistValues"]
    }
    assert f["IsConverted"]["type"] == "boolean" and f["IsConverted"]["updateable"] is False
    assert f["ConvertedContactId"]["referenceTo"] == ["Contact"]
    assert f["Description"]["type"] == "textarea" and f["Description"]["length"] == 32000


def test_soql_unconverted_leads(client, token):
    q = (
        "SELECT Id, Email, IsConverted FROM Lead "
        "WHERE Email = 'priya.raman@example.com' AND IsConverted = false"
    )
    resp = client.get(f"{V}/query", params={"q": q}, headers=bearer(token)).json()
    assert resp["totalSize"] == 0
    q = "SELECT Id, ConvertedContactId FROM Lead WHERE IsConverted = true"
    rows = client.get(f"{V}/query", params={"q": q}, headers=bearer(token)).json()["records"]
    assert [(r["Id"], r["ConvertedContactId"]) for r in rows] == [(LEAD_CONVERTED, PRIYA)]


def test_sosl_returning_contacts_and_unconverted_leads(client, token):
    q = (
        "FIND {+91 98765 43210} IN PHONE FIELDS RETURNING Contact(Id, Phone), "
        "Lead(Id, Company WHERE IsConverted = false)"
    )
    bad = client.get(f"{V}/search", params={"q": q}, headers=bearer(token))
    assert bad.json()[0]["errorCode"] == "MALFORMED_SEARCH"  # '+' must be escaped
    q = q.replace("{+91", "{\\+91")
    found = client.get(f"{V}/search", params={"q": q}, headers=bearer(token)).json()
    assert [r["attributes"]["type"] for r in found["searchRecords"]] == ["Contact"]
    q2 = (
        "FIND {lead.only@example.com} IN EMAIL FIELDS RETURNING Contact(Id), "
        "Lead(Id, Name, Status WHERE IsConverted = false)"
    )
    found = client.get(f"{V}/search", params={"q": q2}, headers=bearer(token)).json()
    assert found["searchRecords"] == [
        {
            "attributes": {"type": "Lead", "url": f"{LEAD}/{LEAD_ONLY}"},
            "Id": LEAD_ONLY,
            "Name": "Lena Only",
            "Status": "Open - Not Contacted",
        }
    ]


def test_get_and_patch_lead_and_converted_lead_is_frozen(client, emu, token):
    h = bearer(token)
    rec = client.get(f"{LEAD}/{LEAD_ONLY}", params={"fields": "Company,IsConverted"}, headers=h)
    assert rec.json()["Company"] == "Lead Only Ltd" and rec.json()["IsConverted"] is False
    ok = client.patch(
        f"{LEAD}/{LEAD_ONLY}", json={"Title": "Buyer", "Status": "Working - Contacted"}, headers=h
    )
    assert ok.status_code == 204
    assert emu.get_record(ACME, "Lead", LEAD_ONLY)["Title"] == "Buyer"
    frozen = client.patch(f"{LEAD}/{LEAD_CONVERTED}", json={"Title": "x"}, headers=h)
    assert frozen.status_code == 400
    assert frozen.json() == [
        {
            "message": "cannot reference converted lead",
            "errorCode": "CANNOT_UPDATE_CONVERTED_LEAD",
            "fields": [],
        }
    ]
    ro = client.patch(f"{LEAD}/{LEAD_ONLY}", json={"IsConverted": True}, headers=h).json()[0]
    assert ro["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE" and ro["fields"] == ["IsConverted"]
    assert emu.counters["lead.get"] == 1 and emu.counters["lead.patch"] == 3


def test_admin_seeds_and_converts_leads(client, token):
    made = client.post(
        f"/__emulator/orgs/{ACME}/leads",
        json={"LastName": "Seeded", "Company": "Seed Co", "Email": "seed@example.com"},
    )
    assert made.status_code == 201
    lead = made.json()
    assert lead["Id"].startswith("00Q") and lead["Status"] == "Open - Not Contacted"
    conv = client.post(f"/__emulator/orgs/{ACME}/leads/{lead['Id']}/convert", json={})
    assert conv.status_code == 200
    body = conv.json()
    contact = body["contact"]
    assert contact["Id"].startswith("003") and contact["Email"] == "seed@example.com"
    assert body["lead"]["IsConverted"] is True and body["lead"]["Status"] == "Closed - Converted"
    assert body["lead"]["ConvertedContactId"] == contact["Id"] and body["lead"]["ConvertedDate"]
    again = client.post(f"/__emulator/orgs/{ACME}/leads/{lead['Id']}/convert", json={})
    assert again.status_code == 409
    # into an existing Contact
    merged = client.post(
        f"/__emulator/orgs/{ACME}/leads/{LEAD_CARL}/convert", json={"contact_id": contact["Id"]}
    ).json()
    assert merged["lead"]["ConvertedContactId"] == contact["Id"]
    q = "SELECT Id FROM Contact WHERE Email = 'seed@example.com'"
    rows = client.get(f"{V}/query", params={"q": q}, headers=bearer(token)).json()
    assert rows["totalSize"] == 1


def test_record_pages(client):
    page = client.get(f"/lightning/r/Lead/{LEAD_ANA}/view")
    assert page.status_code == 200 and "Souza Imports" in page.text
    assert client.get(f"/lightning/r/Contact/{LEAD_ANA}/view").status_code == 404
    assert client.get(f"/lightning/r/Contact/{PRIYA}/view").status_code == 200
