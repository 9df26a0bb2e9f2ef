"""What migrail's management commands add to Django's: `max_migration.txt` follows the files.

The mixin compares each first-party app's migration files before and after the
command and writes `max_migration.txt` for every app whose files changed, so
every flag of makemigrations (`--merge`, `--update`, `--name`, `--empty`) and
squashmigrations is covered by one mechanism; `--dry-run` and `--check` write
no migration, so nothing changes and nothing is written.
"""

from __future__ import annotations

import importlib
from typing import Any

from migrail.django_app.checks import repairing


class WritesMaxMigration:
    """Mix in before a Django command class; a project's subclass of the result keeps it."""

    def execute(self, *args: Any, **options: Any) -> Any:
        from migrail.checks.rules import check_packages
        from migrail.django_app.packages import (
            first_party_migrations,
            project_root,
            read_app_packages,
            snapshot,
        )

        with repairing():
            root, cache = project_root()
            before = snapshot(first_party_migrations(root))
            result = super().execute(*args, **options)  # type: ignore[misc]
            if options.get("dry_run") or options.get("check_changes"):
                return result
            importlib.invalidate_caches()  # a new app's migrations package may have appeared
            apps = first_party_migrations(root)
            after = snapshot(apps)
            changed = [app for app in apps if after[app.label] != before.get(app.label)]
            if changed:
                for fix in check_packages(read_app_packages(root, cache, changed)).fixes:
                    (root / fix.path).write_bytes(fix.content)
            return result
