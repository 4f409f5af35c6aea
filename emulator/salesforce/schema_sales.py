"""Lead, Task and TaskStatus: the objects of the sales and activity features, with the
standard fields a real org describes (labels, lengths, picklists, references)."""

from __future__ import annotations

from .fields import (
    Field,
    SObjectType,
    audit_fields,
    full_name,
    identity_fields,
    owner,
    phone,
    read_only,
)

LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)
CONVERTED_STATUS = "Closed - Converted"
INDUSTRIES = (
    "Agriculture",
    "Banking",
    "Communications",
    "Consulting",
    "Education",
    "Finance",
    "Healthcare",
    "Hospitality",
    "Manufacturing",
    "Media",
    "Retail",
    "Technology",
    "Other",
)


LEAD = SObjectType(
    "Lead",
    "Lead",
    "Leads",
    "00Q",
    [
        *identity_fields("Lead ID"),
        Field("LastName", "Last Name", "string", length=80, nillable=False),
        Field("FirstName", "First Name", "string", length=40),
        Field(
            "Salutation",
            "Salutation",
            "picklist",
            length=40,
            picklist=("Mr.", "Ms.", "Mrs.", "Dr.", "Prof."),
        ),
        read_only("Name", "Full Name", "string", length=121, compute=full_name, name_field=True),
        Field("Title", "Title", "string", length=128),
        Field("Company", "Company", "string", length=255, nillable=False),
        Field("City", "City", "string", length=40),
        Field("Country", "Country", "string", length=80),
        phone("Phone", "Phone"),
        phone("MobilePhone", "Mobile Phone"),
        Field("Email", "Email", "email", length=80),
        Field("Website", "Website", "url", length=255),
        Field("Description", "Description", "textarea", length=32000),
        Field("LeadSource", "Lead Source", "picklist", length=255, picklist=LEAD_SOURCES),
        Field(
            "Status",
            "Status",
            "picklist",
            length=255,
            nillable=False,
            default=LEAD_STATUSES[0],
            picklist=LEAD_STATUSES,
        ),
        Field("Industry", "Industry", "picklist", length=255, picklist=INDUSTRIES),
        Field("HasOptedOutOfEmail", "Email Opt Out", "boolean", nillable=False, default=False),
        owner("User", "Group"),
        read_only("IsConverted", "Converted", "boolean", nillable=False, default=False),
        read_only("ConvertedDate", "Converted Date", "date"),
        read_only(
            "ConvertedAccountId",
            "Converted Account ID",
            "reference",
            length=18,
            reference_to=("Account",),
        ),
        read_only(
            "ConvertedContactId",
            "Converted Contact ID",
            "reference",
            length=18,
            reference_to=("Contact",),
        ),
        *audit_fields(),
        read_only("LastActivityDate", "Last Activity", "date"),
    ],
)

TASK_STATUSES = (
    # (label, closed, default)
    ("Not Started", False, True),
    ("In Progress", False, False),
    ("Completed", True, False),
    ("Waiting on someone else", False, False),
    ("Deferred", False, False),
)

TASK = SObjectType(
    "Task",
    "Task",
    "Tasks",
    "00T",
    [
        read_only("Id", "Activity ID", "id", length=18, nillable=False),
        Field(
            "WhoId",
            "Name ID",
            "reference",
            length=18,
            reference_to=("Contact", "Lead"),
        ),
        Field(
            "WhatId",
            "Related To ID",
            "reference",
            length=18,
            reference_to=("Account", "Opportunity", "Case"),
        ),
        Field("Subject", "Subject", "combobox", length=255),
        Field("ActivityDate", "Due Date Only", "date"),
        Field(
            "Status",
            "Status",
            "picklist",
            length=255,
            nillable=False,
            default="Not Started",
            picklist=tuple(s[0] for s in TASK_STATUSES),
        ),
        Field(
            "Priority",
            "Priority",
            "picklist",
            length=40,
            nillable=False,
            default="Normal",
            picklist=("High", "Normal", "Low"),
        ),
        read_only(
            "IsHighPriority",
            "High Priority",
            "boolean",
            nillable=False,
            compute=lambda rec: rec.get("Priority") == "High",
        ),
        owner("User", "Group"),
        Field("Description", "Description", "textarea", length=32000),
        Field(
            "Type",
            "Type",
            "picklist",
            length=40,
            picklist=("Call", "Email", "Meeting", "Other"),
        ),
        read_only("IsDeleted", "Deleted", "boolean", nillable=False, default=False),
        read_only("AccountId", "Account ID", "reference", length=18, reference_to=("Account",)),
        read_only("IsClosed", "Closed", "boolean", nillable=False, default=False),
        Field(
            "TaskSubtype",
            "Task Subtype",
            "picklist",
            length=40,
            updateable=False,
            picklist=("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"),
            restricted=True,
        ),
        read_only("CompletedDateTime", "Completed Date/Time", "datetime"),
        Field("IsReminderSet", "Reminder Set", "boolean", nillable=False, default=False),
        Field("ReminderDateTime", "Reminder Date/Time", "datetime"),
        *audit_fields(),
        Field(
            "Respondio_External_Id__c",
            "respond.io External ID",
            "string",
            length=255,
            custom=True,
            external_id=True,
            unique=True,
        ),
    ],
)

TASK_STATUS = SObjectType(
    "TaskStatus",
    "Task Status Value",
    "Task Status Values",
    "01J",
    [
        read_only("Id", "Task Status Value ID", "id", length=18, nillable=False),
        read_only("MasterLabel", "Master Label", "string", length=255),
        read_only("ApiName", "Api Name", "string", length=255, nillable=False),
        read_only("SortOrder", "Sort Order", "int"),
        read_only("IsDefault", "Is Default", "boolean", nillable=False),
        read_only("IsClosed", "Is Closed", "boolean", nillable=False),
        *audit_fields(),
    ],
    updateable=False,
    createable=False,
    deletable=False,
)
