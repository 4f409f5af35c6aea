"""Finding the Salesforce Contact of a respond.io contact by email, then by phone."""
