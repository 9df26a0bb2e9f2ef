"""The migration packages of the project's first-party apps, as Django configures them.

Django decides the labels and where each app's migrations live (`MIGRATION_MODULES`
included); migrail reads the files with the same parser and checks as the CLI.
First-party apps are those whose code lives inside the git work tree (and not in
a virtualenv there), or the labels in `settings.MIGRAIL_FIRST_PARTY_APPS`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from migrail.errors import MigrailError
from migrail.sources.gitrepo import GitRepo
from migrail.sources.packages import MigrationPackage, read_package
from migrail.sources.parse_cache import ParseCache
from migrail.sources.trees import Directory, Unreadable, blob_id

THIRD_PARTY_DIRS = frozenset({"site-packages", "dist-packages"})


@dataclass(frozen=True)
class AppMigrations:
    label: str
    directory: Path  # absolute
    relative: str  # to the project root, `/`-separated


def project_root() -> tuple[Path, ParseCache]:
    """The git work tree holding the settings module (else the working directory)."""
    from django.conf import settings

    module = importlib.import_module(settings.SETTINGS_MODULE) if settings.SETTINGS_MODULE else None
    start = Path(module.__file__).parent if module and module.__file__ else Path.cwd()
    try:
        repo = GitRepo.discover(start)
    except MigrailError:
        return Path.cwd().resolve(), ParseCache(None)
    return repo.root.resolve(), ParseCache.of_repository(repo.migrail_dir)


def first_party_migrations(root: Path) -> list[AppMigrations]:
    from django.apps import apps
    from django.conf import settings
    from django.db.migrations.loader import MigrationLoader

    chosen = getattr(settings, "MIGRAIL_FIRST_PARTY_APPS", None)
    found = []
    for app_config in apps.get_app_configs():
        app_path = Path(app_config.path).resolve()
        if chosen is not None:
            if app_config.label not in chosen:
                continue
        elif not app_path.is_relative_to(root) or THIRD_PARTY_DIRS & set(app_path.parts):
            continue
        module_name, _ = MigrationLoader.migrations_module(app_config.label)
        if module_name is None:
            continue  # MIGRATION_MODULES maps the app to None: no migrations
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        paths = list(getattr(module, "__path__", []))
        if not paths:
            continue
        directory = Path(paths[0]).resolve()
        if not directory.is_relative_to(root):
            continue
        found.append(
            AppMigrations(app_config.label, directory, directory.relative_to(root).as_posix())
        )
    return found


def read_app_packages(
    root: Path, cache: ParseCache, wanted: list[AppMigrations]
) -> list[MigrationPackage]:
    source = Directory(root)
    packages = []
    for app in wanted:
        files = {}
        for path in sorted(app.directory.iterdir()):
            if not path.is_file():
                continue
            relative = f"{app.relative}/{path.name}"
            try:
                files[relative] = blob_id(source.read(relative))
            except Unreadable:
                files[relative] = f"unreadable:{relative}"
        packages.append(read_package(app.label, app.relative, files, source, cache))
    cache.save()
    return packages


def snapshot(apps: list[AppMigrations]) -> dict[str, dict[str, tuple[int, int]]]:
    """Each app's migration files with their size and modification time."""
    result = {}
    for app in apps:
        entries = {}
        for path in app.directory.iterdir():
            if path.suffix == ".py" and path.is_file():
                stat = path.stat()
                entries[path.name] = (stat.st_size, stat.st_mtime_ns)
        result[app.label] = entries
    return result
