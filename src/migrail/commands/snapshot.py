"""`migrail snapshot list|save|drop|prune|restore`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from migrail.errors import EXIT_CLEAN, MigrailError
from migrail.snapshots.branches import (
    applied_leaves,
    branch_exists,
    current_branch,
    database_engine,
    drop_snapshot,
    holding,
    label,
    snapshot_to_save,
)
from migrail.snapshots.catalogue import (
    dropped_beyond_kept,
    former_names,
    listed_names,
    live_owner,
    prune_beyond_kept,
)
from migrail.snapshots.steps import Engine, run_journalled
from migrail.snapshots.store import (
    Snapshot,
    SnapshotStore,
    describe_age,
    describe_size,
)
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sync.identity import DatabaseIdentity
from migrail.sync.rollback_safety import back_up


def run(action: str, name: str | None, database: str | None) -> int:
    """The command line's `migrail snapshot ACTION`."""
    from migrail.sources.config import load_config
    from migrail.sync.errors import database_errors

    with database_errors():
        repo = GitRepo.discover()
        return run_snapshot_command(repo, load_config(repo.root), action, name, database)


@dataclass(frozen=True)
class Held:
    """One database, locked, its engine open: what an action works on."""

    repo: GitRepo
    config: Config
    alias: str
    engine: Engine
    identity: DatabaseIdentity
    store: SnapshotStore
    leaves: dict[str, str]  # its last applied migrations (`save` and `restore` only)

    def snapshots(self) -> list[Snapshot]:
        return self.store.all(self.identity)

    def refuse_copy(self, refused_as: str) -> None:
        """What the engine refuses to copy now (a session in a PostgreSQL database)."""
        refused = self.engine.refusal(terminate_others=self.config.snapshot_terminate_sessions)
        if refused:
            raise MigrailError(f"{refused_as} database {self.alias!r}: {refused}")

    def chosen(self, name: str | None) -> Snapshot:
        """The snapshot named `name`, which must exist."""
        chosen = [s for s in self.snapshots() if s.branch == name]
        if not chosen and name and len(name) >= 7:  # a detached HEAD's, by its short commit
            chosen = [s for s in self.snapshots() if s.detached and s.branch.startswith(name)]
        if not chosen and name:  # saved before `git branch -m`, not relabelled yet
            former = set(former_names(self.repo, name))
            chosen = [s for s in self.snapshots() if not s.named and s.branch in former]
        if not chosen:
            raise MigrailError(
                f"no snapshot of {name!r} for database {self.alias!r}; "
                "`migrail snapshot list` shows them"
            )
        return chosen[0]


def run_snapshot_command(
    repo: GitRepo, config: Config, action: str, name: str | None, database: str | None
) -> int:
    from django.db import connections

    from migrail.sync.settings import database_aliases, setup_django

    setup_django(repo.root, config)
    for alias in database_aliases(config, database):
        changes = action in ("save", "restore")
        with database_engine(repo, config, alias, recover=changes, read_only=action == "list") as (
            engine,
            identity,
            store,
        ):
            leaves = applied_leaves(connections[alias]) if changes else {}
            connections[alias].close()  # PostgreSQL copies a database nobody is in
            ACTIONS[action](Held(repo, config, alias, engine, identity, store, leaves), name)
    return EXIT_CLEAN


def list_snapshots(held: Held, name: str | None) -> None:
    """`snapshot list`: the snapshots of the database, with sizes and ages."""
    for path in held.store.unreadable():
        print(
            f"migrail: {path} is no snapshot record migrail can read; whatever it "
            "described is left as it is (remove the file once you have looked)"
        )
    snapshots = held.snapshots()
    if not snapshots:
        print(f"migrail: no snapshots of database {held.identity.labelled()}")
        return
    print(f"database {held.identity.labelled()}:")
    sizes = [describe_size(held.engine.size(s)) for s in snapshots]
    places = [held.engine.place(s) for s in snapshots]
    ours = first_party_apps(held.repo.root)
    names = listed_names(held.repo, snapshots)
    for line in listing_table(snapshots, sizes, ours, time.time(), names=names, places=places):
        print(f"  {line}")


def save(held: Held, name: str | None) -> None:
    """`snapshot save [NAME]`: the database as the snapshot of NAME (else this branch)."""
    repo, store, identity = held.repo, held.store, held.identity
    branch = name or current_branch(repo)
    held.refuse_copy("no snapshot of")
    commit, synced = holding(store, identity, repo.resolve("HEAD"), held.leaves)
    snapshot = snapshot_to_save(
        repo,
        store,
        identity,
        branch,
        commit=commit,
        leaves=held.leaves,
        synced=synced,
        prefix=held.config.snapshot_prefix,
    )
    if name is not None and not branch_exists(repo, name):
        snapshot = replace(snapshot, named=True)  # kept until dropped by name
    run_journalled(held.engine, store, identity, held.engine.save_steps(snapshot), record=snapshot)
    print(
        f"migrail: saved database {held.alias!r} as the snapshot of {label(snapshot)} "
        f"({describe_size(held.engine.size(snapshot))})"
        + (
            f"; no branch is named so: only `migrail snapshot drop {name}` removes it"
            if snapshot.named
            else ""
        )
    )


def drop(held: Held, name: str | None) -> None:
    """`snapshot drop NAME`."""
    drop_snapshot(held.engine, held.store, held.identity, held.chosen(name))
    print(f"migrail: dropped the snapshot of {name!r} (database {held.alias!r})")


def restore(held: Held, name: str | None) -> None:
    """`snapshot restore NAME`: the database becomes a copy of the snapshot (which is kept)."""
    from django.db import connections

    repo, engine, store, identity = held.repo, held.engine, held.store, held.identity
    chosen = held.chosen(name)
    held.refuse_copy("cannot restore")
    here = current_branch(repo)
    owner = live_owner(repo, store, identity, here)
    if owner is not None and owner != here:
        # A switch that did not swap left another branch's data live: it is kept
        # as that branch's snapshot, as the next switch would have kept it.
        save_owners_data(
            repo,
            engine,
            store,
            identity,
            owner=owner,
            leaves=held.leaves,
            prefix=held.config.snapshot_prefix,
        )
    else:
        back_up_live(repo, held.config, connections[held.alias])  # the copy replaces it
    run_journalled(engine, store, identity, engine.restore_copy_steps(chosen))
    store.clear_unsynced(identity)  # the live database is another one now
    store.clear_exact(identity)
    store.set_owner(identity, here)  # its data is this branch's from now on
    sync = (
        "`migrail sync`"
        if chosen.synced or not chosen.commit
        else f"`migrail sync --from {chosen.commit[:12]}`"
    )
    print(
        f"migrail: database {held.alias!r} is now a copy of the snapshot of {name!r} "
        f"(commit {chosen.commit[:12]}); run {sync} to bring it to this checkout's migrations"
    )


def prune(held: Held, name: str | None) -> None:
    """`snapshot prune`: follow renamed branches, drop gone ones' and beyond snapshots_kept."""
    repo, store, identity = held.repo, held.store, held.identity
    renamed = renames(repo)
    for snapshot in held.snapshots():
        if not snapshot.named and snapshot.branch in renamed:
            store.record(replace(snapshot, branch=renamed[snapshot.branch]))
            print(
                f"migrail: the snapshot of {snapshot.branch!r} is "
                f"now the snapshot of {renamed[snapshot.branch]!r} (the branch was renamed)"
            )
        elif not snapshot.named and not branch_exists(repo, snapshot.branch):
            drop_snapshot(held.engine, store, identity, snapshot)
            why = "a detached HEAD's" if snapshot.detached else "its branch is gone"
            print(
                f"migrail: dropped the snapshot of {snapshot.shown_name!r} "
                f"(database {held.alias!r}): {why}"
            )
    kept = held.config.snapshots_kept
    for snapshot in prune_beyond_kept(repo, held.engine, store, identity, kept):
        print(dropped_beyond_kept(snapshot, held.alias, kept))


ACTIONS: dict[str, Callable[[Held, str | None], None]] = {
    "list": list_snapshots,
    "save": save,
    "drop": drop,
    "prune": prune,
    "restore": restore,
}


LISTING_HEADERS = ("SNAPSHOT", "KIND", "COMMIT", "SYNCED", "SIZE", "AGE", "APPLIED", "DATABASE")


def listing_table(
    snapshots: list[Snapshot],
    sizes: list[str],
    first_party: frozenset[str],
    now: float,
    *,
    names: list[str],
    places: list[str],
) -> list[str]:
    """A header line and one line per snapshot (called by `names`), columns aligned; the size
    right-aligned.

    APPLIED names the last applied migration of the project's own apps only (contrib and
    installed apps are the same on every branch); DATABASE the database, schema or file
    that holds the copy.
    """
    rows = [LISTING_HEADERS] + [
        (
            name,
            "named (kept)" if snapshot.named else "detached" if snapshot.detached else "branch",
            snapshot.commit[:12] or "?",
            "yes" if snapshot.synced else "no",
            size,
            describe_age(snapshot.created, now),
            ", ".join(f"{a}.{n}" for a, n in sorted(snapshot.leaves.items()) if a in first_party)
            or "-",
            place,
        )
        for snapshot, name, size, place in zip(snapshots, names, sizes, places, strict=True)
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(LISTING_HEADERS))]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        cells[4] = row[4].rjust(widths[4])
        lines.append("  ".join(cells).rstrip())
    return lines


def first_party_apps(root: Path) -> frozenset[str]:
    """Labels of the installed apps whose code lives in the work tree (not contrib, not
    a package installed into site-packages)."""
    from django.apps import apps

    root = root.resolve()
    labels = set()
    for app in apps.get_app_configs():
        path = Path(app.path).resolve()
        inside = path == root or root in path.parents
        if inside and not {"site-packages", "dist-packages"} & set(path.parts):
            labels.add(app.label)
    return frozenset(labels)


def back_up_live(repo: GitRepo, config: Config, connection: Any) -> None:
    """Before `snapshot restore` replaces the database: a backup, as sync takes before a
    rollback, that `migrail restore NAME` brings back."""
    backup = back_up(repo, config, connection, None)
    connection.close()  # PostgreSQL copies a database nobody is in
    print(
        f"migrail: backed up database {connection.alias!r} to {backup.path}; "
        f"`migrail restore {backup.name}` brings it back"
    )


def save_owners_data(
    repo: GitRepo,
    engine: Engine,
    store: SnapshotStore,
    identity: DatabaseIdentity,
    *,
    owner: str,
    leaves: dict[str, str],
    prefix: str = "",
) -> None:
    """Save the live database as the snapshot of `owner`, the branch whose data it holds."""
    tip = repo.run("rev-parse", "--verify", "--quiet", f"refs/heads/{owner}", check=False)
    commit, synced = holding(store, identity, tip.decode().strip() or repo.resolve("HEAD"), leaves)
    snapshot = snapshot_to_save(
        repo, store, identity, owner, commit=commit, leaves=leaves, synced=synced, prefix=prefix
    )
    run_journalled(engine, store, identity, engine.save_steps(snapshot), record=snapshot)
    print(
        f"migrail: saved database {identity.alias!r} as the snapshot of {label(snapshot)} (it "
        f"held the data of {owner!r}); a switch to {owner!r} brings it back"
    )


def renames(repo: GitRepo) -> dict[str, str]:
    """Former branch names → the local branch each is called now (`git branch -m`)."""
    out = repo.run("for-each-ref", "--format=%(refname:short)", "refs/heads/").decode()
    found: dict[str, str] = {}
    for branch in out.split():
        for old in former_names(repo, branch):
            if not branch_exists(repo, old):
                found.setdefault(old, branch)
    return found
