"""respond.io Developer API v2 client (client.py) and its typed errors (errors.py)."""
