"""Branch snapshots' common ground: which branch is which, the store, the locked engine.

What a switch does with them is `switching`; the list kept in order (status line,
pruning, renamed branches) is `catalogue`. The notes that outlive one process (which
databases a switch saved as they stand, which it already tried) are in the environment,
so the child that rolls back with the old commit's code knows them too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from migrail.errors import MigrailError, Refusal
from migrail.snapshots import OWNERS, SNAPSHOTS_DIRECTORY
from migrail.snapshots.steps import (
    Engine,
    finish_journal,
    open_engine,
    pending_note,
    run_journalled,
)
from migrail.snapshots.store import Snapshot, SnapshotStore, new_snapshot, snapshot_id
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sync.identity import DatabaseIdentity, identity_of

_NO_SNAPSHOT_KEEPS = (
    "migrail: this rollback drops tables or columns that hold rows, and no snapshot keeps them"
)
_FROM_THE_BACKUP = "bring them back from the backup with `migrail restore`"
SAVE_FIRST_HINT = (
    f"{_NO_SNAPSHOT_KEEPS} (snapshots are saved on branch switches); keep a copy first with "
    f"`migrail snapshot save NAME`, or {_FROM_THE_BACKUP}"
)
# A switch whose snapshot step gave up (another connection held the database).
NOT_SAVED_HINT = f"{_NO_SNAPSHOT_KEEPS} (this switch could not save one); {_FROM_THE_BACKUP}"
# A switch that saved the branch left, then rolls back the data it goes on with (a restored
# snapshot holding migrations this branch lacks): too late to save a copy first.
MID_SWITCH_HINT = f"{_NO_SNAPSHOT_KEEPS}; {_FROM_THE_BACKUP}"


def snapshot_store(repo: GitRepo) -> SnapshotStore:
    return SnapshotStore(repo.migrail_dir / SNAPSHOTS_DIRECTORY)


@dataclass
class _FileLockOnly:
    """The lock's file half only: renames need every server connection closed."""

    settings_dict: dict[str, Any]
    vendor: str = "none"


@contextmanager
def database_engine(
    repo: GitRepo, config: Config, alias: str, *, recover: bool = False, read_only: bool = False
) -> Iterator[tuple[Engine, DatabaseIdentity, SnapshotStore]]:
    """Refuse what sync would refuse, lock, finish an interrupted switch, open the engine.

    `recover`: first undo a sync that stopped midway, as the next sync would, so no
    snapshot holds a half-done rollback and that sync's backup never lands on another
    branch's database. `read_only` (`snapshot list`): allowed under `DEBUG = False`, as
    `status` is.
    """
    from django.conf import settings
    from django.db import connections

    from migrail.sync.lock import database_lock
    from migrail.sync.safety import refusal

    settings_dict = settings.DATABASES[alias]
    reason = refusal(
        alias,
        settings_dict,
        debug=bool(settings.DEBUG),
        allow_remote=config.allow_remote_databases,
        allow_debug_false=config.allow_debug_false or read_only,
    )
    if reason:
        raise Refusal(reason)
    connection = connections[alias]
    identity = identity_of(alias, connection.vendor, settings_dict)
    store = snapshot_store(repo)
    with database_lock(repo.migrail_dir / "locks", alias, _FileLockOnly(settings_dict)):
        if recover:
            from migrail.sync.rollback_safety import recover_interrupted_sync

            recover_interrupted_sync(repo, config, connection)
        with open_engine(connection, store) as engine:
            if read_only:  # says what a kill left half done; `sync` finishes it
                if note := pending_note(store, identity):
                    print(note)
            elif finish_journal(engine, store, identity):
                print(f"migrail: finished an interrupted snapshot switch of database {alias!r}")
            yield engine, identity, store


def finish_interrupted(repo: GitRepo, config: Config) -> None:
    """Finish a park or un-park that a killed switch left half done (cheap when none was)."""
    if not snapshot_store(repo).has_journals():
        return
    from migrail.sync.settings import database_aliases, setup_django

    setup_django(repo.root, config)
    for alias in database_aliases(config):
        with database_engine(repo, config, alias):
            pass


def current_branch(repo: GitRepo) -> str:
    """The branch checked out, or the commit of a detached HEAD."""
    return repo.branch() or repo.run("rev-parse", "HEAD").decode().strip()


def live_data_elsewhere(repo: GitRepo) -> bool:
    """Whether a database holds another branch's data, as the owners recorded (read without
    Django: a HEAD move that changes no migration still swaps, as `git rebase main
    feature` run from main, which checks feature out with no post-checkout)."""
    directory = repo.migrail_dir / SNAPSHOTS_DIRECTORY / OWNERS
    try:
        records = [json.loads(path.read_text()) for path in directory.glob("*.json")]
    except (OSError, ValueError):
        return True  # the sync says what is unreadable
    here = current_branch(repo)
    owners = {str(r.get("branch")) for r in records if isinstance(r, dict)} - {here}
    if not owners:
        return False
    # A linked worktree's own database holds its branch's data: not this one's business.
    listed = repo.run("worktree", "list", "--porcelain", check=False).decode(errors="replace")
    elsewhere = {
        line.removeprefix("branch refs/heads/")
        for line in listed.splitlines()
        if line.startswith("branch refs/heads/")
    }
    return bool(owners - elsewhere)


def branch_left(repo: GitRepo, previous: str) -> str:
    """The branch a checkout left, from the reflog's "checkout: moving from A to B"."""
    moved = repo.checkout_moved()
    if moved is None:
        return repo.run("rev-parse", previous).decode().strip()
    left = moved[0]
    if re.fullmatch(r"[0-9a-f]{7,40}", left) and not branch_exists(repo, left):
        return repo.run("rev-parse", previous).decode().strip()  # detached: the full commit
    return left


def branch_exists(repo: GitRepo, branch: str) -> bool:
    ref = f"refs/heads/{branch}"  # starts with "refs/": never read as an option
    return bool(repo.run("rev-parse", "--verify", "--quiet", ref, check=False).strip())


def branch_switch(repo: GitRepo, previous: str) -> tuple[str, str] | None:
    """(branch left, branch arrived at) after a checkout; None when it stayed on its branch."""
    left, arriving = branch_left(repo, previous), current_branch(repo)
    return None if left == arriving else (left, arriving)


def applied_leaves(connection: Any) -> dict[str, str]:
    """The last applied migration of each app, by the order they were applied."""
    from migrail.sync.applied_rows import django_applied_rows, leaves_of

    return leaves_of(django_applied_rows(connection))


def forget_whose_data(repo: GitRepo, config: Config, database: str | None) -> None:
    """A sync with snapshots off: the database follows the branch by rollbacks now, so the
    record of whose data it held goes; turned on again, the next switch saves it as the
    branch it leaves."""
    from django.conf import settings
    from django.db import connections

    from migrail.sync.settings import database_aliases

    store = snapshot_store(repo)
    if not (store.directory / OWNERS).is_dir():
        return
    for alias in database_aliases(config, database):
        identity = identity_of(alias, connections[alias].vendor, settings.DATABASES[alias])
        store.clear_owner(identity)
        store.clear_exact(identity)  # migrated with nobody noting it from now on


def holding(
    store: SnapshotStore, identity: DatabaseIdentity, commit: str, leaves: dict[str, str]
) -> tuple[str, bool]:
    """(the commit whose code applied the database's migrations, whether it was synced).

    After a sync that failed (`note_sync_result`) the database holds what the commit
    that sync went from applied, until its migrations change (a sync or migrate since).
    """
    noted = store.unsynced(identity)
    if noted is None:
        return commit, True
    if noted.leaves is not None and noted.leaves != leaves:
        store.clear_unsynced(identity)  # synced or migrated since the failure
        return commit, True
    if noted.commit == commit and not noted.partway:
        return commit, True  # the failed sync went from this very commit: it holds its own
    return noted.commit, False


def label(snapshot: Snapshot) -> str:
    if snapshot.synced:
        return repr(snapshot.branch)
    held = f"commit {snapshot.commit[:12]}" if snapshot.commit else "an unknown commit"
    return f"{snapshot.branch!r} (not synced: it holds the migrations of {held})"


def under_another_id(identity: DatabaseIdentity, snapshot: Snapshot) -> Snapshot:
    """`snapshot` under an id of its own (hashed from its branch and time), so it is saved
    beside the one its branch's id names, never over it."""
    from dataclasses import replace

    return replace(snapshot, id=snapshot_id(identity, f"{snapshot.branch}\0{snapshot.created}"))


def snapshot_to_save(
    repo: GitRepo,
    store: SnapshotStore,
    identity: DatabaseIdentity,
    branch: str,
    *,
    commit: str,
    leaves: dict[str, str],
    synced: bool,
    prefix: str,
    exact: str = "",
) -> Snapshot:
    """The record of a snapshot of `branch` about to be saved: when the branch was made noted
    with it, under an id no other name's snapshot holds (`beside_others`)."""
    made = repo.branch_created(branch)
    snapshot = new_snapshot(
        identity,
        branch,
        commit,
        leaves,
        synced=synced,
        prefix=prefix,
        exact=exact,
        branch_made=made,
    )
    held = store.find(identity, branch)
    if held is not None and not held.named and held.id != snapshot.id:
        from dataclasses import replace

        # Relabelled after `git branch -m`: replaced where it is, not saved beside it.
        snapshot = replace(snapshot, id=held.id, prefix=held.prefix)
    return beside_others(store, identity, snapshot)


def beside_others(store: SnapshotStore, identity: DatabaseIdentity, snapshot: Snapshot) -> Snapshot:
    """`snapshot`, under another id when its own names a record migrail cannot read, or the
    snapshot of another name (a branch's relabelled after `git branch -m`, or one kept when its
    branch was deleted and made again): that copy is left as it is, never overwritten."""
    if any(path.stem == snapshot.id for path in store.unreadable()):
        return under_another_id(identity, snapshot)
    held = next((s for s in store.all(identity) if s.id == snapshot.id), None)
    if held is not None and held.branch != snapshot.branch:
        return under_another_id(identity, snapshot)
    return snapshot


def note_sync_result(
    repo: GitRepo,
    config: Config,
    from_rev: str | None,
    *,
    synced: bool,
    database: str | None = None,
) -> None:
    """After a sync: note a failure, so the next snapshot saved of the database says what it
    really holds: the migrations `from_rev`'s code applied, or, once the checkout's own
    migrate ran partway (`applied_by_checkout`), the checkout's. Without `from_rev` (a plain
    `migrail sync`) only the latter is noted."""
    from django.conf import settings

    if not config.snapshots or not settings.configured:
        return  # Django never started: the database was not touched
    from django.db import connections

    from migrail.sync.journal import journal_dir, unfinished
    from migrail.sync.rollback_safety import database_of
    from migrail.sync.settings import database_aliases

    commit = ""
    if from_rev:
        with suppress(MigrailError):  # a commit gone: sync then finds sources elsewhere
            commit = repo.resolve(from_rev)
    store = snapshot_store(repo)
    head = None if synced else repo.head()  # once, not per database
    for alias in database_aliases(config, database):
        connection = connections[alias]
        identity = identity_of(alias, connection.vendor, settings.DATABASES[alias])
        if not synced:
            try:
                leaves: dict[str, str] | None = applied_leaves(connection)
                if unfinished(journal_dir(repo), database_of(connection)):
                    leaves = None  # its backup comes back first: the note holds whatever they are
            except Exception:  # the server is down: the note holds without them
                leaves = None
            partway = bool(leaves and head and applied_by_checkout(connection))
            if not (partway or commit):
                continue  # a plain sync that changed nothing of its own: an earlier note holds
        try:
            if synced:
                store.clear_unsynced(identity)
            else:
                noted = head if partway and head else commit
                store.mark_unsynced(identity, noted, leaves, partway=partway)
                store.clear_exact(identity)
        except OSError:
            return  # best effort: the sync itself said why the disk refuses writes


def applied_by_checkout(connection: Any) -> bool:
    """After a failed sync, whether the checkout's code (Django's, in this process) has every
    migration applied, and more: nothing is left to roll back, and its own migrate stopped
    partway (or never started). The database then holds the checkout's migrations, some
    perhaps that the commit the sync went from lacks (applied before the failing one), so
    the checkout's commit is the one whose code applied what it holds."""
    from django.db.migrations.loader import MigrationLoader

    try:
        loader = MigrationLoader(connection, ignore_no_migrations=True)
    except Exception:  # a migration that cannot load (what failed the sync): not to be told
        return False
    applied = set(loader.applied_migrations)
    return applied <= set(loader.disk_migrations) and bool(set(loader.graph.nodes) - applied)


def drop_snapshot(
    engine: Engine, store: SnapshotStore, identity: DatabaseIdentity, snapshot: Snapshot
) -> None:
    run_journalled(engine, store, identity, engine.drop_steps(snapshot), forget=[snapshot.id])


def note_synced(repo: GitRepo, connection: Any, settings: str | None) -> None:
    """A sync of this database succeeded: it holds its branch's migrations again, so the
    next snapshot saved of it is not labelled `(not synced: …)` (see `note_sync_result`);
    with no migration file changed in the work tree, exactly HEAD's under the settings
    `settings` names (`Snapshot.exact`; None: they cannot be told)."""
    from migrail.sources.checkout_decision import migrations_as_committed

    identity = identity_of(connection.alias, connection.vendor, connection.settings_dict)
    store = snapshot_store(repo)
    store.clear_unsynced(identity)
    head = repo.head()
    if settings and head is not None and migrations_as_committed(repo.root):
        store.mark_exact(identity, head, applied_leaves(connection), settings)
    else:
        store.clear_exact(identity)
