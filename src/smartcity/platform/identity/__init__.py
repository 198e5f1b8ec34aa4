"""Identity: departments, users with roles, API tokens, console login."""
