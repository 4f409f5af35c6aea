"""The workspace core every feature stands on: the connection + settings snapshot, the
caches of Salesforce data and their invalidation, stored credentials, and the translation
of Salesforce failures into our HTTP errors. Features depend on it, never on each other."""
