"""`migrail snapshot list|save|drop|prune|restore`."""

from __future__ import annotations

import time

from migrail.database.branch_snapshots import (
    applied_leaves,
    branch_exists,
    current_branch,
    database_engine,
    drop_snapshot,
    holding,
    label,
    prune_beyond_kept,
)
from migrail.database.snapshot_engines import run_journalled
from migrail.database.snapshot_store import describe_age, describe_size, new_snapshot
from migrail.errors import EXIT_CLEAN, MigrailError
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo


def run_snapshot_command(
    repo: GitRepo, config: Config, action: str, name: str | None, database: str | None
) -> int:
    from django.db import connections

    from migrail.database.settings import database_aliases, setup_django

    setup_django(repo.root, config)
    for alias in database_aliases(config, database):
        changes = action in ("save", "restore")
        with database_engine(repo, config, alias, recover=changes) as (engine, identity, store):
            leaves = applied_leaves(connections[alias]) if changes else {}
            connections[alias].close()  # PostgreSQL copies a database nobody is in
            snapshots = store.all(identity)
            if action == "list":
                if not snapshots:
                    print(f"migrail: no snapshots of database {identity.describe()}")
                    continue
                print(f"database {identity.describe()}:")
                now = time.time()
                for snapshot in snapshots:
                    applied = ", ".join(f"{a}.{n}" for a, n in sorted(snapshot.leaves.items()))
                    print(
                        f"  {snapshot.branch}  {snapshot.commit[:12] or '?'}"
                        f"{'' if snapshot.synced else ' (not synced)'}  "
                        f"{describe_size(engine.size(snapshot))}  "
                        f"{describe_age(snapshot.created, now)} old  {applied or 'no migrations'}"
                    )
            elif action == "save":
                branch = name or current_branch(repo)
                if refused := engine.refusal(terminate_others=config.snapshot_terminate_sessions):
                    raise MigrailError(f"no snapshot of database {alias!r}: {refused}")
                commit, synced = holding(store, identity, repo.resolve("HEAD"), leaves)
                snapshot = new_snapshot(identity, branch, commit, leaves, synced=synced)
                run_journalled(
                    engine, store, identity, engine.save_steps(snapshot), record=snapshot
                )
                print(
                    f"migrail: saved database {alias!r} as the snapshot of {label(snapshot)} "
                    f"({describe_size(engine.size(snapshot))})"
                )
            elif action in ("drop", "restore"):
                chosen = [s for s in snapshots if s.branch == name]
                if not chosen:
                    raise MigrailError(
                        f"no snapshot of {name!r} for database {alias!r}; "
                        "`migrail snapshot list` shows them"
                    )
                if action == "drop":
                    drop_snapshot(engine, store, identity, chosen[0])
                    print(f"migrail: dropped the snapshot of {name!r} (database {alias!r})")
                    continue
                if refused := engine.refusal(terminate_others=config.snapshot_terminate_sessions):
                    raise MigrailError(f"cannot restore database {alias!r}: {refused}")
                here = current_branch(repo)
                if here != name:  # keep what the database holds now
                    commit, synced = holding(store, identity, repo.resolve("HEAD"), leaves)
                    kept = new_snapshot(identity, here, commit, leaves, synced=synced)
                    run_journalled(engine, store, identity, engine.save_steps(kept), record=kept)
                    print(f"migrail: saved database {alias!r} as the snapshot of {label(kept)}")
                steps = engine.restore_copy_steps(chosen[0])
                run_journalled(engine, store, identity, steps)
                store.clear_unsynced(identity)  # the live database is another one now
                sync = (
                    "`migrail sync`"
                    if chosen[0].synced or not chosen[0].commit
                    else f"`migrail sync --from {chosen[0].commit[:12]}`"
                )
                print(
                    f"migrail: database {alias!r} is now a copy of the snapshot of {name!r} "
                    f"(commit {chosen[0].commit[:12]}); run {sync} to bring it to "
                    "this checkout's migrations"
                )
            elif action == "prune":
                for snapshot in snapshots:
                    if not branch_exists(repo, snapshot.branch):
                        drop_snapshot(engine, store, identity, snapshot)
                        print(
                            f"migrail: dropped the snapshot of {snapshot.branch!r} "
                            f"(database {alias!r}): its branch is gone"
                        )
                for snapshot in prune_beyond_kept(engine, store, identity, config.snapshots_kept):
                    print(
                        f"migrail: dropped the snapshot of {snapshot.branch!r} "
                        f"(database {alias!r}): beyond snapshots_kept = {config.snapshots_kept}"
                    )
    return EXIT_CLEAN
