from typing import Any

import pytest

from tests.helpers.contact_app import app, clock, connect, settings

__all__ = ["app", "clock", "connect", "settings"]


@pytest.fixture
def document(app: Any) -> dict[str, Any]:
    """The served OpenAPI document (what `/openapi.json` answers)."""
    served: dict[str, Any] = app.openapi()
    return served
