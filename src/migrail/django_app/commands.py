"""What migrail's management commands add to Django's: `max_migration.txt` follows the files.

The mixin compares each first-party app's migration files before and after the
command and writes `max_migration.txt` for every app whose files changed, so
every flag of makemigrations (`--merge`, `--update`, `--name`, `--empty`) and
squashmigrations is covered by one mechanism; `--dry-run` and `--check` write
no migration, so nothing changes and nothing is written.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from migrail.checks.findings import CheckResult

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
                checked = check_packages(read_app_packages(root, cache, changed))
                for fix in checked.fixes:
                    (root / fix.path).write_bytes(fix.content)
                fixed = {fix.app for fix in checked.fixes}
                unwritten = [app.label for app in changed if app.label not in fixed]
                for line in _not_written(checked, unwritten):
                    print(line, file=getattr(self, "stderr", sys.stderr))
            return result


def _not_written(checked: CheckResult, apps: list[str]) -> Iterator[str]:
    """One line per app whose `max_migration.txt` this command could not write, as an error
    in its migrations hides their latest (a squash whose RunPython functions Django left to
    copy by hand does not compile): never left stale without a word."""
    for app in apps:
        error = next((f for f in checked.errors if f.app == app), None)
        if error is None:
            continue  # already current
        recorded = checked.apps[app].max_migration if app in checked.apps else None
        names = f" (it names {recorded})" if recorded else ""
        yield (
            f"migrail: max_migration.txt of {app} was not updated{names}: {error.message} "
            f"({error.path}:{error.line}); when that is fixed, run `migrail check --fix`"
        )
