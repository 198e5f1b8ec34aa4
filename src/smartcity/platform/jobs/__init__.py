"""Background jobs: a queue in the database and the worker that runs it."""
