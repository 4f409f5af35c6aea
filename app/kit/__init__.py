"""Small generic helpers with no knowledge of Salesforce, respond.io or our HTTP errors."""
