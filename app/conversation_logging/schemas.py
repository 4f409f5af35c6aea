"""Pydantic I/O of conversation logging (docs/conversation-logging.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

Outcome = Literal["logged", "skipped", "pending", "failed"]


class RespondioWebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signing_key: SecretStr = Field(
        min_length=1,
        max_length=1000,
        description="The webhook's signing key, as respond.io shows it (Settings > "
        "Integrations > Webhooks). Stored encrypted; never shown again.",
    )


class EventContact(BaseModel):
    id: int | str
    firstName: str | None = None  # noqa: N815 - respond.io's names
    lastName: str | None = None  # noqa: N815
    email: str | None = None
    phone: str | None = None


class ClosedConversationFields(BaseModel):
    openedTime: int | str = Field(description="Epoch seconds or milliseconds.")  # noqa: N815
    closedTime: int | str | None = None  # noqa: N815
    category: str | None = None
    summary: str | None = None
    incomingMessageCount: int | None = None  # noqa: N815
    outgoingMessageCount: int | None = None  # noqa: N815


class RespondioWebhookEvent(BaseModel):
    """A respond.io webhook event as respond.io sends it, the keys the service reads (others
    may come and are ignored; only `conversation.closed` is stored, with `event_id`,
    `contact.id` and `conversation.openedTime` required)."""

    event_id: str
    event_type: str = Field(examples=["conversation.closed"])
    contact: EventContact
    conversation: ClosedConversationFields | None = None


class RespondioWebhookOut(BaseModel):
    url: str = Field(
        description="Paste it as the webhook's URL in respond.io, with the event "
        "`conversation.closed`.",
        examples=["https://sfint.example.com/v1/webhooks/respondio/3q2-7w..."],
    )


class WebhookAccepted(BaseModel):
    status: Literal["stored", "duplicate", "ignored"] = Field(
        description="`stored`: a new conversation.closed event; `duplicate`: its event_id was "
        "stored before; `ignored`: another event type."
    )


class LoggedContact(BaseModel):
    id: str
    email: str | None
    phone: str | None


class LoggingEntry(BaseModel):
    event_id: str
    contact: LoggedContact
    outcome: Outcome
    reason: str | None
    task_id: str | None
    task_url: str | None
    received_at: datetime
    processed_at: datetime | None


class OutcomeCounts(BaseModel):
    logged: int
    skipped: int
    pending: int
    failed: int


class ConversationLoggingStatus(BaseModel):
    events: list[LoggingEntry] = Field(description="The last 100 events, newest first.")
    counts: OutcomeCounts = Field(description="Conversations per outcome.")
