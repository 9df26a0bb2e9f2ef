"""`migrail sync` and `migrail status`: make the database match the working tree.

Orphans are applied migrations the tree does not have. Their source comes
from a commit (the previous HEAD, `--from`), migrail's source cache, or any
commit that has them; it is materialised in a temporary package outside the
working tree and handed to Django's own `MigrationLoader` through
`MIGRATION_MODULES`, so Django's `MigrationExecutor` unapplies them. Then
`migrate` applies what the tree has and the database lacks.
"""

from __future__ import annotations

import importlib
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrail.config import Config
from migrail.errors import EXIT_CLEAN, EXIT_FINDINGS, MigrailError
from migrail.gitrepo import GitRepo
from migrail.parser import Key, ParsedMigration, parse_migration

WAYS_OUT = """\
Ways out:
  - give the operation a reverse (for data migrations with nothing to undo,
    reverse_code=migrations.RunPython.noop or reverse_sql=migrations.RunSQL.noop),
    on the branch that has it, and switch back and forth again;
  - or restore an earlier copy of the database: `migrail restore`;
  - or start this database afresh (drop it, then `python manage.py migrate`)."""


@dataclass
class SyncPlan:
    alias: str
    vendor: str
    orphans: list[Key]
    unapply: list[Key]
    apply: list[Key]
    sources: dict[Key, bytes]
    missing_sources: list[Key] = field(default_factory=list)
    irreversible: list[str] = field(default_factory=list)
    drops: dict[Key, list[str]] = field(default_factory=dict)
    not_installed: list[str] = field(default_factory=list)
    removed_apps: list[str] = field(default_factory=list)
    squash_records: list[Key] = field(default_factory=list)
    tree_leaves: dict[str, list[str]] = field(default_factory=dict)
    last_applied: dict[str, str] = field(default_factory=dict)

    @property
    def in_step(self) -> bool:
        return not (
            self.unapply
            or self.apply
            or self.missing_sources
            or self.removed_apps
            or self.squash_records
        )


@dataclass
class SyncOptions:
    from_rev: str | None = None
    dry_run: bool = False
    database: str | None = None
    backup: bool = True


def run_sync(repo: GitRepo, config: Config, options: SyncOptions) -> int:
    from migrail.django_project import setup_django

    setup_django(repo.root, config)
    status = EXIT_CLEAN
    for alias in _aliases(config, options.database):
        status = max(status, _sync_alias(repo, config, alias, options))
    return status


def run_status(repo: GitRepo, config: Config, database: str | None) -> int:
    from django.db import connections

    from migrail.django_project import setup_django

    setup_django(repo.root, config)
    status = EXIT_CLEAN
    for alias in _aliases(config, database):
        _refuse_unsafe(alias, config)
        plan = plan_sync(repo, connections[alias], None)
        print(describe_status(plan))
        if not plan.in_step:
            status = EXIT_FINDINGS
    return status


def _aliases(config: Config, database: str | None) -> list[str]:
    from django.conf import settings

    aliases = [database] if database else list(config.databases) or list(settings.DATABASES)
    for alias in aliases:
        if alias not in settings.DATABASES:
            raise MigrailError(f"no database {alias!r} in settings.DATABASES")
    return aliases


def _refuse_unsafe(alias: str, config: Config) -> None:
    from django.conf import settings

    from migrail.database_safety import refusal

    reason = refusal(
        alias,
        settings.DATABASES[alias],
        debug=bool(settings.DEBUG),
        allow_remote=config.allow_remote_databases,
        allow_debug_false=config.allow_debug_false,
    )
    if reason:
        raise SyncRefused(reason)


class SyncRefused(MigrailError):
    """Sync stopped before changing anything; the database is left as it was."""

    exit_status = EXIT_FINDINGS


def roll_back_for_switch(
    repo: GitRepo, config: Config, target: Target, options: SyncOptions
) -> None:
    """Unapply what `target` lacks while the current tree's files are still here."""
    from migrail.django_project import setup_django

    setup_django(repo.root, config)
    for alias in _aliases(config, options.database):
        _sync_alias(repo, config, alias, options, target=target)


def _sync_alias(
    repo: GitRepo, config: Config, alias: str, options: SyncOptions, target: Target | None = None
) -> int:
    from django.db import connections

    from migrail.lock import database_lock

    _refuse_unsafe(alias, config)  # before any connection is opened
    connection = connections[alias]
    started = time.monotonic()
    with database_lock(repo.migrail_dir / "locks", alias, connection):
        plan = plan_sync(repo, connection, options.from_rev, target)
        if target is not None:
            plan.apply = []  # the target's migrations are applied after the switch
        print(describe_plan(plan))
        if plan.missing_sources:
            names = ", ".join(f"{a}.{n}" for a, n in plan.missing_sources)
            raise SyncRefused(
                f"cannot find the source of {names} in any commit or in migrail's cache; "
                "nothing was changed. Pass the commit that has them with --from REV."
            )
        if plan.removed_apps:
            names = ", ".join(repr(app) for app in plan.removed_apps)
            raise SyncRefused(
                f"app {names} is gone from this checkout but its migrations are applied; "
                "migrail cannot unapply them without the app's code, so nothing was changed.\n"
                f"Ways out: check out {options.from_rev} again and run `python manage.py migrate "
                f"{plan.removed_apps[0]} zero` there (or use `migrail switch`, which rolls back "
                "before switching); or keep its tables and run `migrail sync` to go on."
            )
        if plan.irreversible:
            raise SyncRefused(
                "nothing was changed: these migrations cannot be unapplied:\n"
                + "\n".join(f"  - {line}" for line in plan.irreversible)
                + "\n"
                + WAYS_OUT
            )
        if options.dry_run:
            return EXIT_CLEAN if plan.in_step else EXIT_FINDINGS
        if plan.unapply or plan.squash_records:
            if options.backup:
                _backup(repo, config, alias, connection)
            _unapply(plan, connection)
        if target is not None:
            return EXIT_CLEAN
        for app, name in plan.apply:
            print(f"  + applying {app}.{name}")
        _migrate_forward(alias)
        remember_applied_sources(repo, connection)
    print(
        f"migrail: database {alias!r} matches the working tree ({time.monotonic() - started:.2f}s)"
    )
    return EXIT_CLEAN


@dataclass(frozen=True)
class Target:
    """The migrations the database should keep when they are not the working tree's (switch)."""

    keys: frozenset[Key]
    apps: frozenset[str]


def static_target(repo: GitRepo, config: Config, rev: str) -> Target:
    """A commit's migrations, read statically from git objects."""
    from migrail.lint import load_packages
    from migrail.sources import Commit

    keys: set[Key] = set()
    for package in load_packages(repo, Commit(repo, rev), config):
        for migration_file in package.migrations.values():
            keys.add((package.label, migration_file.name))
            if migration_file.migration is not None:
                keys |= {(r.app, r.name) for r in migration_file.migration.replaces}
    return Target(frozenset(keys), frozenset(app for app, _ in keys))


def plan_sync(
    repo: GitRepo, connection: Any, from_rev: str | None, target: Target | None = None
) -> SyncPlan:
    from django.db.migrations.recorder import MigrationRecorder

    recorder = MigrationRecorder(connection)
    applied: set[Key] = set(recorder.applied_migrations()) if recorder.has_table() else set()
    tree = load_migrations(connection)
    on_disk = set(tree.disk_migrations)
    if target is None:
        replaced = {key for m in tree.disk_migrations.values() for key in m.replaces}
        target = Target(frozenset(on_disk | replaced), frozenset(tree.migrated_apps))
    gone = applied - target.keys
    candidates = sorted(k for k in gone if k[0] in tree.migrated_apps | target.apps)
    not_installed = sorted(
        {k[0] for k in gone} - tree.migrated_apps - set(tree.unmigrated_apps) - target.apps
    )
    sources, missing = find_sources(
        repo, tree, [k for k in candidates if k not in on_disk], from_rev
    )
    orphans = []
    squash_records: dict[Key, Key] = {}
    for key in candidates:
        if key in on_disk:
            replaces = list(tree.disk_migrations[key].replaces)
        else:
            parsed = parse_migration(sources[key]) if key in sources else None
            replaces = (
                [(r.app, r.name) for r in parsed.replaces]
                if isinstance(parsed, ParsedMigration)
                else []
            )
        if replaces and set(replaces) <= target.keys:
            continue  # a squash's record; the migrations it replaces are kept
        if replaces:
            # Unapplying the squash would undo what it replaces, kept ones included;
            # the replaced migrations the target lacks are orphans of their own.
            squash_records[key] = replaces[-1]
            continue
        orphans.append(key)
    squash_records |= _squashes_depended_on(repo, tree, orphans, sources, from_rev)
    plan = SyncPlan(
        alias=connection.alias,
        vendor=connection.vendor,
        orphans=orphans,
        unapply=[],
        apply=[],
        sources={
            k: _point_past_squashes(v, squash_records) for k, v in sources.items() if k in orphans
        },
        missing_sources=[k for k in missing if k in orphans],
        not_installed=not_installed,
        squash_records=sorted(squash_records),
    )
    if from_rev and not_installed:
        before = static_target(repo, _config_of(repo), from_rev)
        plan.removed_apps = [app for app in not_installed if app in before.apps]
    if orphans and not plan.missing_sources:
        with materialised(tree, plan.sources):
            rollback = load_migrations(connection)
            for orphan in orphans:
                if orphan not in rollback.graph.nodes:
                    raise MigrailError(
                        f"{orphan[0]}.{orphan[1]} is applied but Django's loader does not place it "
                        "in the graph once its source is restored; nothing was changed"
                    )
                for key in rollback.graph.backwards_plan(orphan):
                    if key in rollback.applied_migrations and key not in plan.unapply:
                        plan.unapply.append(key)
            for key in plan.unapply:
                migration = rollback.graph.nodes[key]
                plan.drops[key] = [_undo(op, key[0]) for op in migration.operations]
                plan.irreversible += [
                    f"{key[0]}.{key[1]}: {op.describe()} (operation {number}) is not reversible"
                    for number, op in enumerate(migration.operations, 1)
                    if not op.reversible
                ]
    for app, name in tree.graph.leaf_nodes():
        plan.tree_leaves.setdefault(app, []).append(name)
    for app, name in sorted(applied):
        plan.last_applied[app] = name  # by name: the order migrations are numbered in
    # The loader's view: a squash counts as applied when all it replaces is.
    remaining = (applied | set(tree.applied_migrations)) - set(plan.unapply)
    plan.apply = [key for key, backwards in _forward_plan(tree, remaining) if not backwards]
    return plan


def load_migrations(connection: Any) -> Any:
    """Django's `MigrationLoader`, its errors turned into one message."""
    from django.db.migrations.loader import MigrationLoader

    try:
        return MigrationLoader(connection, ignore_no_migrations=True)
    except Exception as err:
        raise MigrailError(
            f"Django cannot load the migrations: {type(err).__name__}: {err}"
        ) from err


def _squashes_depended_on(
    repo: GitRepo, tree: Any, orphans: list[Key], sources: dict[Key, bytes], from_rev: str | None
) -> dict[Key, Key]:
    """Squashes the orphans depend on that neither the tree nor the orphans provide.

    A squash made on a branch and never migrated has no record of its own, but
    the migrations after it depend on it.
    """
    wanted = set()
    for key in orphans:
        parsed = parse_migration(sources[key]) if key in sources else None
        if isinstance(parsed, ParsedMigration):
            wanted |= {(d.app, d.name) for d in parsed.dependencies if d.swappable_setting is None}
    wanted = {
        k
        for k in wanted
        if k[0] in tree.migrated_apps
        and k not in tree.disk_migrations
        and k not in sources
        and not k[1].startswith("__")
    }
    found, _ = find_sources(repo, tree, sorted(wanted), from_rev)
    squashes = {}
    for key, data in found.items():
        parsed = parse_migration(data)
        if isinstance(parsed, ParsedMigration) and parsed.replaces:
            squashes[key] = (parsed.replaces[-1].app, parsed.replaces[-1].name)
    return squashes


def _point_past_squashes(source: bytes, squash_records: dict[Key, Key]) -> bytes:
    """In a temporary copy, depend on a squash's last replaced migration instead of the squash."""
    for (_, name), (_, last) in squash_records.items():
        for quote in (b"'", b'"'):
            source = source.replace(quote + name.encode() + quote, quote + last.encode() + quote)
    return source


def _config_of(repo: GitRepo) -> Config:
    from migrail.config import load_config

    return load_config(repo.root)


def _forward_plan(tree: Any, applied: set[Key]) -> list[tuple[Key, bool]]:
    plan = []
    seen: set[Key] = set()
    for leaf in tree.graph.leaf_nodes():
        for key in tree.graph.forwards_plan(leaf):
            if key not in applied and key not in seen:
                seen.add(key)
                plan.append((key, False))
    return plan


def find_sources(
    repo: GitRepo, tree: Any, keys: list[Key], from_rev: str | None
) -> tuple[dict[Key, bytes], list[Key]]:
    """Each orphan's source: from `from_rev`, else the source cache, else any commit with it."""
    found: dict[Key, bytes] = {}
    missing = []
    for key in keys:
        path = _migration_path(repo, tree, key)
        data = None
        if from_rev and path:
            data = _blob_at(repo, from_rev, path)
        if data is None:
            cached = repo.migrail_dir / "sources" / key[0] / f"{key[1]}.py"
            data = cached.read_bytes() if cached.is_file() else None
        if data is None and path:
            commits = (
                repo.run(
                    "log",
                    "--all",
                    "--reflog",
                    "--format=%H",
                    "--diff-filter=AM",
                    "-1",
                    "--",
                    path,
                    check=False,
                )
                .decode()
                .split()
            )
            data = _blob_at(repo, commits[0], path) if commits else None
        if data is None:
            missing.append(key)
        else:
            found[key] = data
    return found, missing


def _migration_path(repo: GitRepo, tree: Any, key: Key) -> str | None:
    module_name, _ = tree.migrations_module(key[0])
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    directory = Path(next(iter(module.__path__))).resolve()
    try:
        return (directory / f"{key[1]}.py").relative_to(repo.root.resolve()).as_posix()
    except ValueError:
        return None


def _blob_at(repo: GitRepo, rev: str, path: str) -> bytes | None:
    out = (
        repo.run("rev-parse", "--verify", "--quiet", f"{rev}:{path}", check=False).decode().strip()
    )
    return repo.read_blob(out) if out else None


@contextmanager
def materialised(tree: Any, sources: dict[Key, bytes]) -> Iterator[None]:
    """Point each orphan's app at a temporary package: the tree's files plus the orphans."""
    from django.conf import settings

    original = getattr(settings, "MIGRATION_MODULES", {})
    directory = Path(tempfile.mkdtemp(prefix="migrail-rollback-"))
    modules = {}
    try:
        for app in sorted({app for app, _ in sources}):
            module_name, _ = tree.migrations_module(app)
            package = f"_migrail_rollback_{app}"
            target = directory / package
            source_dir = Path(next(iter(importlib.import_module(module_name).__path__)))
            shutil.copytree(source_dir, target, ignore=shutil.ignore_patterns("__pycache__"))
            for (orphan_app, name), data in sources.items():
                if orphan_app == app:
                    (target / f"{name}.py").write_bytes(data)
            modules[app] = package
        sys.path.insert(0, str(directory))
        settings.MIGRATION_MODULES = {**original, **modules}
        yield
    finally:
        settings.MIGRATION_MODULES = original
        if str(directory) in sys.path:
            sys.path.remove(str(directory))
        for name in [m for m in sys.modules if m.startswith("_migrail_rollback_")]:
            del sys.modules[name]
        shutil.rmtree(directory, ignore_errors=True)


def _undo(operation: Any, app: str) -> str:
    kind = type(operation).__name__
    if kind == "CreateModel":
        table = operation.options.get("db_table") or f"{app}_{operation.name_lower}"
        return f"drops table {table}"
    if kind == "AddField":
        return f"drops column {operation.name} of {app}.{operation.model_name}"
    return f"undoes: {operation.describe()}"


def _unapply(plan: SyncPlan, connection: Any) -> None:
    from django.db import transaction
    from django.db.migrations.executor import MigrationExecutor

    tree = _tree_loader(connection)
    with materialised(tree, plan.sources):
        executor = MigrationExecutor(connection)
        steps = [(executor.loader.graph.nodes[key], True) for key in plan.unapply]
        atomic = connection.features.can_rollback_ddl and all(m.atomic for m, _ in steps)
        for key in plan.unapply:
            print(f"  - unapplying {key[0]}.{key[1]}")
        try:
            if not atomic:
                # MySQL/MariaDB: per migration, so a re-run resumes where this stopped.
                _run_backwards(executor, steps, plan.squash_records)
                return
            # One transaction, records included: Django alone commits each schema change
            # before deleting its django_migrations row.
            if connection.vendor == "sqlite":
                connection.disable_constraint_checking()
            try:
                with transaction.atomic(using=connection.alias):
                    _run_backwards(executor, steps, plan.squash_records)
            finally:
                if connection.vendor == "sqlite":
                    connection.enable_constraint_checking()
        except MigrailError:
            raise
        except Exception as err:
            where = "nothing was changed" if atomic else "re-run `migrail sync` to go on"
            raise MigrailError(f"unapplying failed ({where}): {type(err).__name__}: {err}") from err


def _run_backwards(executor: Any, steps: list[tuple[Any, bool]], squash_records: list[Key]) -> None:
    if steps:
        executor.migrate([], plan=steps)
    for app, name in squash_records:
        executor.recorder.record_unapplied(app, name)


def _tree_loader(connection: Any) -> Any:
    return load_migrations(connection)


def _migrate_forward(alias: str) -> None:
    from django.core.management import call_command

    call_command("migrate", database=alias, interactive=False, verbosity=0)


def _backup(repo: GitRepo, config: Config, alias: str, connection: Any) -> None:
    from migrail.backup import take_backup

    backup = take_backup(
        repo.migrail_dir / "backups",
        alias,
        connection.vendor,
        connection.settings_dict,
        config.backups_kept,
    )
    print(f"migrail: backed up database {alias!r} to {backup.path}")


def remember_applied_sources(repo: GitRepo, connection: Any) -> None:
    """Keep the source of every applied migration, so a rollback works after its branch is gone."""
    from django.db.migrations.recorder import MigrationRecorder

    tree = _tree_loader(connection)
    applied = set(MigrationRecorder(connection).applied_migrations())
    for key in applied & set(tree.disk_migrations):
        module = sys.modules.get(type(tree.disk_migrations[key]).__module__)
        source = Path(getattr(module, "__file__", "") or "")
        if source.suffix != ".py" or not source.is_file():
            continue
        try:
            source.resolve().relative_to(repo.root.resolve())
        except ValueError:
            continue  # third-party: its source does not come and go with branches
        cached = repo.migrail_dir / "sources" / key[0] / f"{key[1]}.py"
        data = source.read_bytes()
        if not cached.is_file() or cached.read_bytes() != data:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_bytes(data)


def describe_plan(plan: SyncPlan) -> str:
    lines = [
        f"migrail: database {plan.alias!r} ({plan.vendor}): "
        f"{len(plan.unapply)} to unapply, {len(plan.apply)} to apply"
    ]
    for key in plan.unapply:
        lines.append(f"  - {key[0]}.{key[1]}")
        lines += [f"      {drop}" for drop in plan.drops.get(key, [])]
    lines += [f"  + {a}.{n}" for a, n in plan.apply]
    lines += [
        f"  note: app {app!r} has applied migrations but is not installed; left alone"
        for app in plan.not_installed
    ]
    return "\n".join(lines)


def describe_status(plan: SyncPlan) -> str:
    state = "matches the working tree" if plan.in_step else "is out of step"
    lines = [f"migrail: database {plan.alias!r} ({plan.vendor}) {state}"]
    touched = sorted(
        {app for app, _ in [*plan.orphans, *plan.unapply, *plan.apply, *plan.missing_sources]}
    )
    for app in touched:
        leaves = ", ".join(plan.tree_leaves.get(app, [])) or "none (app not in the tree)"
        lines.append(
            f"  {app}: tree leaf {leaves}; last applied {plan.last_applied.get(app, 'none')}"
        )
        lines += [
            f"    orphan (applied, not in the tree): {a}.{n}" for a, n in plan.orphans if a == app
        ]
        lines += [f"    would unapply: {a}.{n}" for a, n in plan.unapply if a == app]
        lines += [f"    would apply: {a}.{n}" for a, n in plan.apply if a == app]
        lines += [f"    source not found: {a}.{n}" for a, n in plan.missing_sources if a == app]
    lines += [f"  cannot unapply: {line}" for line in plan.irreversible]
    lines += [
        f"  app {app!r} was removed by the checkout; its migrations are applied"
        for app in plan.removed_apps
    ]
    return "\n".join(lines)
