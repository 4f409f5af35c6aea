"""Salesforce emulator: OAuth web server flow, identity, REST (SOQL/SOSL, describe,
sObject rows) and Outbound Messages, in Salesforce's documented wire formats."""

from .app import create_app
from .state import SalesforceEmulator

__all__ = ["SalesforceEmulator", "create_app"]
