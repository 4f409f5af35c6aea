from __future__ import annotations

import pytest

from emulator.salesforce import SalesforceEmulator
from emulator.salesforce.soql import SOQLError, execute, parse_soql

from .helpers import (
    ACME,
    ANA,
    CARLA,
    DELETED,
    LEAD_ANA,
    LEAD_ONLY,
    LIAM,
    SAM,
    SAMANTHA,
    ZOE,
    V,
    bearer,
)


@pytest.fixture(scope="module")
def seeded() -> SalesforceEmulator:
    return SalesforceEmulator()


def run(emu: SalesforceEmulator, q: str, org: str = ACME) -> list[dict]:
    query = parse_soql(q)
    return execute(query, emu.snapshot(org, query.type.name))


def ids(rows: list[dict]) -> list[str]:
    return [r["Id"] for r in rows]


def error(q: str) -> SOQLError:
    with pytest.raises(SOQLError) as info:
        parse_soql(q)
    return info.value


def test_string_escapes(seeded):
    assert ids(run(seeded, r"SELECT Id FROM Contact WHERE Email = 'o\'brien@example.com'")) == [
        LIAM
    ]
    assert ids(run(seeded, r"SELECT Id FROM Contact WHERE Department = 'Sales\\EMEA'")) == [ZOE]
    assert ids(run(seeded, r"SELECT Id FROM Contact WHERE FirstName = 'Zo\u00eb'")) == [ZOE]
    assert ids(run(seeded, r"SELECT Id FROM Contact WHERE LastName = 'D\'Arcy'")) == [ZOE]
    # \n is a newline, so this matches nothing rather than failing
    assert run(seeded, r"SELECT Id FROM Contact WHERE Email = 'a\nb\t\"\r\b\f'") == []


def test_invalid_escapes_are_malformed(seeded):
    err = error(r"SELECT Id FROM Contact WHERE Email = 'a\qb'")
    assert err.code == "MALFORMED_QUERY" and "\\q" in err.message
    assert error(r"SELECT Id FROM Contact WHERE Email = 'a\_b'").code == "MALFORMED_QUERY"
    assert error("SELECT Id FROM Contact WHERE Email = 'unterminated").code == "MALFORMED_QUERY"
    # \_ and \% are fine in LIKE
    assert run(seeded, r"SELECT Id FROM Contact WHERE Email LIKE 'nina\%%'") == []
    assert ids(run(seeded, r"SELECT Id FROM Contact WHERE Email LIKE 'nina+sf@%'")) != []


def test_equals_is_case_insensitive_and_excludes_deleted(seeded):
    rows = run(seeded, "SELECT Id FROM Contact WHERE Email = 'John.Doe@Example.com'")
    assert len(rows) == 1
    assert run(seeded, "SELECT Id FROM Contact WHERE Email = 'deleted.contact@example.com'") == []
    assert DELETED not in ids(run(seeded, "SELECT Id FROM Contact"))


def test_and_or_not_in_and_parentheses(seeded):
    q = (
        "SELECT Id FROM Contact WHERE (Email = 'shared@example.com' OR Email = "
        "'ana.souza@example.com') AND NOT FirstName = 'Sam'"
    )
    assert set(ids(run(seeded, q))) == {SAMANTHA, ANA}
    q = "SELECT Id FROM Contact WHERE Email IN ('SHARED@example.com', 'carla.jones@example.com')"
    assert set(ids(run(seeded, q))) == {SAM, SAMANTHA, CARLA}
    q = "SELECT Id FROM Contact WHERE Email NOT IN ('shared@example.com') AND Email != null"
    assert SAM not in ids(run(seeded, q)) and ANA in ids(run(seeded, q))
    # Salesforce refuses AND and OR mixed without parentheses
    err = error("SELECT Id FROM Contact WHERE Email = 'a' AND Phone = 'b' OR Title = 'c'")
    assert err.code == "MALFORMED_QUERY" and "unexpected token: 'OR'" in err.message


def test_order_by_limit_offset_and_nulls(seeded):
    q = "SELECT Id, LastModifiedDate FROM Contact WHERE Email = 'shared@example.com' "
    assert ids(run(seeded, q + "ORDER BY LastModifiedDate DESC LIMIT 1")) == [SAMANTHA]
    assert ids(run(seeded, q + "ORDER BY LastModifiedDate ASC")) == [SAM, SAMANTHA]
    assert ids(run(seeded, q + "ORDER BY LastModifiedDate ASC LIMIT 1 OFFSET 1")) == [SAMANTHA]
    rows = run(seeded, "SELECT Id, Email FROM Contact ORDER BY Email ASC NULLS LAST")
    assert rows[-1]["Email"] is None and rows[0]["Email"] is not None
    rows = run(seeded, "SELECT Id, Email FROM Contact ORDER BY Email")
    assert rows[0]["Email"] is None  # ascending defaults to NULLS FIRST


def test_datetime_and_date_comparisons(seeded):
    q = "SELECT Id FROM Contact WHERE CreatedDate >= 2025-09-01T00:00:00Z"
    late = set(ids(run(seeded, q)))
    assert late and all(i for i in late)
    q2 = "SELECT Id FROM Contact WHERE CreatedDate >= 2025-09-01T08:00:00.000+0800"
    assert set(ids(run(seeded, q2))) == late
    q3 = (
        "SELECT Id FROM Contact WHERE CreatedDate > 2025-01-14T09:12:44Z "
        "AND CreatedDate < 2025-02-04T00:00:00Z"
    )
    assert ANA not in ids(run(seeded, q3))
    assert ids(run(seeded, "SELECT Id FROM Contact WHERE Birthdate = 1988-04-12")) == [ANA]
    assert run(seeded, "SELECT Id FROM Contact WHERE CreatedDate = TODAY") == []
    assert len(run(seeded, "SELECT Id FROM Contact WHERE CreatedDate < LAST_N_DAYS:1")) > 10
    err = error("SELECT Id FROM Contact WHERE CreatedDate > 2025-01-01")
    assert err.code == "INVALID_QUERY_FILTER_OPERATOR"
    err = error("SELECT Id FROM Contact WHERE CreatedDate > '2025-01-01T00:00:00Z'")
    assert "must be of type dateTime and should not be enclosed in quotes" in err.message


def test_type_checks(seeded):
    assert error("SELECT Id FROM Contact WHERE Email = 5").code == "INVALID_QUERY_FILTER_OPERATOR"
    assert error("SELECT Id FROM Contact WHERE Id = 'nope'").message.endswith(
        "invalid ID field: nope"
    )
    assert ids(run(seeded, f"SELECT Id FROM Contact WHERE Id = '{ANA[:15]}'")) == [ANA]
    assert ids(run(seeded, "SELECT Id FROM Contact WHERE Customer_Score__c > 90")) == [ANA]
    assert len(run(seeded, "SELECT Id FROM Contact WHERE HasOptedOutOfEmail = true")) == 1
    assert error("SELECT Id FROM Contact WHERE Description = 'x'").code == "INVALID_FIELD"


def test_errors_look_like_salesforce():
    err = error("SELECT Id, Foo FROM Contact")
    assert err.code == "INVALID_FIELD"
    assert err.message.startswith("\nSELECT Id, Foo FROM Contact\n           ^\n")
    assert "ERROR at Row:1:Column:12\nNo such column 'Foo' on entity 'Contact'." in err.message
    err = error("SELECT Id FROM Contacts")
    assert err.code == "INVALID_TYPE" and "sObject type 'Contacts' is not supported" in err.message
    err = error("SELECT Id FROM Contact WHERE")
    assert err.code == "MALFORMED_QUERY" and "unexpected token: '<EOF>'" in err.message
    assert error("SELECT Id Contact").code == "MALFORMED_QUERY"
    assert error("SELECT Id FROM Contact LIMIT x").code == "MALFORMED_QUERY"
    long_q = "SELECT Id FROM Contact WHERE Email = '" + "a" * 100_000 + "'"
    assert error(long_q).code == "MALFORMED_QUERY"


def test_leads_are_a_separate_object(seeded):
    q = "SELECT Id FROM {} WHERE Email = 'lead.only@example.com'"
    assert run(seeded, q.format("Contact")) == []
    assert ids(run(seeded, q.format("Lead"))) == [LEAD_ONLY]
    ana_leads = run(seeded, "SELECT Id FROM Lead WHERE Email = 'ana.souza@example.com'")
    assert ids(ana_leads) == [LEAD_ANA]


def test_organization_user_and_count(seeded):
    rows = run(seeded, "SELECT Id, Name FROM Organization")
    assert rows[0]["Name"] == "Acme Corporation"
    assert len(run(seeded, "SELECT Id, Name FROM User")) == 2
    assert parse_soql("SELECT COUNT() FROM Contact").count_only


def test_query_over_http(client, emu, token):
    q = "SELECT Id, Email, Name FROM Contact WHERE Email = 'SHARED@example.com' ORDER BY Name"
    resp = client.get(f"{V}/query", params={"q": q}, headers=bearer(token))
    assert resp.status_code == 200
    body = resp.json()
    assert body["totalSize"] == 2 and body["done"] is True
    first = body["records"][0]
    assert first == {
        "attributes": {"type": "Contact", "url": f"{V}/sobjects/Contact/{SAM}"},
        "Id": SAM,
        "Email": "shared@example.com",
        "Name": "Sam Lee",
    }
    bad = client.get(f"{V}/query", params={"q": "SELECT Nope FROM Contact"}, headers=bearer(token))
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_FIELD"
    count = client.get(
        f"{V}/query", params={"q": "SELECT COUNT() FROM Contact"}, headers=bearer(token)
    )
    assert count.json() == {"totalSize": 19, "done": True, "records": []}
    all_rows = client.get(
        f"{V}/queryAll",
        params={"q": "SELECT Id FROM Contact WHERE IsDeleted = true"},
        headers=bearer(token),
    )
    assert [r["Id"] for r in all_rows.json()["records"]] == [DELETED]
    assert emu.counters["query"] == 4


def test_paging_with_next_records_url(client, emu, token):
    emu.bulk_create_contacts(ACME, 2100)
    resp = client.get(f"{V}/query", params={"q": "SELECT Id FROM Contact"}, headers=bearer(token))
    body = resp.json()
    assert body["done"] is False and body["totalSize"] == 2119 and len(body["records"]) == 2000
    more = client.get(body["nextRecordsUrl"], headers=bearer(token)).json()
    assert more["done"] is True and len(more["records"]) == 119 and "nextRecordsUrl" not in more
    seen = {r["Id"] for r in body["records"]} | {r["Id"] for r in more["records"]}
    assert len(seen) == 2119
    small = client.get(
        f"{V}/query",
        params={"q": "SELECT Id FROM Contact"},
        headers={**bearer(token), "Sforce-Query-Options": "batchSize=500"},
    ).json()
    assert len(small["records"]) == 500 and small["nextRecordsUrl"].endswith("-500")
    bad = client.get(f"{V}/query/01gBOGUS-2000", headers=bearer(token))
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
