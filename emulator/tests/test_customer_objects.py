"""Account, Opportunity and Case: describes, seed data, relationship queries as Salesforce
answers them (parent fields, parent-to-child subqueries), Case creation, and the org with
Person Accounts (person Contacts written through their Account)."""

from __future__ import annotations

from .helpers import ACME, ANA, V, bearer, login

ANA_ACCOUNT = "0015g0000000AfJAAU"
BLUEBIRD = "00D7q0000000BRgEAM"
SITI_ACCOUNT = "0017q0000000BRqAAM"


def query(client, token, soql: str):
    return client.get(f"{V}/query", params={"q": soql}, headers=bearer(token))


def test_describes_of_the_new_objects(client, token):
    for name, prefix in (("Account", "001"), ("Opportunity", "006"), ("Case", "500")):
        body = client.get(f"{V}/sobjects/{name}/describe", headers=bearer(token)).json()
        assert body["name"] == name and body["keyPrefix"] == prefix
    case = client.get(f"{V}/sobjects/Case/describe", headers=bearer(token)).json()
    fields = {f["name"]: f for f in case["fields"]}
    assert fields["CaseNumber"]["createable"] is False
    assert fields["ContactId"]["relationshipName"] == "Contact"
    account = client.get(f"{V}/sobjects/Account/describe", headers=bearer(token)).json()
    children = {c["relationshipName"]: c for c in account["childRelationships"]}
    assert children["Opportunities"]["childSObject"] == "Opportunity"
    assert children["Cases"]["field"] == "AccountId"
    # Person fields exist only in orgs with Person Accounts.
    contact = client.get(f"{V}/sobjects/Contact/describe", headers=bearer(token)).json()
    assert "IsPersonAccount" not in {f["name"] for f in contact["fields"]}


def test_parent_fields_and_subqueries_as_salesforce_answers(client, token):
    soql = (
        "SELECT Id, Name, Industry, (SELECT Name, StageName, CloseDate FROM Opportunities "
        "WHERE IsClosed = false ORDER BY CloseDate ASC LIMIT 5), (SELECT CaseNumber, Subject "
        f"FROM Cases WHERE ContactId = '{ANA}' AND IsClosed = false ORDER BY CreatedDate DESC "
        "LIMIT 5) FROM Account WHERE Name = 'Souza Trading Sdn Bhd'"
    )
    answer = query(client, token, soql)
    assert answer.status_code == 200, answer.text
    (account,) = answer.json()["records"]
    opportunities = account["Opportunities"]
    assert opportunities["totalSize"] == 2 and opportunities["done"] is True
    # Soonest close first; the closed one left out.
    assert [o["Name"] for o in opportunities["records"]] == [
        "Fleet tracking renewal 2027",
        "WhatsApp support add-on",
    ]
    assert opportunities["records"][0]["attributes"]["type"] == "Opportunity"
    assert [c["CaseNumber"] for c in account["Cases"]["records"]] == ["00001003", "00001002"]

    contact = query(
        client,
        token,
        f"SELECT Name, Account.Name, Account.Industry FROM Contact WHERE Id = '{ANA}'",
    ).json()["records"][0]
    assert contact["Account"]["Name"] == "Souza Trading Sdn Bhd"
    assert contact["Account"]["Industry"] == "Retail"
    assert contact["Account"]["attributes"]["type"] == "Account"
    nobody = query(
        client,
        token,
        "SELECT Name, Account.Name FROM Contact WHERE Email = 'carla.jones@example.com'",
    ).json()["records"][0]
    assert nobody["Account"] is None


def test_an_empty_subquery_is_null_and_bad_relationships_are_refused(client, token):
    rows = query(
        client,
        token,
        "SELECT Name, (SELECT Id FROM Opportunities) FROM Account WHERE Name = 'Penang Logistics'",
    ).json()["records"]
    assert rows[0]["Opportunities"] is None
    wrong = query(client, token, "SELECT Id, (SELECT Id FROM Opportunity) FROM Account")
    assert wrong.status_code == 400 and wrong.json()[0]["errorCode"] == "INVALID_TYPE"
    wrong = query(client, token, "SELECT Id, Acount.Name FROM Contact")
    assert wrong.status_code == 400 and wrong.json()[0]["errorCode"] == "INVALID_FIELD"
    wrong = query(client, token, "SELECT Id, Account.Nope FROM Contact")
    assert wrong.status_code == 400 and wrong.json()[0]["errorCode"] == "INVALID_FIELD"


def test_case_creation_numbers_the_case_and_checks_references(client, token, emu):
    created = client.post(
        f"{V}/sobjects/Case/",
        json={"ContactId": ANA, "Subject": "Refund", "Origin": "WhatsApp"},
        headers=bearer(token),
    )
    assert created.status_code == 201, created.text
    stored = emu.get_record(ACME, "Case", created.json()["id"])
    assert stored["CaseNumber"] == "00001004" and stored["Status"] == "New"
    assert stored["IsClosed"] is False
    assert stored["AccountId"] == ANA_ACCOUNT  # the Contact's Account, as Salesforce fills it
    missing = "0035g0000009ZZZAAA"
    bad = client.post(
        f"{V}/sobjects/Case/", json={"Subject": "x", "ContactId": missing}, headers=bearer(token)
    )
    assert bad.status_code == 400
    assert bad.json()[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    unwritable = client.post(
        f"{V}/sobjects/Case/", json={"Subject": "x", "CaseNumber": "1"}, headers=bearer(token)
    )
    assert unwritable.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_person_accounts_org(client, emu):
    token = login(client, emu, username="admin@bluebird.example")
    describe = client.get(f"{V}/sobjects/Contact/describe", headers=bearer(token)).json()
    assert "IsPersonAccount" in {f["name"] for f in describe["fields"]}
    account_fields = {
        f["name"]
        for f in client.get(f"{V}/sobjects/Account/describe", headers=bearer(token)).json()[
            "fields"
        ]
    }
    assert {"PersonEmail", "PersonTitle", "PersonBirthdate", "Preferred_Language__pc"} <= (
        account_fields
    )
    (siti,) = query(
        client,
        token,
        "SELECT Id, Title, AccountId, IsPersonAccount FROM Contact "
        "WHERE Email = 'siti.aminah@example.com'",
    ).json()["records"]
    assert siti["IsPersonAccount"] is True and siti["AccountId"] == SITI_ACCOUNT
    refused = client.patch(
        f"{V}/sobjects/Contact/{siti['Id']}", json={"Title": "Principal"}, headers=bearer(token)
    )
    assert refused.status_code == 400
    assert refused.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    written = client.patch(
        f"{V}/sobjects/Account/{SITI_ACCOUNT}",
        json={"PersonTitle": "Principal"},
        headers=bearer(token),
    )
    assert written.status_code == 204, written.text
    assert emu.get_record(BLUEBIRD, "Contact", siti["Id"])["Title"] == "Principal"
    # A new person account brings its person Contact.
    made = client.post(
        f"{V}/sobjects/Account/",
        json={"FirstName": "Lim", "LastName": "Wei", "PersonEmail": "lim.wei@example.com"},
        headers=bearer(token),
    )
    assert made.status_code == 201, made.text
    (lim,) = query(
        client,
        token,
        "SELECT Name, IsPersonAccount FROM Contact WHERE Email = 'lim.wei@example.com'",
    ).json()["records"]
    assert lim == {**lim, "Name": "Lim Wei", "IsPersonAccount": True}
