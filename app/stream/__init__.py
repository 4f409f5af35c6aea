"""Real time from Salesforce: Change Data Capture over the Pub/Sub API, run by the workers
(docs/real-time.md). `manager` shares the orgs' streams between workers (`leases`), each
org's stream is an `OrgStream` (`subscriber`), and `batch` is what a batch of events does."""
