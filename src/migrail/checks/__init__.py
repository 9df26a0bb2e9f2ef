"""Checks: findings with codes, `max_migration.txt` fixes, and their reports."""
