"""Write-back: create Contacts and Leads, log conversations as Tasks (docs/api.md)."""
