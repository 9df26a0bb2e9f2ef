"""Branch switches with snapshots: save the branch left, restore the branch arrived at.

Called after git switched (by the post-checkout hook, and `migrail switch`, which then
syncs as that hook does) on every switch to another branch, with the same migrations
too, before the sync; and by a sync that finds the live database holding another
branch's data (`catch_up_with_live_data`). The sync that follows applies what the
branch gained since its snapshot and rolls back what a rebase removed. Where no
snapshot can be taken (a dev server holds a PostgreSQL database open, views on MySQL),
it says why and the switch rolls back as before.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol

from migrail.snapshots import SwitchRecord
from migrail.snapshots.branches import (
    applied_leaves,
    branch_exists,
    current_branch,
    database_engine,
    holding,
    label,
    snapshot_store,
    snapshot_to_save,
    under_another_id,
)
from migrail.snapshots.catalogue import (
    dropped_beyond_kept,
    former_names,
    live_owner,
    named_now,
    prune_beyond_kept,
)
from migrail.snapshots.steps import Engine, SnapshotUnavailable, run_journalled
from migrail.snapshots.store import Snapshot, SnapshotStore
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sync.identity import DatabaseIdentity, identity_of


@dataclass(frozen=True)
class Arrival:
    """What a switch's snapshot step did, for the sync that follows."""

    from_rev: str | None  # sync's --from; None when the commit it names is gone
    restored: bool  # a snapshot replaced the database: sync it even with the same migrations
    record: SwitchRecord  # which databases the step saw and saved
    # Every database now holds a snapshot of exactly `from_rev`'s migrations (see
    # `Snapshot.exact`): with no migration file changed in the work tree, nothing to sync.
    exact: bool = False


class LiveDatabase(Protocol):
    """One database a switch saves and restores, opened for its snapshot steps."""

    @property
    def alias(self) -> str: ...

    def opened(self) -> AbstractContextManager[Opened]:
        """Refused, locked, interrupted work finished: its engine, identity, store and the
        last applied migration of each app."""
        ...


Opened = tuple[Engine, DatabaseIdentity, SnapshotStore, dict[str, str]]


@dataclass(frozen=True)
class DjangoDatabase:
    """A database as Django's settings name it (Django set up in this process)."""

    repo: GitRepo
    config: Config
    alias: str

    @contextmanager
    def opened(self) -> Iterator[Opened]:
        from django.db import connections

        with database_engine(self.repo, self.config, self.alias, recover=True) as opened:
            leaves = applied_leaves(connections[self.alias])
            connections[self.alias].close()  # PostgreSQL renames a database nobody is in
            yield (*opened, leaves)


def arrive_after_checkout(
    repo: GitRepo,
    config: Config,
    previous: str,
    switch: tuple[str, str],
    *,
    database: str | None = None,
    record: SwitchRecord | None = None,
) -> Arrival:
    """After git switched from `previous` (the post-checkout hook, `migrail switch`): save
    and restore (see `leave_and_arrive`)."""
    left, arriving = switch
    return leave_and_arrive(
        repo,
        config,
        left=left,
        left_commit=repo.resolve(previous),
        arriving=arriving,
        database=database,
        record=record,
    )


def leave_and_arrive(
    repo: GitRepo,
    config: Config,
    *,
    left: str,
    left_commit: str,
    arriving: str | None,
    database: str | None = None,
    restore: bool = True,
    record: SwitchRecord | None = None,
) -> Arrival:
    """Save each database as `left`'s snapshot; restore `arriving`'s where it has one.

    `restore=False`: save only; the database goes on as `arriving`'s.

    The sync to run next goes from the commit whose code applied the database's
    migrations now: the restored snapshot's, else `left_commit` (or, after a sync that
    failed, the commit that sync went from, which the saved snapshot records).
    """
    from migrail.sync.settings import database_aliases, setup_django

    setup_django(repo.root, config)
    aliases = database_aliases(config, database)
    databases = [DjangoDatabase(repo, config, alias) for alias in aliases]
    switch = Switch(repo, config, left, left_commit, arriving, restore, record or SwitchRecord())
    arrival = switch.swap_each(databases)
    if database is None:
        from migrail.snapshots.settings_seen import remember_settings

        remember_settings(repo, config, aliases)
    return arrival


@dataclass
class Switch:
    """One switch's snapshot step, database by database (see `leave_and_arrive`)."""

    repo: GitRepo
    config: Config
    left: str
    left_commit: str
    arriving: str | None
    restore: bool
    record: SwitchRecord
    restored_at: str | None = None  # the commit of the snapshot restored
    gone_on_from: str | None = None  # the commit that applied another branch's data, saved
    exact: bool = True  # every snapshot restored holds exactly its commit's migrations
    head: str | None = None  # the commit checked out, when the caller knows it

    def swap_each(self, databases: Sequence[LiveDatabase]) -> Arrival:
        """`swap` each database; the `Arrival` the sync after it goes from."""
        record, repo, left_commit = self.record, self.repo, self.left_commit
        for database in databases:
            record.tried.add(database.alias)
            try:
                with database.opened() as (engine, identity, store, leaves):
                    self.swap(database.alias, engine, identity, store, leaves)
            except SnapshotUnavailable as err:
                self.exact = False
                record.unsaved.add(database.alias)
                print(
                    f"migrail: no snapshot of database {database.alias!r}: {err}; "
                    "syncing without snapshots instead"
                )
        if self.restored_at is None and self.gone_on_from is not None:
            return Arrival(self.gone_on_from, True, record)  # not this checkout's migrations
        if self.restored_at is None:
            return Arrival(left_commit, False, record)
        restored_at = self.restored_at
        gone = restored_at != self.head and not _commit_exists(repo, restored_at)
        return Arrival(None if gone else restored_at, True, record, self.exact and not gone)

    def swap(
        self,
        alias: str,
        engine: Engine,
        identity: DatabaseIdentity,
        store: SnapshotStore,
        leaves: dict[str, str],
    ) -> None:
        """Save the live database as its owner's snapshot; restore `arriving`'s if usable."""
        repo, arriving = self.repo, self.arriving
        refused = engine.refusal(terminate_others=self.config.snapshot_terminate_sessions)
        if refused:
            raise SnapshotUnavailable(refused)
        recorded = self._recorded_owner(store, identity)
        owner = self.left if recorded is None else recorded
        applied_by = self.left_commit
        if owner != self.left and branch_exists(repo, owner):
            # Another branch's migrations are live: the sync after this goes from its code.
            applied_by = repo.resolve(f"refs/heads/{owner}")
        commit, synced = holding(store, identity, applied_by, leaves)
        noted = store.exact(identity)
        exact = noted[2] if synced and noted and noted[:2] == (commit, leaves) else ""
        if arriving is not None and owner == arriving and owner != self.left:
            # The switch away from `arriving` never swapped: its data is still live.
            store.set_owner(identity, arriving)
            self.record.saved.discard(alias)
            self.exact = False
            print(
                f"migrail: database {alias!r} still holds the data of {arriving!r} (the last "
                "switch did not swap it), so it goes on as it is"
            )
            return
        if applied_by != self.left_commit:
            self.gone_on_from = commit
        save_as = snapshot_to_save(
            repo,
            store,
            identity,
            owner,
            commit=commit,
            leaves=leaves,
            synced=synced,
            prefix=self.config.snapshot_prefix,
            exact=exact,
        )
        if recorded is None and branch_exists(repo, owner):
            save_as = _keep_older_snapshot(store, identity, save_as)
        started = time.monotonic()
        waiting = _usable(repo, engine, store, identity, arriving) if self.restore else None
        in_use = engine.snapshot_in_use(waiting) if waiting is not None else None
        if in_use:  # checked before anything moves: a rename refused halfway leaves no database
            raise SnapshotUnavailable(f"the snapshot of {arriving!r} cannot be restored: {in_use}")
        # Said in the line of the save, once done: a save that gives up saved nothing.
        why = (
            f" (it held the data of {owner!r}: the switch to {self.left!r} did not swap it)"
            if owner != self.left
            else ""
        )
        with _owner_kept_unless_done(store, identity, recorded):
            if waiting is not None and waiting.id != save_as.id:
                self._save_and_restore(
                    alias,
                    engine,
                    identity,
                    store,
                    save_as=save_as,
                    waiting=waiting,
                    started=started,
                    why=why,
                )
            else:
                self._save(
                    alias, engine, identity, store, save_as=save_as, started=started, why=why
                )
        kept = self.config.snapshots_kept
        for gone in prune_beyond_kept(repo, engine, store, identity, kept, keep=save_as.id):
            print(dropped_beyond_kept(gone, alias, kept))

    def _recorded_owner(self, store: SnapshotStore, identity: DatabaseIdentity) -> str | None:
        """Whose data the live database holds, as recorded, by the name that branch has now:
        one renamed since (`git branch -m`) has its own snapshot relabelled first."""
        recorded = store.owner(identity)
        if recorded is None or recorded == self.left:
            return recorded
        called = named_now(self.repo, recorded)
        if called != recorded and store.find(identity, called) is None:
            _renamed(self.repo, store, identity, called)
        return called

    def _save(
        self,
        alias: str,
        engine: Engine,
        identity: DatabaseIdentity,
        store: SnapshotStore,
        *,
        save_as: Snapshot,
        started: float,
        why: str,
    ) -> None:
        """Save the live database, which goes on as it is (`arriving` has no snapshot)."""
        arriving = self.arriving
        steps = engine.save_steps(save_as)
        # The owner is set with the journal: a killed run ends so.
        run_journalled(engine, store, identity, steps, record=save_as, owner=arriving or "")
        self.record.saved.add(alias)
        self.exact = False
        goes_on = (
            f"; {arriving!r} has no snapshot, so it goes on from this database" if arriving else ""
        )
        print(
            f"migrail: saved database {alias!r} as the snapshot of {label(save_as)}{why}"
            f"{goes_on} ({time.monotonic() - started:.2f}s)"
        )

    def _save_and_restore(
        self,
        alias: str,
        engine: Engine,
        identity: DatabaseIdentity,
        store: SnapshotStore,
        *,
        save_as: Snapshot,
        waiting: Snapshot,
        started: float,
        why: str,
    ) -> None:
        steps = engine.swap_steps(save_as, waiting)
        run_journalled(
            engine,
            store,
            identity,
            steps,
            record=save_as,
            forget=[waiting.id],
            owner=self.arriving or "",
        )
        store.clear_unsynced(identity)  # the live database is another one now
        if waiting.exact:
            store.mark_exact(identity, waiting.commit, waiting.leaves, waiting.exact)
        else:
            store.clear_exact(identity)
        self.record.saved.discard(alias)
        same_commit = self.restored_at in (None, waiting.commit)
        self.exact = self.exact and bool(waiting.exact) and same_commit
        print(
            f"migrail: saved database {alias!r} as the snapshot of {label(save_as)}{why} "
            f"and restored the snapshot of {self.arriving!r} (commit "
            f"{waiting.commit[:12]}, {time.monotonic() - started:.2f}s)"
        )
        self.restored_at = waiting.commit


def catch_up_with_live_data(
    repo: GitRepo, config: Config, from_rev: str | None, database: str | None, record: SwitchRecord
) -> str | None:
    """Before a sync with snapshots on: when a switch did not swap (`MIGRAIL_SKIP=1`, a killed
    hook, `git rebase main feature` from main), the live database holds another branch's data.
    That switch is made now: it is saved as that branch's snapshot, and this branch's restored
    where it has one. Returns the revision the sync goes from."""
    from django.conf import settings
    from django.db import connections

    from migrail.sync.settings import database_aliases

    here = current_branch(repo)
    for alias in database_aliases(config, database):
        if alias in record.tried:
            continue
        identity = identity_of(alias, connections[alias].vendor, settings.DATABASES[alias])
        owner = live_owner(repo, snapshot_store(repo), identity, here)
        if owner is None or owner == here:
            continue
        print(
            f"migrail: database {alias!r} holds the data of {owner!r}; saving it before this sync"
        )
        if from_rev:
            commit = repo.resolve(from_rev)
        elif branch_exists(repo, owner):
            commit = repo.resolve(f"refs/heads/{owner}")
        else:
            commit = repo.resolve("HEAD")
        arrival = leave_and_arrive(
            repo,
            config,
            left=owner,
            left_commit=commit,
            arriving=here,
            database=alias,
            record=record,
        )
        from_rev = arrival.from_rev if arrival.restored else commit
    return from_rev


def _keep_older_snapshot(
    store: SnapshotStore, identity: DatabaseIdentity, save_as: Snapshot
) -> Snapshot:
    """Whose data the live database holds is not known (a sync with snapshots off forgot it,
    then a switch did not swap): it may be another branch's, so the branch's snapshot it
    would replace is kept under a name of its own, and the new one is saved beside it."""
    from dataclasses import replace

    older = store.find(identity, save_as.branch)
    if older is None:
        return save_as
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(older.created))
    kept = replace(older, branch=f"{older.branch}@{stamp}", named=True)
    store.record(kept)
    print(
        f"migrail: whose data the database holds is not known (a sync ran with snapshots off), "
        f"so the earlier snapshot of {older.branch!r} is kept as {kept.branch!r}: "
        f"`migrail snapshot restore {kept.branch}` brings it back, "
        f"`migrail snapshot drop {kept.branch}` removes it"
    )
    if save_as.id != older.id:
        return save_as
    return under_another_id(identity, save_as)


@contextmanager
def _owner_kept_unless_done(
    store: SnapshotStore, identity: DatabaseIdentity, recorded: str | None
) -> Iterator[None]:
    """Steps that gave up with nothing changed leave the live database's owner as it was."""
    try:
        yield
    except SnapshotUnavailable:
        if recorded is None:
            store.clear_owner(identity)
        else:
            store.set_owner(identity, recorded)
        raise


def _usable(
    repo: GitRepo,
    engine: Engine,
    store: SnapshotStore,
    identity: DatabaseIdentity,
    branch: str | None,
) -> Snapshot | None:
    """`branch`'s snapshot, if it has one to restore: not one saved for an earlier branch
    of that name (deleted, then made anew: its reflog starts after the snapshot)."""
    snapshot = store.find(identity, branch) if branch else None
    if snapshot is None and branch:
        snapshot = _renamed(repo, store, identity, branch)
    if snapshot is None:
        return None
    if not engine.exists(snapshot):
        store.forget([snapshot.id])  # its database was dropped by hand
        return None
    made = repo.branch_created(snapshot.branch)
    if made is not None and _older_than_its_branch(made, snapshot):
        kept = _kept_as_named(store, identity, snapshot)
        print(
            f"migrail: the snapshot of {snapshot.branch!r} was saved before this branch was "
            f"made (an earlier branch of that name was deleted): not restored, kept as "
            f"{kept.branch!r} (`migrail snapshot restore {kept.branch}` brings it back, "
            f"`migrail snapshot drop {kept.branch}` drops it)"
        )
        return None
    return snapshot


def _older_than_its_branch(made: float, snapshot: Snapshot) -> bool:
    """Whether `snapshot` was saved before its branch was made (`made`: the reflog's oldest
    entry), so of an earlier branch of that name. The reflog counts whole seconds: within the
    second the snapshot was saved, the branch's creation time saved with it tells them apart
    (a script that deletes a branch and makes it again at once)."""
    if made > snapshot.created:
        return True
    recorded = snapshot.branch_made
    return recorded is not None and made != recorded and int(made) >= int(snapshot.created)


def _kept_as_named(
    store: SnapshotStore, identity: DatabaseIdentity, snapshot: Snapshot
) -> Snapshot:
    """A deleted branch's snapshot, relabelled as a named one (`BRANCH~deleted`: no branch
    can be called that), which neither a switch nor `prune` drops."""
    from dataclasses import replace

    taken = {s.branch for s in store.all(identity)}
    name = f"{snapshot.branch}~deleted"
    number = 2
    while name in taken:
        name, number = f"{snapshot.branch}~deleted{number}", number + 1
    kept = replace(snapshot, branch=name, named=True)
    store.record(kept)
    return kept


def _renamed(
    repo: GitRepo, store: SnapshotStore, identity: DatabaseIdentity, branch: str
) -> Snapshot | None:
    """The snapshot saved under a name `branch` had, relabelled as `branch`'s."""
    from dataclasses import replace

    for old in former_names(repo, branch):
        snapshot = store.find(identity, old)
        if snapshot is not None and not snapshot.named:
            relabelled = replace(snapshot, branch=branch)
            store.record(relabelled)
            print(
                f"migrail: the snapshot of {old!r} is now the snapshot of {branch!r} "
                "(the branch was renamed)"
            )
            return relabelled
    return None


def _commit_exists(repo: GitRepo, commit: str) -> bool:
    proc = repo.run("cat-file", "-t", commit, check=False).decode().strip()
    return proc == "commit"
