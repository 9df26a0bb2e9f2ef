"""A new linked worktree's database: a copy of the main worktree's, or an empty one.

The copy is the snapshot engines' (`SnapshotSteps`): PostgreSQL `CREATE DATABASE …
TEMPLATE` (which needs nobody connected to the main database: a dev server there makes
it refuse, and the worktree gets an empty database, migrated), MySQL/MariaDB tables
copied one by one (a dev server does not block it), SQLite the online backup API (nor
here). It runs under the main database's sync lock, so it never copies a sync halfway.
A copy that cannot be made is said in one line, and an empty database is made instead:
the sync that follows migrates it, as `migrate` would.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrail.engines import find_engine
from migrail.engines.base import SnapshotSteps
from migrail.errors import MigrailError
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sync.identity import identity_of
from migrail.sync.settings import project_directory
from migrail.worktree_names import LinkedWorktree, is_sqlite, main_databases
from migrail.worktrees import WORKTREES_DIRECTORY
from migrail.worktrees.catalogue import (
    COPIED,
    COPYING,
    EMPTY,
    FOUND,
    WorktreeCatalogue,
    WorktreeDatabase,
)

NOT_WRAPPED = (
    "settings do not give this worktree a database of its own (wrap them: "
    "`DATABASES = migrail.per_worktree(DATABASES)`, see docs/worktrees.md)"
)


@dataclass(frozen=True)
class Named:
    """A database by its name, as the engines' steps read a snapshot's."""

    object_name: str


class ByPath:
    """The engines' store for names that are already SQLite paths."""

    def file_for(self, snapshot: Any) -> Path:
        return Path(snapshot.object_name)


@dataclass(frozen=True)
class Made:
    """One alias's database for the new worktree, and the line that says what was done."""

    alias: str
    copied: bool
    line: str
    shared: bool = False  # the settings give this worktree the main worktree's database


def catalogue(repo: GitRepo) -> WorktreeCatalogue:
    return WorktreeCatalogue(repo.migrail_dir / WORKTREES_DIRECTORY)


def main_settings_of(alias: str, linked: LinkedWorktree) -> dict[str, Any] | None:
    """The main worktree's settings of `alias`, a relative SQLite NAME anchored in the main
    worktree's project directory; None when settings do not call `per_worktree`."""
    recorded = main_databases().get(alias)
    if recorded is None:
        return None
    main = dict(recorded)
    name = str(main.get("NAME") or "")
    if is_sqlite(main) and name and not os.path.isabs(name) and linked.main_root:
        project = project_directory().resolve()
        try:
            inside = project.relative_to(Path(linked.root).resolve())
        except ValueError:
            inside = Path()
        main["NAME"] = str(Path(linked.main_root) / inside / name)
    return main


@contextmanager
def database_steps(connection: Any, live: str) -> Iterator[SnapshotSteps]:
    """The engine's steps, on a server cursor of their own, `live` the database copied."""
    engine = find_engine(connection.vendor)
    if engine is None:
        raise MigrailError(f"migrail makes no worktree databases of {connection.vendor} databases")
    connection.close()
    with engine.snapshot_steps(connection, live, ByPath()) as steps:
        yield steps


def make_database(
    repo: GitRepo, config: Config, alias: str, linked: LinkedWorktree, *, keep: bool = False
) -> Made:
    """Copy the main worktree's database of `alias` into this worktree's (Django set up
    with this worktree's settings, which `refuse_unsafe` has let through). `keep`
    (`migrail worktree init`): a database already there is left as it is, whoever made it."""
    from django.conf import settings
    from django.db import connections

    from migrail.sync.lock import file_lock

    live = settings.DATABASES[alias]
    main = main_settings_of(alias, linked)
    target = str(live.get("NAME") or "")
    if main is None or str(main.get("NAME") or "") == target:
        return Made(
            alias,
            False,
            f"migrail: database {alias!r}: {NOT_WRAPPED}; it is the main worktree's, "
            "so it is not synced here",
            shared=True,
        )
    source = str(main["NAME"])
    connection = connections[alias]
    here = identity_of(alias, connection.vendor, live)
    there = identity_of(alias, connection.vendor, main)
    store = catalogue(repo)
    locks = repo.migrail_dir / "locks"
    with file_lock(locks, alias, there.key), database_steps(connection, source) as steps:
        if steps.exists(Named(target)):
            earlier = store.find(linked.name)
            ours = earlier is not None and any(
                d.made and d.identity == here.as_json() for d in earlier.databases
            )
            if not ours:
                found = WorktreeDatabase(alias, here.as_json(), there.as_json(), FOUND)
                store.note(linked.name, linked.root, found)
            if not ours or keep:
                who = "" if ours else " and migrail did not make it"
                return Made(
                    alias,
                    False,
                    f"migrail: database {alias!r}: {target!r} exists already{who}; it is left as "
                    "it is and synced",
                )
            steps.run(["drop", target])  # left by a removed worktree of the same name
        record = WorktreeDatabase(alias, here.as_json(), there.as_json(), COPYING)
        store.note(linked.name, linked.root, record)
        started = time.monotonic()
        why = _copy(steps, source, target)
        took = time.monotonic() - started
        if why is not None:
            steps.run(["create", target, source])
        state = EMPTY if why else COPIED
        store.note(
            linked.name,
            linked.root,
            WorktreeDatabase(alias, here.as_json(), there.as_json(), state),
        )
    if why:
        return Made(
            alias,
            False,
            f"migrail: database {alias!r}: no copy of the main worktree's {source!r} ({why}); "
            f"{target!r} is made empty and migrated",
        )
    return Made(
        alias,
        True,
        f"migrail: database {alias!r}: {target!r} is a copy of the main worktree's {source!r} "
        f"({took:.2f}s)",
    )


def _copy(steps: SnapshotSteps, source: str, target: str) -> str | None:
    """Copy `source` into `target`; None, or why no copy was made (nothing left behind)."""
    if not steps.exists(Named(source)):
        return "it does not exist"
    refused = steps.refusal(terminate_others=False)
    if refused:
        return refused
    try:
        steps.run(["copy", source, target])
    except Exception as err:
        steps.run(["drop", target])
        return f"{type(err).__name__}: {err}".strip()
    return None
