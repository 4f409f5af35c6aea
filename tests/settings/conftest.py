from tests.contacts.conftest import app, clock, connect, settings

__all__ = ["app", "clock", "connect", "settings"]
