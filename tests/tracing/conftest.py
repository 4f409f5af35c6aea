from tests.helpers.contact_app import app, clock, connect, settings

__all__ = ["app", "clock", "connect", "settings"]
