"""Salesforce vendor package: wire formats, errors, tokens. No FastAPI imports here."""
