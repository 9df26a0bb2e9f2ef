"""System checks: the findings of `migrail check`, as `migrail.E0xx` messages.

Muted while migrail's own repair commands run (makemigrations, squashmigrations,
`manage.py migrail`), so a stale `max_migration.txt` never blocks the command
that rewrites it; and with `MIGRAIL_SKIP=1`, as the hooks are. Under the
commands that move the database (`migrate` and its kin), errors are warnings:
rolling back by hand (`migrate APP TARGET`) is how a fork is often mended.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_repairing: ContextVar[bool] = ContextVar("migrail_repairing", default=False)
# Django's commands that run the system checks and move or show the database.
NEVER_BLOCKED = frozenset({"migrate", "showmigrations", "sqlmigrate", "dbshell", "shell"})


@contextmanager
def repairing() -> Iterator[None]:
    token = _repairing.set(True)
    try:
        yield
    finally:
        _repairing.reset(token)


def check_migrations(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[Any]:
    from django.conf import settings
    from django.core import checks

    from migrail.checks.rules import check_packages
    from migrail.django_app.packages import first_party_migrations, project_root, read_app_packages

    if _repairing.get() or os.environ.get("MIGRAIL_SKIP") == "1":
        return []
    root, cache = project_root()
    apps = first_party_migrations(root)
    if app_configs is not None:
        labels = {config.label for config in app_configs}
        apps = [app for app in apps if app.label in labels]
    packages = read_app_packages(root, cache, apps)
    settings_used = {
        dep.swappable_setting
        for package in packages
        for f in package.migrations.values()
        if f.migration is not None
        for dep in f.migration.dependencies
        if dep.swappable_setting
    }
    swappable = {name: str(getattr(settings, name, "")) for name in settings_used}
    messages: list[Any] = []
    blocking = _running_command() not in NEVER_BLOCKED
    for finding in check_packages(packages, swappable=swappable).findings:
        kind = checks.Error if finding.severity == "error" and blocking else checks.Warning
        messages.append(
            kind(
                f"{finding.path}:{finding.line}: {finding.message}",
                hint=finding.hint,
                id=f"migrail.{finding.code}",
            )
        )
    if "django_linear_migrations" in settings.INSTALLED_APPS:
        messages.append(
            checks.Warning(
                "django_linear_migrations is installed alongside migrail",
                hint="remove it from INSTALLED_APPS: migrail reads and writes the same "
                "max_migration.txt files and provides the same commands",
                id="migrail.W002",
            )
        )
    return messages


def _running_command() -> str | None:
    """The management command this process runs (`manage.py migrate` → "migrate")."""
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    return args[0] if args else None
