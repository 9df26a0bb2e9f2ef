"""Branch switches with snapshots: save the branch left, restore the branch arrived at.

Called by the post-checkout hook and `migrail switch` before they sync; the sync that
follows applies what the branch gained since its snapshot and rolls back what a
rebase removed. Where no snapshot can be taken (a dev server holds a PostgreSQL
database open, views on MySQL), it says why and the switch rolls back as before.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from migrail.database.snapshot_engines import (
    Engine,
    SnapshotUnavailable,
    finish_journal,
    open_engine,
    run_journalled,
)
from migrail.database.snapshot_store import (
    Identity,
    Snapshot,
    SnapshotStore,
    identity_of,
    new_snapshot,
)
from migrail.errors import MigrailError
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo

SNAPSHOT_HINT = (
    "migrail: this rollback drops tables or columns that hold rows; to keep each branch's data "
    "instead, set `snapshots = true` in [tool.migrail]"
)
CHECKOUT_MESSAGE = re.compile(r"^checkout: moving from (.+) to (.+)$")


def snapshot_store(repo: GitRepo) -> SnapshotStore:
    return SnapshotStore(repo.migrail_dir / "snapshots")


@dataclass
class _FileLockOnly:
    """The lock's file half only: renames need every server connection closed."""

    settings_dict: dict[str, Any]
    vendor: str = "none"


@contextmanager
def database_engine(
    repo: GitRepo, config: Config, alias: str
) -> Iterator[tuple[Engine, Identity, SnapshotStore]]:
    """Refuse what sync would refuse, lock, finish an interrupted switch, open the engine."""
    from django.conf import settings
    from django.db import connections

    from migrail.database.lock import database_lock
    from migrail.database.safety import refusal

    settings_dict = settings.DATABASES[alias]
    reason = refusal(
        alias,
        settings_dict,
        debug=bool(settings.DEBUG),
        allow_remote=config.allow_remote_databases,
        allow_debug_false=config.allow_debug_false,
    )
    if reason:
        raise MigrailError(reason)
    connection = connections[alias]
    identity = identity_of(alias, connection.vendor, settings_dict)
    store = snapshot_store(repo)
    with (
        database_lock(repo.migrail_dir / "locks", alias, _FileLockOnly(settings_dict)),
        open_engine(connection, store) as engine,
    ):
        if finish_journal(engine, store, identity):
            print(f"migrail: finished an interrupted snapshot switch of database {alias!r}")
        yield engine, identity, store


def finish_interrupted(repo: GitRepo, config: Config) -> None:
    """Finish a park or un-park that a killed switch left half done (cheap when none was)."""
    if not snapshot_store(repo).has_journals():
        return
    from migrail.database.settings import database_aliases, setup_django

    setup_django(repo.root, config)
    for alias in database_aliases(config):
        with database_engine(repo, config, alias):
            pass


def current_branch(repo: GitRepo) -> str:
    """The branch checked out, or the commit of a detached HEAD."""
    name = repo.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False).decode().strip()
    return name or repo.run("rev-parse", "HEAD").decode().strip()


def branch_left(repo: GitRepo, previous: str) -> str:
    """The branch a checkout left, from the reflog's "checkout: moving from A to B"."""
    message = repo.run("reflog", "-n1", "--format=%gs", "HEAD", check=False).decode().strip()
    match = CHECKOUT_MESSAGE.match(message)
    if match is None:
        return repo.run("rev-parse", previous).decode().strip()
    left = match.group(1)
    if re.fullmatch(r"[0-9a-f]{7,40}", left) and not branch_exists(repo, left):
        return repo.run("rev-parse", previous).decode().strip()  # detached: the full commit
    return left


def branch_exists(repo: GitRepo, branch: str) -> bool:
    ref = f"refs/heads/{branch}"  # starts with "refs/": never read as an option
    return bool(repo.run("rev-parse", "--verify", "--quiet", ref, check=False).strip())


def applied_leaves(connection: Any) -> dict[str, str]:
    """The last applied migration of each app, by the order they were applied."""
    with connection.cursor() as cursor:
        if "django_migrations" not in connection.introspection.table_names(cursor):
            return {}
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
        return {app: name for app, name in cursor.fetchall()}


def arrive_after_checkout(repo: GitRepo, config: Config, previous: str) -> str | None:
    """post-checkout: save and restore, then the `--from` for sync (see `leave_and_arrive`)."""
    return leave_and_arrive(
        repo,
        config,
        left=branch_left(repo, previous),
        left_commit=repo.resolve(previous),
        arriving=current_branch(repo),
    )


def leave_and_arrive(
    repo: GitRepo,
    config: Config,
    *,
    left: str,
    left_commit: str,
    arriving: str | None,
    database: str | None = None,
) -> str | None:
    """Save each database as `left`'s snapshot; restore `arriving`'s where it has one.

    Returns sync's `--from`: the commit whose code applied the database's migrations now
    (the restored snapshot's, `left_commit` when none was restored), or None when that
    commit is gone (sync then finds sources in its cache and history).
    """
    from django.db import connections

    from migrail.database.settings import database_aliases, setup_django

    setup_django(repo.root, config)
    restored_at = None
    for alias in database_aliases(config, database):
        leaves = applied_leaves(connections[alias])
        try:
            with database_engine(repo, config, alias) as (engine, identity, store):
                refused = engine.refusal()
                if refused:
                    raise SnapshotUnavailable(refused)
                save_as = new_snapshot(identity, left, left_commit, leaves)
                started = time.monotonic()
                waiting = _usable(engine, store, identity, arriving) if arriving else None
                if waiting is not None and waiting.id != save_as.id:
                    steps = engine.swap_steps(save_as, waiting)
                    run_journalled(
                        engine, store, identity, steps, record=save_as, forget=[waiting.id]
                    )
                    print(
                        f"migrail: saved database {alias!r} as the snapshot of {left!r} and "
                        f"restored the snapshot of {arriving!r} (commit {waiting.commit[:12]}, "
                        f"{time.monotonic() - started:.2f}s)"
                    )
                    restored_at = waiting.commit
                else:
                    steps = engine.save_steps(save_as)
                    run_journalled(engine, store, identity, steps, record=save_as)
                    print(
                        f"migrail: saved database {alias!r} as the snapshot of {left!r}"
                        + (
                            f"; {arriving!r} has no snapshot, so it goes on from this database"
                            if arriving
                            else ""
                        )
                        + f" ({time.monotonic() - started:.2f}s)"
                    )
                prune_beyond_kept(engine, store, identity, config.snapshots_kept, keep=save_as.id)
        except SnapshotUnavailable as err:
            print(f"migrail: no snapshot of database {alias!r}: {err}; rolling back instead")
    if restored_at is None:
        return left_commit
    return restored_at if _commit_exists(repo, restored_at) else None


def status_line(repo: GitRepo, config: Config, alias: str) -> str | None:
    """For `migrail status`: which branches a switch would restore a snapshot for."""
    if not config.snapshots:
        return None
    from django.conf import settings
    from django.db import connections

    identity = identity_of(alias, connections[alias].vendor, settings.DATABASES[alias])
    branches = [s.branch for s in snapshot_store(repo).all(identity)]
    if not branches:
        return "  snapshots: on; none saved yet (the next switch saves this branch's)"
    return (
        "  snapshots: on; a switch to "
        + ", ".join(repr(b) for b in branches)
        + " restores its snapshot; to any other branch, it saves this one and goes on"
    )


def _usable(
    engine: Engine, store: SnapshotStore, identity: Identity, branch: str
) -> Snapshot | None:
    snapshot = store.find(identity, branch)
    if snapshot is not None and not engine.exists(snapshot):
        store.forget([snapshot.id])  # its database was dropped by hand
        return None
    return snapshot


def _commit_exists(repo: GitRepo, commit: str) -> bool:
    proc = repo.run("cat-file", "-t", commit, check=False).decode().strip()
    return proc == "commit"


def prune_beyond_kept(
    engine: Engine, store: SnapshotStore, identity: Identity, kept: int, keep: str = ""
) -> list[Snapshot]:
    """Drop the oldest snapshots of this database beyond `kept` (never `keep`)."""
    snapshots = [s for s in store.all(identity) if s.id != keep]
    excess = len(snapshots) + (1 if keep else 0) - max(kept, 0)
    dropped = snapshots[: max(excess, 0)]
    for snapshot in dropped:
        drop_snapshot(engine, store, identity, snapshot)
    return dropped


def drop_snapshot(
    engine: Engine, store: SnapshotStore, identity: Identity, snapshot: Snapshot
) -> None:
    run_journalled(engine, store, identity, engine.drop_steps(snapshot), forget=[snapshot.id])


def holds_rows(connection: Any, tables: Iterable[str], columns: Iterable[tuple[str, str]]) -> bool:
    """Whether any of these tables, or the tables of these (table, column)s, has a row.

    Never waits on another session's table lock (a hint is not worth it; the backup that
    follows says so): a lock held longer than a second raises, and callers say "unknown".
    """
    with connection.cursor() as cursor:
        saved: Any = None
        if connection.vendor == "postgresql":
            cursor.execute("SET lock_timeout = '1s'")
        elif connection.vendor == "mysql":
            cursor.execute("SELECT @@SESSION.lock_wait_timeout")
            (saved,) = cursor.fetchone()
            cursor.execute("SET SESSION lock_wait_timeout = 1")
        try:
            return _any_row(connection, cursor, tables, columns)
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("RESET lock_timeout")
            elif connection.vendor == "mysql":
                cursor.execute("SET SESSION lock_wait_timeout = %s", [int(saved)])


def _any_row(
    connection: Any, cursor: Any, tables: Iterable[str], columns: Iterable[tuple[str, str]]
) -> bool:
    existing = set(connection.introspection.table_names(cursor))
    wanted = {t for t in tables if t in existing}
    for table, column in columns:
        if table in existing:
            names = {c.name for c in connection.introspection.get_table_description(cursor, table)}
            if column in names or f"{column}_id" in names:
                wanted.add(table)
    for table in sorted(wanted):
        cursor.execute(f"SELECT 1 FROM {connection.ops.quote_name(table)} LIMIT 1")
        if cursor.fetchone() is not None:
            return True
    return False


DROP_TABLE = re.compile(r"^drops table (\S+)$")
DROP_COLUMN = re.compile(r"^drops column (\S+) of (\w+)\.(\w+)$")


def plan_drops_hold_rows(connection: Any, drops: dict[Any, list[str]]) -> bool:
    """`holds_rows` for a `SyncPlan.drops` (its "drops table T" and "drops column C of a.m").

    False when the database cannot say: this only decides whether to print a hint.
    """
    from django.apps import apps

    tables: list[str] = []
    columns: list[tuple[str, str]] = []
    for lines in drops.values():
        for line in lines:
            if match := DROP_TABLE.match(line):
                tables.append(match.group(1))
            elif match := DROP_COLUMN.match(line):
                column, app, model = match.groups()
                try:
                    table = apps.get_model(app, model)._meta.db_table
                except LookupError:
                    table = f"{app}_{model}"
                columns.append((table, column))
    try:
        return holds_rows(connection, tables, columns)
    except Exception:  # a hint must never stop a sync
        return False


def switch_with_snapshots(
    repo: GitRepo, config: Config, branch: str, database: str | None
) -> int | None:
    """`migrail switch` with snapshots on; None when the usual rollback must follow.

    When every database has `branch`'s snapshot and can swap now, git switches first and
    the swap follows, as with the hooks; otherwise this branch's snapshot is saved and
    the usual rollback runs.
    """
    import os
    import subprocess
    import sys

    from migrail.database.settings import database_aliases, setup_django
    from migrail.errors import EXIT_FINDINGS

    setup_django(repo.root, config)
    left = current_branch(repo)
    left_commit = repo.resolve("HEAD")
    aliases = database_aliases(config, database)
    if not all(_can_restore(repo, config, alias, branch) for alias in aliases):
        leave_and_arrive(
            repo, config, left=left, left_commit=left_commit, arriving=None, database=database
        )
        return None
    env = {**os.environ, "MIGRAIL_SKIP": "1"}  # this command does what the hooks would
    if subprocess.run(["git", "switch", branch], cwd=repo.root, env=env).returncode != 0:
        print(f"migrail: git switch {branch} failed; nothing was changed", file=sys.stderr)
        return EXIT_FINDINGS
    from_rev = leave_and_arrive(
        repo, config, left=left, left_commit=left_commit, arriving=branch, database=database
    )
    forward = [sys.executable, "-m", "migrail", "sync"]
    forward += ["--from", from_rev] if from_rev else []
    if database:
        forward += ["--database", database]
    return subprocess.run(forward, cwd=repo.root).returncode


def _can_restore(repo: GitRepo, config: Config, alias: str, branch: str) -> bool:
    try:
        with database_engine(repo, config, alias) as (engine, identity, store):
            return engine.refusal() is None and _usable(engine, store, identity, branch) is not None
    except SnapshotUnavailable:
        return False
