"""Development-only preview of the respond.io sidebar section (`/dev/sidebar`)."""
