"""Pydantic I/O for the fields and settings endpoints (contract section 4)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from app import errors


class Problem(BaseModel):
    """An `application/problem+json` error (RFC 9457)."""

    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str | None = None
    errors: list[dict[str, Any]] | None = None


def problem_responses(*kinds: type[errors.AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given errors, grouped by status."""
    by_status: dict[int, list[type[errors.AppError]]] = {}
    for kind in kinds:
        by_status.setdefault(kind.status, []).append(kind)
    return {
        status: {
            "description": "; ".join(f"`{k.code}`: {k.title}" for k in group),
            "content": {errors.PROBLEM_JSON: {"schema": Problem.model_json_schema()}},
        }
        for status, group in sorted(by_status.items())
    }


AUTH_ERRORS: tuple[type[errors.AppError], ...] = (errors.Unauthenticated, errors.Forbidden)
SALESFORCE_READ_ERRORS: tuple[type[errors.AppError], ...] = (
    errors.SalesforceNotConnected,
    errors.SalesforceReauthorizationRequired,
    errors.SalesforceApiDisabled,
    errors.SalesforceInsufficientAccess,
    errors.SalesforceRateLimited,
    errors.SalesforceUnavailable,
)


class PicklistValueOut(BaseModel):
    value: str
    label: str
    active: bool


class ContactFieldOut(BaseModel):
    name: str = Field(examples=["Title"])
    label: str = Field(examples=["Title"])
    type: str = Field(examples=["string"])
    updateable: bool
    editable: bool = Field(description="`updateable` and not of type `email` or `phone`.")
    nillable: bool
    length: int
    picklist_values: list[PicklistValueOut]


class AutoCreateSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool = Field(
        description="Create a respond.io contact for every Salesforce Contact created from now on."
    )
    add_tag: StrictBool = Field(description="Tag created contacts `Auto-created: Salesforce`.")
    include_bulk_imports: StrictBool = Field(
        description="Also create contacts for Contacts that arrived through a bulk import."
    )


FieldName = Annotated[str, Field(min_length=1, max_length=80)]


class SettingsDocument(BaseModel):
    """The whole settings document; a PUT replaces it (every key is required)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "visible_fields": ["Name", "Email", "Phone", "MobilePhone", "Title"],
                    "editing_enabled": False,
                    "phone_matching": "exact",
                    "auto_create": {
                        "enabled": False,
                        "add_tag": True,
                        "include_bulk_imports": False,
                    },
                }
            ]
        },
    )

    visible_fields: list[FieldName] = Field(
        max_length=100,
        description="Contact fields shown in the sidebar, in order; each must exist on Contact.",
    )
    editing_enabled: StrictBool
    phone_matching: Literal["exact", "normalized"] = Field(
        description="`exact`: the stored string must equal the given one. `normalized`: both "
        "sides are compared as E.164 numbers."
    )
    auto_create: AutoCreateSettings
