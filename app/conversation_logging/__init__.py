"""Conversations logged to Salesforce automatically when respond.io closes them
(docs/conversation-logging.md)."""
