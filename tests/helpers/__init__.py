"""What several test packages share: the test database, data builders, a fake clock,
connected-workspace fixtures and the HTTP steps of each feature. Test modules import from
here, never from each other."""
