from __future__ import annotations

import json
import time
from datetime import timedelta
from email.utils import format_datetime

from emulator.salesforce.util import parse_datetime

from .helpers import ACME, ACME_ADMIN, ANA, CARLA, DELETED, GLOBEX, LEAD_ANA, V, bearer, login

CONTACT = f"{V}/sobjects/Contact"


def http_date_of(sf_datetime: str, plus_seconds: int = 0) -> str:
    dt = parse_datetime(sf_datetime) + timedelta(seconds=plus_seconds)
    return format_datetime(dt, usegmt=True)


def test_versions_and_resources(client, token):
    versions = client.get("/services/data").json()
    assert {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"} in versions
    res = client.get(f"{V}/", headers=bearer(token)).json()
    assert res["query"] == f"{V}/query" and res["sobjects"] == f"{V}/sobjects"
    assert client.get("/services/data/v19.0/limits", headers=bearer(token)).status_code == 410
    assert client.get("/services/data/v55.0/limits", headers=bearer(token)).status_code == 200


def test_limit_info_header_on_success_and_errors(client, emu, token):
    h = bearer(token)
    assert client.get(f"{V}/limits", headers=h).headers["Sforce-Limit-Info"] == "api-usage=1/15000"
    assert (
        client.get(f"{CONTACT}/{ANA}", headers=h)
        .headers["sforce-limit-info"]
        .startswith("api-usage=2/")
    )
    missing = client.get(f"{CONTACT}/003000000000000AAA", headers=h)
    assert (
        missing.status_code == 404 and missing.headers["sforce-limit-info"] == "api-usage=3/15000"
    )
    limits = client.get(f"{V}/limits", headers=h).json()
    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - 4}
    assert emu.counters["api"] == 4 and emu.counters["limits"] == 2
    # usage is per org
    globex = login(client, emu, username="admin@globex.example")
    resp = client.get(f"{V}/limits", headers=bearer(globex))
    assert resp.headers["sforce-limit-info"] == "api-usage=1/15000"


def test_daily_allocation_exhausted(client, emu, token):
    emu.orgs[ACME].api_max = 2
    h = bearer(token)
    assert client.get(f"{V}/limits", headers=h).status_code == 200
    assert client.get(f"{V}/limits", headers=h).status_code == 200
    resp = client.get(f"{V}/limits", headers=h)
    assert resp.status_code == 403 and resp.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert resp.headers["sforce-limit-info"] == "api-usage=2/2"


def test_bad_token_is_invalid_session(client):
    resp = client.get(f"{V}/query", params={"q": "SELECT Id FROM Contact"}, headers=bearer("x"))
    assert resp.status_code == 401
    assert resp.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_describe_and_if_modified_since(client, emu, token):
    resp = client.get(f"{CONTACT}/describe", headers=bearer(token))
    assert resp.status_code == 200
    d = resp.json()
    assert (d["name"], d["keyPrefix"], d["labelPlural"]) == ("Contact", "003", "Contacts")
    assert d["queryable"] and d["updateable"] and d["urls"]["describe"] == f"{CONTACT}/describe"
    fields = {f["name"]: f for f in d["fields"]}
    assert fields["Email"]["type"] == "email" and fields["Phone"]["type"] == "phone"
    assert fields["Name"]["updateable"] is False
    lang = fields["Preferred_Language__c"]
    assert lang["custom"] and lang["restrictedPicklist"] and lang["type"] == "picklist"
    assert {
        "active": True,
        "defaultValue": False,
        "label": "Malay",
        "validFor": None,
        "value": "Malay",
    } in lang["picklistValues"]
    formula = fields["Engagement_Level__c"]
    assert formula["calculated"] and not formula["updateable"] and formula["calculatedFormula"]
    assert fields["Customer_Score__c"]["type"] == "double"
    assert (
        fields["Birthdate"]["type"] == "date" and fields["HasOptedOutOfEmail"]["type"] == "boolean"
    )
    last_modified = resp.headers["Last-Modified"]
    again = client.get(
        f"{CONTACT}/describe", headers={**bearer(token), "If-Modified-Since": last_modified}
    )
    assert again.status_code == 304 and again.content == b""
    older = client.get(
        f"{CONTACT}/describe",
        headers={**bearer(token), "If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"},
    )
    assert older.status_code == 200
    assert emu.counters["describe"] == 3
    assert client.get(f"{V}/sobjects/Nope/describe", headers=bearer(token)).status_code == 404


def test_get_record(client, emu, token):
    h = bearer(token)
    rec = client.get(f"{CONTACT}/{ANA}", headers=h).json()
    assert rec["attributes"] == {"type": "Contact", "url": f"{CONTACT}/{ANA}"}
    assert rec["Name"] == "Ana Souza" and rec["Engagement_Level__c"] == "High"
    assert rec["CreatedDate"] == "2025-01-14T09:12:44.000+0000"
    some = client.get(f"{CONTACT}/{ANA[:15]}", params={"fields": "Email,Phone"}, headers=h).json()
    assert list(some) == ["attributes", "Email", "Phone"]
    bad_field = client.get(f"{CONTACT}/{ANA}", params={"fields": "Email,Nope"}, headers=h)
    assert bad_field.status_code == 400 and bad_field.json()[0]["errorCode"] == "INVALID_FIELD"
    gone = client.get(f"{CONTACT}/{DELETED}", headers=h)
    assert gone.status_code == 404
    assert gone.json() == [
        {"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}
    ]
    unknown = client.get(f"{CONTACT}/0035g0000000000AAA", headers=h)
    assert unknown.json() == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]
    assert client.get(f"{CONTACT}/not-an-id", headers=h).status_code == 404
    assert (
        client.get(f"{V}/sobjects/Lead/{LEAD_ANA}", headers=h).json()["Company"] == "Souza Imports"
    )
    org = client.get(f"{V}/sobjects/Organization/{ACME}", headers=h).json()
    assert org["Name"] == "Acme Corporation"
    assert emu.counters["contact.get"] == 6 and emu.counters["organization"] == 1


def test_patch_updates_and_bumps_last_modified(client, emu, token):
    before = emu.get_contact(ACME, CARLA)
    resp = client.patch(
        f"{CONTACT}/{CARLA}", json={"Title": "CRO", "Customer_Score__c": 95}, headers=bearer(token)
    )
    assert resp.status_code == 204 and resp.content == b""
    after = emu.get_contact(ACME, CARLA)
    assert after["Title"] == "CRO" and after["Engagement_Level__c"] == "High"
    assert after["LastModifiedDate"] > before["LastModifiedDate"]
    assert after["SystemModstamp"] == after["LastModifiedDate"]
    assert after["LastModifiedById"] == ACME_ADMIN
    assert emu.counters["contact.patch"] == 1


def _patch_error(client, token, body, raw=None):
    kwargs = {"content": raw, "headers": {**bearer(token), "Content-Type": "application/json"}}
    if raw is None:
        kwargs["content"] = json.dumps(body)
    resp = client.patch(f"{CONTACT}/{ANA}", **kwargs)
    assert resp.status_code == 400, resp.text
    return resp.json()[0]


def test_patch_errors(client, emu, token):
    e = _patch_error(client, token, {"Nope__c": 1})
    assert e == {
        "message": "No such column 'Nope__c' on sobject of type Contact",
        "errorCode": "INVALID_FIELD",
    }
    e = _patch_error(client, token, {"Name": "X", "Engagement_Level__c": "High"})
    assert e["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert e["message"].startswith("Unable to create/update fields: Name, Engagement_Level__c.")
    assert e["fields"] == ["Name", "Engagement_Level__c"]
    e = _patch_error(client, token, {"Title": "x" * 129})
    assert e["errorCode"] == "STRING_TOO_LONG" and e["fields"] == ["Title"]
    assert "(max length=128)" in e["message"]
    e = _patch_error(client, token, {"Email": "not-an-email"})
    assert e == {
        "message": "Email: invalid email address: not-an-email",
        "errorCode": "INVALID_EMAIL_ADDRESS",
        "fields": ["Email"],
    }
    e = _patch_error(client, token, {"Preferred_Language__c": "Klingon"})
    assert e["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert e["message"] == "Preferred Language: bad value for restricted picklist field: Klingon"
    for body in (
        {"HasOptedOutOfEmail": "maybe"},
        {"Birthdate": "1988-13-45"},
        {"Customer_Score__c": "lots"},
    ):
        assert _patch_error(client, token, body)["errorCode"] == "JSON_PARSER_ERROR"
    assert _patch_error(client, token, None, raw="{not json")["errorCode"] == "JSON_PARSER_ERROR"
    e = _patch_error(client, token, {"LastName": None})
    assert e["errorCode"] == "REQUIRED_FIELD_MISSING" and e["fields"] == ["LastName"]
    e = _patch_error(client, token, {"Title": "A Forbidden title"})
    assert e == {
        "message": 'Title may not contain the word "forbidden".',
        "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "fields": [],
    }
    e = _patch_error(client, token, {"OwnerId": "0055g000000ZZZZAAA"})  # no such user
    assert e == {
        "message": "invalid cross reference id",
        "errorCode": "INVALID_CROSS_REFERENCE_KEY",
        "fields": ["OwnerId"],
    }
    e = _patch_error(client, token, {"OwnerId": ANA})  # a Contact id: the wrong type
    assert e["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert emu.get_contact(ACME, ANA)["Title"] == "Head of Operations"  # nothing was written


def test_if_unmodified_since(client, emu, token):
    h = bearer(token)
    rec = client.get(f"{CONTACT}/{ANA}", headers=h).json()
    since = http_date_of(rec["LastModifiedDate"])
    # unchanged since the read (same second counts as unchanged): the update applies
    ok = client.patch(
        f"{CONTACT}/{ANA}", json={"Title": "COO"}, headers={**h, "If-Unmodified-Since": since}
    )
    assert ok.status_code == 204
    rec = client.get(f"{CONTACT}/{ANA}", headers=h).json()
    since = http_date_of(rec["LastModifiedDate"])
    emu.update_contact(ACME, ANA, {"Title": "Changed in Salesforce"})  # a user edits it
    stale = client.patch(
        f"{CONTACT}/{ANA}", json={"Title": "Ours"}, headers={**h, "If-Unmodified-Since": since}
    )
    assert stale.status_code == 412
    err = stale.json()[0]
    assert err["errorCode"] == "PRECONDITION_FAILED"
    assert err["message"].startswith("The requested resource has been modified since")
    assert emu.get_contact(ACME, ANA)["Title"] == "Changed in Salesforce"
    bad = client.patch(
        f"{CONTACT}/{ANA}", json={"Title": "x"}, headers={**h, "If-Unmodified-Since": "yesterday"}
    )
    assert bad.status_code == 400


def test_create_and_delete(client, emu, token):
    h = bearer(token)
    resp = client.post(CONTACT, json={"LastName": "Newman", "Email": "new@example.com"}, headers=h)
    assert resp.status_code == 201
    body = resp.json()
    assert body["success"] is True and body["errors"] == [] and body["id"].startswith("003")
    rec = emu.get_contact(ACME, body["id"])
    assert rec["CreatedById"] == ACME_ADMIN and rec["OwnerId"] == ACME_ADMIN
    assert rec["HasOptedOutOfEmail"] is False
    missing = client.post(CONTACT, json={"FirstName": "No"}, headers=h)
    assert missing.status_code == 400 and missing.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert client.delete(f"{CONTACT}/{body['id']}", headers=h).status_code == 204
    assert client.get(f"{CONTACT}/{body['id']}", headers=h).json()[0]["errorCode"] == (
        "ENTITY_IS_DELETED"
    )
    assert emu.counters["contact.create"] == 2


def test_faults(client, emu, token):
    h = bearer(token)
    emu.set_fault(ACME, "request_limit_exceeded", count=2)
    for _ in range(2):
        resp = client.get(f"{V}/limits", headers=h)
        assert resp.status_code == 403
        assert resp.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
        assert "sforce-limit-info" in resp.headers
    assert client.get(f"{V}/limits", headers=h).status_code == 200
    emu.set_fault(ACME, "server_unavailable")
    resp = client.get(f"{V}/limits", headers=h)
    assert resp.status_code == 503 and resp.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    emu.set_fault(ACME, "api_disabled")
    assert client.get(f"{V}/limits", headers=h).json()[0]["errorCode"] == "API_DISABLED_FOR_ORG"
    emu.set_fault(GLOBEX, "server_unavailable")  # other orgs' faults don't leak
    emu.set_fault(ACME, None)
    assert client.get(f"{V}/limits", headers=h).status_code == 200


def test_latency_switch(client, emu, token):
    emu.latency_ms = 150
    start = time.perf_counter()
    client.get(f"{V}/limits", headers=bearer(token))
    client.get(token["id"], headers=bearer(token))
    # A lower bound only: the emulator sleeps at least that long; an upper bound would be a
    # timing assertion that a loaded machine breaks.
    assert time.perf_counter() - start >= 0.3
