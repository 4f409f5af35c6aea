"""Connect, reauthorize and disconnect a workspace's Salesforce account."""
