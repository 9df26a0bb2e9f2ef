"""An app with no migrations of its own: each test of the plan's phases points
`MIGRATION_MODULES` at a package it writes in a git repository, as Django's
`test_executor.py` points apps at its `test_migrations*` packages."""
