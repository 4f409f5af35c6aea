"""The one query of the related records, built from describes as Salesforce sends them
(the emulator's describe payloads, minus the fields a profile hides): a field the describe
does not show is never named (field-level security), and a part that cannot be asked is
answered empty without a query naming it."""

from __future__ import annotations

from typing import Any

from app.lookup.related import related_plan, related_records, related_soql
from app.workspace.describes import ContactDescribe
from app.workspace.related_settings import RelatedPart, RelatedSettings
from emulator.salesforce.describe import describe
from emulator.salesforce.schema import sobject

ANA = "0035g0000006SevAAE"
ACCOUNT_ID = "0015g0000000AfJAAU"


def seen(name: str, *hidden: str) -> ContactDescribe:
    """The object's describe as a user whose profile hides `hidden` receives it."""
    t = sobject(name)
    assert t is not None
    body: dict[str, Any] = describe(t, "62.0")
    body["fields"] = [f for f in body["fields"] if f["name"] not in hidden]
    return ContactDescribe.parse(body)


def settings(**parts: RelatedPart) -> RelatedSettings:
    defaults = RelatedSettings()
    chosen = {name: RelatedPart(True, part.fields, 5) for name, part in defaults.parts().items()}
    return RelatedSettings(**{**chosen, **parts})


def test_hidden_fields_are_never_named() -> None:
    describes = {
        "Account": seen("Account", "Industry"),
        "Opportunity": seen("Opportunity", "Amount"),
        "Case": seen("Case", "Priority"),
    }
    plan = related_plan(settings(), seen("Contact"), describes)
    assert plan is not None
    soql = related_soql(plan, ANA, ACCOUNT_ID)
    assert soql is not None
    assert "Opportunities" in soql and "Cases" in soql and "FROM Account" in soql
    for hidden in ("Industry", "Amount", "Priority"):
        assert hidden not in soql


def test_a_part_whose_filter_field_is_hidden_is_not_asked() -> None:
    describes = {
        "Account": seen("Account"),
        "Opportunity": seen("Opportunity", "IsClosed"),
        "Case": seen("Case", "CreatedDate"),
    }
    plan = related_plan(settings(), seen("Contact"), describes)
    assert plan is not None
    soql = related_soql(plan, ANA, ACCOUNT_ID)
    # Only the Account is left to ask: its fields on the Contact, no subquery.
    assert soql is not None and "Opportunities" not in soql and "Cases" not in soql
    assert "Account.Name" in soql and "FROM Contact" in soql
    row = {"Id": ANA, "Account": {"Id": ACCOUNT_ID, "Name": "Souza Trading Sdn Bhd"}}
    held = related_records(plan, [row], ACCOUNT_ID)
    assert held["opportunities"] == [] and held["cases"] == []
    assert held["account"]["Name"] == "Souza Trading Sdn Bhd"


def test_without_a_visible_account_id_no_account_is_asked() -> None:
    describes = {"Account": seen("Account"), "Opportunity": seen("Opportunity")}
    chosen = RelatedSettings(
        account=RelatedPart(True, ("Name",)), opportunities=RelatedPart(True, ("Name",), 5)
    )
    plan = related_plan(chosen, seen("Contact", "AccountId"), describes)  # type: ignore[arg-type]
    assert plan is not None
    assert related_soql(plan, ANA, ACCOUNT_ID) is None
    assert related_records(plan, None, None) == {"account": None, "opportunities": []}


def test_everything_off_plans_nothing() -> None:
    assert related_plan(RelatedSettings(), seen("Contact"), {}) is None
