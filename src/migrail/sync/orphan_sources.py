"""Where an orphan's source comes from, and how Django's loader is shown it.

An orphan is an applied migration the working tree lacks. Its source comes
from `--from REV` (the hooks pass the previous HEAD), else migrail's cache of
sources seen applied, else any commit reachable from refs or the reflog. It is
written to a temporary package outside the working tree, which
`MIGRATION_MODULES` points the app at while Django loads the graph.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from migrail.graph.parser import Key, ParsedMigration, parse_migration
from migrail.sources.gitrepo import GitRepo
from migrail.sources.trees import read_at
from migrail.sync.private_files import private_directory, write_private_bytes

ROLLBACK_PACKAGE_PREFIX = "_migrail_rollback_"


def find_sources(
    repo: GitRepo,
    tree: Any,
    keys: list[Key],
    from_rev: str | None,
    *,
    code_root: Path | None = None,
) -> tuple[dict[Key, bytes], list[Key]]:
    """Each orphan's source: from `from_rev`, else the source cache, else any commit with it.

    `code_root`: where the loaded code lives (an older commit's tree, outside the work tree).
    """
    found: dict[Key, bytes] = {}
    missing = []
    for key in keys:
        path = _migration_path(code_root or repo.root, tree, key)
        data = None
        if from_rev and path:
            data = read_at(repo, from_rev, path)
        if data is None:
            data = read_applied_copy(repo, key)
        if data is None and path:
            commit = _last_commit_with(repo, path)
            data = read_at(repo, commit, path) if commit else None
        if data is None:
            missing.append(key)
        else:
            found[key] = data
    return found, missing


def commit_with(repo: GitRepo, tree: Any, key: Key, *, code_root: Path | None = None) -> str | None:
    """The commit whose code most likely applied `key`: the newest that has its file among
    where HEAD has been (newest first), then the branches' and tags' tips (newest first),
    then the last commit anywhere that added or changed it. Not merely the commit that
    last changed the file: a branch's later commits may change what its migrations import."""
    path = _migration_path(code_root or repo.root, tree, key)
    if path is None:
        return None
    visited = repo.run("log", "--walk-reflogs", "--format=%H", "-n", "100", "HEAD", check=False)
    tips = repo.run(
        "for-each-ref", "--sort=-committerdate", "--format=%(objectname)", "refs/", check=False
    )
    candidates = list(dict.fromkeys(visited.decode().split() + tips.decode().split()))
    if candidates:
        asked = "".join(f"{commit}:{path}\n" for commit in candidates).encode()
        answers = repo.run("cat-file", "--batch-check", stdin=asked, check=False).decode()
        for commit, answer in zip(candidates, answers.splitlines(), strict=False):
            if not answer.endswith(" missing") and " blob " in answer:
                return commit
    return _last_commit_with(repo, path)


def _last_commit_with(repo: GitRepo, path: str) -> str | None:
    commits = (
        repo.run(
            "log",
            "--all",
            "--reflog",
            "-m",  # a file a merge added (say, renamed by `migrail rebase`) counts
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
    return commits[0] if commits else None


def _migration_path(root: Path, tree: Any, key: Key) -> str | None:
    directory = migrations_directory(root, tree, key[0])
    return f"{directory}/{key[1]}.py" if directory is not None else None


def migrations_directory(root: Path, tree: Any, app: str) -> str | None:
    """`app`'s migrations package as a path relative to `root`; None outside it."""
    try:
        module_name, _ = tree.migrations_module(app)
    except LookupError:  # not installed in this code
        return None
    if module_name is None:
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    entries = list(getattr(module, "__path__", []))
    if not entries:
        return None
    try:
        return Path(entries[0]).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


@contextmanager
def materialised(
    tree: Any, sources: dict[Key, bytes], hidden: list[Key] | None = None
) -> Iterator[Path]:
    """Point each orphan's app at a temporary package: the tree's files plus the orphans,
    less the `hidden` ones."""
    from django.conf import settings

    original = getattr(settings, "MIGRATION_MODULES", {})
    directory = Path(tempfile.mkdtemp(prefix=f"migrail-rollback-{os.getpid()}-"))
    modules = {}
    try:
        for app in sorted({app for app, _ in [*sources, *(hidden or [])]}):
            module_name, _ = tree.migrations_module(app)
            package = f"{ROLLBACK_PACKAGE_PREFIX}{app}"
            target = directory / package
            source_dir = Path(next(iter(importlib.import_module(module_name).__path__)))
            shutil.copytree(source_dir, target, ignore=shutil.ignore_patterns("__pycache__"))
            for (orphan_app, name), data in sources.items():
                if orphan_app == app:
                    (target / f"{name}.py").write_bytes(data)
            for hidden_app, name in hidden or []:
                if hidden_app == app:
                    (target / f"{name}.py").unlink(missing_ok=True)
            modules[app] = package
        sys.path.insert(0, str(directory))
        settings.MIGRATION_MODULES = {**original, **modules}
        yield directory
    finally:
        settings.MIGRATION_MODULES = original
        if str(directory) in sys.path:
            sys.path.remove(str(directory))
        for name in [m for m in sys.modules if m.startswith(ROLLBACK_PACKAGE_PREFIX)]:
            del sys.modules[name]
        shutil.rmtree(directory, ignore_errors=True)


def remember_applied_sources(
    repo: GitRepo, connection: Any, tree: Any, keep: Collection[Key] = ()
) -> None:
    """Keep the source of every applied migration, so a rollback works after its branch is gone.

    `tree`: the working tree's loader (its files; what is applied is read again here).
    `keep`: migrations edited since they were applied, whose copy stays the applied one.
    """
    from django.db.migrations.recorder import MigrationRecorder

    records = MigrationRecorder(connection).applied_migrations()
    applied = set(records)
    for key in (applied & set(tree.disk_migrations)) - set(keep):
        source = migration_file(tree, key)
        if source is None:
            continue
        try:
            source.resolve().relative_to(repo.root.resolve())
        except ValueError:
            continue  # third-party: its source does not come and go with branches
        cached = applied_copy(repo, key)
        if not cached.is_file():
            private_directory(cached.parent.parent)
            write_private_bytes(private_directory(cached.parent) / cached.name, source.read_bytes())
        elif applied_at(records[key], missing=0.0) > cached.stat().st_mtime:
            # Applied (again) since the copy was taken: the file is what the database ran
            # now; the copy's time says so, and an edit after it is noticed.
            data = source.read_bytes()
            if cached.read_bytes() != data:
                write_private_bytes(cached, data)
            else:
                os.utime(cached)
        # Else applied before the copy: the copy is what the database ran, whatever this
        # commit's file says (an older or newer release's version of it).


def applied_at(record: Any, *, missing: float) -> float:
    """When the row was written (`missing` without a time); naive times are local, as Django
    writes them without USE_TZ."""
    from datetime import datetime

    applied = getattr(record, "applied", None)
    return applied.timestamp() if isinstance(applied, datetime) else missing


def applied_copy(repo: GitRepo, key: Key) -> Path:
    """Where migrail keeps the source of `key` as it was when a sync saw it applied."""
    return repo.migrail_dir / "sources" / key[0] / f"{key[1]}.py"


_DAMAGED_SAID: set[Path] = set()


def read_applied_copy(repo: GitRepo, key: Key) -> bytes | None:
    """migrail's copy of `key`, or None: none kept, or one that does not compile (damaged
    on disk, edited by hand), which is named once and then ignored, never run."""
    path = applied_copy(repo, key)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        compile(data, str(path), "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        if path not in _DAMAGED_SAID:
            _DAMAGED_SAID.add(path)
            print(
                f"migrail: {path} (migrail's copy of {key[0]}.{key[1]} as it was applied) does "
                "not compile; it is ignored (remove it)",
                file=sys.stderr,
            )
        return None
    return data


def migration_file(tree: Any, key: Key) -> Path | None:
    """The `.py` file the loader `tree` read `key` from, if it was one."""
    module = sys.modules.get(type(tree.disk_migrations[key]).__module__)
    path = Path(getattr(module, "__file__", "") or "")
    return path if path.suffix == ".py" and path.is_file() else None


def squashes_depended_on(
    repo: GitRepo,
    tree: Any,
    orphans: list[Key],
    sources: dict[Key, bytes],
    from_rev: str | None,
    *,
    code_root: Path | None = None,
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
    found, _ = find_sources(repo, tree, sorted(wanted), from_rev, code_root=code_root)
    squashes = {}
    for key, data in found.items():
        parsed = parse_migration(data)
        if isinstance(parsed, ParsedMigration) and parsed.replaces:
            squashes[key] = (parsed.replaces[-1].app, parsed.replaces[-1].name)
    return squashes


def point_past_squashes(source: bytes, squash_records: dict[Key, Key]) -> bytes:
    """In a temporary copy, depend on a squash's last replaced migration instead of the squash."""
    for (_, name), (_, last) in squash_records.items():
        for quote in (b"'", b'"'):
            source = source.replace(quote + name.encode() + quote, quote + last.encode() + quote)
    return source


def squash_history(
    repo: GitRepo, tree: Any, apps: Collection[str], *, code_root: Path | None = None
) -> dict[Key, frozenset[Key]]:
    """The migrations of `apps` that some commit wrote as squashes → what they replaced
    there, though their `replaces` may be gone now (a completed squash)."""
    from migrail.sources.squash_history import replaces_in_history

    directories = {}
    for app in sorted(apps):
        directory = migrations_directory(code_root or repo.root, tree, app)
        if directory is not None:
            directories[directory] = app
    found = replaces_in_history(repo, sorted(directories))
    squashes = {}
    for path, replaced in found.items():
        directory, _, filename = path.rpartition("/")
        if directory in directories:
            squashes[(directories[directory], filename.removesuffix(".py"))] = replaced
    return squashes


def dependents_as_applied(
    repo: GitRepo, tree: Any, orphans: Collection[Key], applied: Collection[Key]
) -> dict[Key, bytes]:
    """Applied migrations on disk that were applied depending on an orphan, as migrail kept
    them: the file now depends on something else (the orphan renamed, say), so only the
    applied copy puts them after the orphan, where the rollback must undo them first."""
    names = {name.encode() for _, name in orphans}
    found = {}
    for key in sorted(set(applied) & set(tree.disk_migrations)):
        if set(tree.disk_migrations[key].dependencies) & set(orphans):
            continue  # its file still puts it after the orphan: its own code is the one
        data = read_applied_copy(repo, key)
        if data is None:
            continue
        if not any(b"'" + n + b"'" in data or b'"' + n + b'"' in data for n in names):
            continue  # nearly always: no parse
        parsed = parse_migration(data)
        if isinstance(parsed, ParsedMigration) and {
            (d.app, d.name) for d in parsed.dependencies
        } & set(orphans):
            found[key] = data
    return found


def applied_dependencies(
    repo: GitRepo,
    tree: Any,
    sources: dict[Key, bytes],
    applied: Collection[Key],
    from_rev: str | None,
    *,
    code_root: Path | None = None,
) -> dict[Key, bytes]:
    """Applied migrations the restored sources depend on that the loaded code lacks (older
    code than the database's), found as orphans are: without them Django cannot place the
    orphans in its graph. They are put back in the graph only, never unapplied."""
    found: dict[Key, bytes] = {}
    frontier = dict(sources)
    for _ in range(100):  # a chain of missing parents, bounded
        wanted = set()
        for data in frontier.values():
            parsed = parse_migration(data)
            if isinstance(parsed, ParsedMigration):
                wanted |= {
                    (d.app, d.name) for d in parsed.dependencies if d.swappable_setting is None
                }
        wanted = {
            k
            for k in wanted
            if k in applied
            and k[0] in tree.migrated_apps
            and k not in tree.disk_migrations
            and k not in sources
            and k not in found
        }
        if not wanted:
            break
        frontier, _ = find_sources(repo, tree, sorted(wanted), from_rev, code_root=code_root)
        if not frontier:
            break
        found |= frontier
    return found
