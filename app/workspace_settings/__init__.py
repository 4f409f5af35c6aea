"""Fields of the Contact describe and the workspace's settings document."""
