"""Find the migration packages in a source and read each migration in them.

A migration package is a directory named `migrations` holding `__init__.py`;
its migrations are the modules whose names do not start with `_` or `~` and
hold no dot (Django's rule, and `pkgutil`'s). The app label is the parent
directory's name, or the `label` of the AppConfig in its `apps.py`, or an
override in `[tool.migrail]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from posixpath import basename, dirname

from migrail.graph.parser import (
    ParsedMigration,
    ParseProblem,
    parse_migration,
    source_warnings_ignored,
)
from migrail.sources.config import Config
from migrail.sources.parse_cache import ParseCache, Parsed
from migrail.sources.trees import Source, Unreadable

LABEL = re.compile(r"""^[ \t]+label\s*(?::\s*\w+\s*)?=\s*["']([^"']+)["']""", re.MULTILINE)
MAX_MIGRATION = "max_migration.txt"


@dataclass(frozen=True)
class MigrationFile:
    name: str
    path: str
    parsed: Parsed

    @property
    def migration(self) -> ParsedMigration | None:
        return self.parsed if isinstance(self.parsed, ParsedMigration) else None


@dataclass
class MigrationPackage:
    label: str
    path: str
    migrations: dict[str, MigrationFile] = field(default_factory=dict)
    max_migration: bytes | None = None
    max_migration_error: str | None = None

    @property
    def max_migration_path(self) -> str:
        return f"{self.path}/{MAX_MIGRATION}"

    @property
    def app_path(self) -> str:
        return dirname(self.path)


def discover_packages(source: Source, config: Config, cache: ParseCache) -> list[MigrationPackage]:
    with source_warnings_ignored():  # forked parsing workers inherit the filter
        return _discover_packages(source, config, cache)


def _discover_packages(source: Source, config: Config, cache: ParseCache) -> list[MigrationPackage]:
    entries = source.entries()
    in_dir: dict[str, list[str]] = {}  # each path split once: a large tree has 10,000s
    for path in entries:
        in_dir.setdefault(path.rpartition("/")[0], []).append(path)
    package_dirs = sorted(
        directory
        for directory in in_dir
        if directory.endswith("/migrations") and f"{directory}/__init__.py" in entries
    )
    by_dir = {directory: in_dir[directory] for directory in package_dirs}
    _parse_uncached_in_parallel(source, entries, by_dir, cache)
    packages = []
    for package_dir in package_dirs:
        label = _label(source, entries, dirname(package_dir), config)
        if not config.wants_app(label):
            continue
        files = {path: entries[path] for path in by_dir[package_dir]}
        package = read_package(label, package_dir, files, source, cache)
        if _is_django_package(package):
            packages.append(package)
    packages += _unfollowed_package_links(source, entries, config)
    return packages


def _unfollowed_package_links(
    source: Source, entries: dict[str, str], config: Config
) -> list[MigrationPackage]:
    """A `migrations` package that is a link migrail does not follow (out of the work tree, a
    loop): one unreadable entry, E011, in place of the migrations Django may see there."""
    found = []
    links = (p for p, blob in entries.items() if blob.startswith("unreadable:"))
    for path in sorted(p for p in links if p.endswith("/migrations")):
        label = _label(source, entries, dirname(path), config)
        if not config.wants_app(label):
            continue
        try:
            source.read(path)
            continue
        except Unreadable as err:
            problem = ParseProblem("unreadable", 1, f"cannot be read: {err}")
        package = MigrationPackage(label, path)
        package.migrations["migrations"] = MigrationFile("migrations", path, problem)
        found.append(package)
    return found


def read_package(
    label: str, package_dir: str, files: dict[str, str], source: Source, cache: ParseCache
) -> MigrationPackage:
    """One app's package from its files (path to content id) directly inside `package_dir`."""
    package = MigrationPackage(label, package_dir)
    for path in sorted(files):
        name = path.rpartition("/")[2]
        if name == MAX_MIGRATION:
            try:
                package.max_migration = source.read(path)
            except Unreadable as err:
                package.max_migration_error = str(err)
        elif is_migration_module(name):
            module = name[:-3]
            package.migrations[module] = MigrationFile(
                module, path, _parse(source, path, files[path], cache)
            )
    return package


def is_migration_module(name: str) -> bool:
    """Would Django's loader take the file `name` as a migration? It lists modules with
    `pkgutil.iter_modules`, which skips names with a dot (`0002_price.old.py`), and skips
    those starting with `_` or `~` itself."""
    module = name[:-3]
    return name.endswith(".py") and module != "" and module[0] not in "_~" and "." not in module


def module_in_package(path: str) -> bool:
    """Is `path` a module Django would load as a migration, should its directory be a
    package: directly inside a directory named `migrations`, below the top."""
    parent, _, name = path.rpartition("/")
    return parent.endswith("/migrations") and is_migration_module(name)


def _parse_uncached_in_parallel(
    source: Source, entries: dict[str, str], by_dir: dict[str, list[str]], cache: ParseCache
) -> None:
    from migrail.sources import parallel_parse

    if source.disk_root is None:
        return
    todo = [
        path
        for paths in by_dir.values()
        for path in paths
        if entries[path] not in cache  # first: after a cold check's parse ahead, all are
        and is_migration_module(path.rpartition("/")[2])
        and not entries[path].startswith("unreadable:")
    ]
    if not parallel_parse.worth_it(len(todo)):
        return
    for path, parsed in zip(todo, parallel_parse.parse_files(source.disk_root, todo), strict=True):
        if not (isinstance(parsed, ParseProblem) and parsed.kind == "unreadable"):
            cache.put(entries[path], parsed)


def _parse(source: Source, path: str, blob: str, cache: ParseCache) -> Parsed:
    cached = cache.get(blob)
    if cached is not None:
        return cached
    try:
        parsed = parse_migration(source.read(path))
    except Unreadable as err:
        return ParseProblem("unreadable", 1, f"cannot be read: {err}")
    cache.put(blob, parsed)
    return parsed


def _is_django_package(package: MigrationPackage) -> bool:
    """False for South-era or unrelated `migrations` directories, which are skipped."""
    if not package.migrations:
        return True
    return any(
        not (
            isinstance(f.parsed, ParseProblem)
            and f.parsed.kind in ("not-django", "no-migration-class")
        )
        for f in package.migrations.values()
    )


def _label(source: Source, entries: dict[str, str], app_dir: str, config: Config) -> str:
    if app_dir in config.labels:
        return config.labels[app_dir]
    apps_py = f"{app_dir}/apps.py"
    if apps_py in entries:
        try:
            text = source.read(apps_py).decode("utf-8", errors="replace")
        except Unreadable:
            text = ""
        if "AppConfig" in text:
            match = LABEL.search(text)
            if match:
                return match.group(1)
    return basename(app_dir)
