"""Django's `MigrationLoader`, built once per question, its errors turned into one message."""

from __future__ import annotations

from typing import Any

from migrail.errors import MigrailError


def load_migrations(connection: Any) -> Any:
    """Django's `MigrationLoader`, its errors turned into one message."""
    from django.db.migrations.loader import MigrationLoader

    try:
        return MigrationLoader(connection, ignore_no_migrations=True)
    except Exception as err:
        raise MigrailError(
            f"Django cannot load the migrations: {type(err).__name__}: {err}"
        ) from err
