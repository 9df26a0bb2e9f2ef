"""Branch switches with snapshots: save the branch left, restore the branch arrived at.

Called by the post-checkout hook and `migrail switch` on every switch to another
branch (with the same migrations too), before they sync; the sync that follows
applies what the branch gained since its snapshot and rolls back what a rebase
removed. Where no snapshot can be taken (a dev server holds a PostgreSQL database
open, views on MySQL), it says why and the switch rolls back as before.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from migrail.errors import MigrailError, Refusal
from migrail.snapshots.steps import (
    Engine,
    SnapshotUnavailable,
    finish_journal,
    open_engine,
    run_journalled,
)
from migrail.snapshots.store import (
    Identity,
    Snapshot,
    SnapshotStore,
    identity_of,
    new_snapshot,
    snapshot_id,
)
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo

SAVE_FIRST_HINT = (
    "migrail: this rollback drops tables or columns that hold rows, and no snapshot keeps them "
    "(snapshots are saved on branch switches); keep a copy first with `migrail snapshot save "
    "NAME`, or bring them back from the backup with `migrail restore`"
)
# The aliases whose database, as it stands, this switch saved as the snapshot of the branch
# left: a rollback of it drops nothing that is not kept. In the environment, so the child
# that rolls back with the old commit's code knows it too.
SAVED_ENV = "MIGRAIL_SNAPSHOT_SAVED"
# The aliases this switch's snapshot step already saw (swapped or fell back), so the sync
# that follows it, here or in a child, does not try again.
TRIED_ENV = "MIGRAIL_SNAPSHOT_TRIED"
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
    repo: GitRepo, config: Config, alias: str, *, recover: bool = False, read_only: bool = False
) -> Iterator[tuple[Engine, Identity, SnapshotStore]]:
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
            if finish_journal(engine, store, identity):
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


def branch_switch(repo: GitRepo, previous: str) -> tuple[str, str] | None:
    """(branch left, branch arrived at) after a checkout; None when it stayed on its branch."""
    left, arriving = branch_left(repo, previous), current_branch(repo)
    return None if left == arriving else (left, arriving)


def applied_leaves(connection: Any) -> dict[str, str]:
    """The last applied migration of each app, by the order they were applied."""
    with connection.cursor() as cursor:
        if "django_migrations" not in connection.introspection.table_names(cursor):
            return {}
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
        return {app: name for app, name in cursor.fetchall()}


@dataclass(frozen=True)
class Arrival:
    """What a switch's snapshot step did, for the sync that follows."""

    from_rev: str | None  # sync's --from; None when the commit it names is gone
    restored: bool  # a snapshot replaced the database: sync it even with the same migrations


def arrive_after_checkout(
    repo: GitRepo, config: Config, previous: str, switch: tuple[str, str]
) -> Arrival:
    """post-checkout from `previous`: save and restore (see `leave_and_arrive`)."""
    left, arriving = switch
    return leave_and_arrive(
        repo, config, left=left, left_commit=repo.resolve(previous), arriving=arriving
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
) -> Arrival:
    """Save each database as `left`'s snapshot; restore `arriving`'s where it has one.

    `restore=False`: save only; the database goes on as `arriving`'s (`migrail switch`,
    which rolls it back before git switches).

    The sync to run next goes from the commit whose code applied the database's
    migrations now: the restored snapshot's, else `left_commit` (or, after a sync that
    failed, the commit that sync went from, which the saved snapshot records).
    """
    from django.db import connections

    from migrail.sync.settings import database_aliases, setup_django

    setup_django(repo.root, config)
    restored_at = None
    gone_on_from = None  # the commit that applied another branch's data, saved and gone on from
    for alias in database_aliases(config, database):
        tried = set(filter(None, os.environ.get(TRIED_ENV, "").split(",")))
        os.environ[TRIED_ENV] = ",".join(sorted(tried | {alias}))
        try:
            with database_engine(repo, config, alias, recover=True) as (engine, identity, store):
                leaves = applied_leaves(connections[alias])
                connections[alias].close()  # PostgreSQL renames a database nobody is in
                refused = engine.refusal(terminate_others=config.snapshot_terminate_sessions)
                if refused:
                    raise SnapshotUnavailable(refused)
                recorded = store.owner(identity)
                owner = _owner(recorded, alias, left)
                applied_by = left_commit
                if owner != left and branch_exists(repo, owner):
                    # Another branch's migrations are live: the sync after this goes from its code.
                    applied_by = repo.resolve(f"refs/heads/{owner}")
                commit, synced = holding(store, identity, applied_by, leaves)
                if arriving is not None and owner == arriving and owner != left:
                    # The switch away from `arriving` never swapped: its data is still live.
                    store.set_owner(identity, arriving)
                    _saved_as_it_stands(alias, False)
                    print(
                        f"migrail: database {alias!r} still holds {arriving!r}'s data (the last "
                        "switch did not swap it), so it goes on as it is"
                    )
                    continue
                if applied_by != left_commit:
                    gone_on_from = commit
                save_as = beside_unreadable(
                    store, identity, new_snapshot(identity, owner, commit, leaves, synced=synced)
                )
                if recorded is None and branch_exists(repo, owner):
                    save_as = _keep_older_snapshot(store, identity, save_as)
                started = time.monotonic()
                waiting = _usable(repo, engine, store, identity, arriving) if restore else None
                if arriving is None:
                    store.clear_owner(identity)
                else:
                    store.set_owner(identity, arriving)  # before the steps: a killed run ends so
                if waiting is not None and waiting.id != save_as.id:
                    steps = engine.swap_steps(save_as, waiting)
                    with _owner_kept_unless_done(store, identity, recorded):
                        run_journalled(
                            engine, store, identity, steps, record=save_as, forget=[waiting.id]
                        )
                    store.clear_unsynced(identity)  # the live database is another one now
                    _saved_as_it_stands(alias, False)
                    print(
                        f"migrail: saved database {alias!r} as the snapshot of {label(save_as)} "
                        f"and restored the snapshot of {arriving!r} (commit "
                        f"{waiting.commit[:12]}, {time.monotonic() - started:.2f}s)"
                    )
                    restored_at = waiting.commit
                else:
                    steps = engine.save_steps(save_as)
                    with _owner_kept_unless_done(store, identity, recorded):
                        run_journalled(engine, store, identity, steps, record=save_as)
                    _saved_as_it_stands(alias, True)
                    print(
                        f"migrail: saved database {alias!r} as the snapshot of {label(save_as)}"
                        + (
                            f"; {arriving!r} has no snapshot, so it goes on from this database"
                            if arriving
                            else ""
                        )
                        + f" ({time.monotonic() - started:.2f}s)"
                    )
                kept = config.snapshots_kept
                for gone in prune_beyond_kept(repo, engine, store, identity, kept, keep=save_as.id):
                    print(dropped_beyond_kept(gone, alias, kept))
        except SnapshotUnavailable as err:
            print(
                f"migrail: no snapshot of database {alias!r}: {err}; "
                "syncing without snapshots instead"
            )
    if restored_at is None and gone_on_from is not None:
        return Arrival(gone_on_from, restored=True)  # not this checkout's migrations: sync
    if restored_at is None:
        return Arrival(left_commit, restored=False)
    return Arrival(restored_at if _commit_exists(repo, restored_at) else None, restored=True)


def catch_up_with_live_data(
    repo: GitRepo, config: Config, from_rev: str | None, database: str | None
) -> str | None:
    """Before a sync with snapshots on: when a switch did not swap (`MIGRAIL_SKIP=1`, a killed
    hook, `git rebase main feature` from main), the live database holds another branch's data.
    That switch is made now: it is saved as that branch's snapshot, and this branch's restored
    where it has one. Returns the revision the sync goes from."""
    from django.conf import settings
    from django.db import connections

    from migrail.sync.settings import database_aliases

    here = current_branch(repo)
    tried = os.environ.get(TRIED_ENV, "").split(",")
    for alias in database_aliases(config, database):
        if alias in tried:
            continue
        identity = identity_of(alias, connections[alias].vendor, settings.DATABASES[alias])
        owner = snapshot_store(repo).owner(identity)
        if owner is None or owner == here:
            continue
        print(f"migrail: database {alias!r} holds {owner!r}'s data; saving it before this sync")
        if from_rev:
            commit = repo.resolve(from_rev)
        elif branch_exists(repo, owner):
            commit = repo.resolve(f"refs/heads/{owner}")
        else:
            commit = repo.resolve("HEAD")
        arrival = leave_and_arrive(
            repo, config, left=owner, left_commit=commit, arriving=here, database=alias
        )
        from_rev = arrival.from_rev if arrival.restored else commit
    return from_rev


def forget_whose_data(repo: GitRepo, config: Config, database: str | None) -> None:
    """A sync with snapshots off: the database follows the branch by rollbacks now, so the
    record of whose data it held goes; turned on again, the next switch saves it as the
    branch it leaves."""
    from django.conf import settings
    from django.db import connections

    from migrail.sync.settings import database_aliases

    store = snapshot_store(repo)
    if not (store.directory / "owners").is_dir():
        return
    for alias in database_aliases(config, database):
        store.clear_owner(identity_of(alias, connections[alias].vendor, settings.DATABASES[alias]))


def holding(
    store: SnapshotStore, identity: Identity, commit: str, leaves: dict[str, str]
) -> tuple[str, bool]:
    """(the commit whose code applied the database's migrations, whether it was synced).

    After a sync that failed (`note_sync_result`) the database holds what the commit
    that sync went from applied, until its migrations change (a sync or migrate since).
    """
    noted = store.unsynced(identity)
    if noted is None:
        return commit, True
    noted_commit, then = noted
    if then is not None and then != leaves:
        store.clear_unsynced(identity)  # synced or migrated since the failure
        return commit, True
    return noted_commit, False


def label(snapshot: Snapshot) -> str:
    if snapshot.synced:
        return repr(snapshot.branch)
    held = f"commit {snapshot.commit[:12]}" if snapshot.commit else "an unknown commit"
    return f"{snapshot.branch!r} (not synced: it holds the migrations of {held})"


def _owner(owner: str | None, alias: str, left: str) -> str:
    """The branch to save the live database as: whose data it holds (`owner`, as recorded),
    which is not always the branch git left (a switch that fell back, was skipped or killed)."""
    if owner is None or owner == left:
        return left
    print(
        f"migrail: database {alias!r} holds {owner!r}'s data (the switch to {left!r} did not "
        f"swap it), so it is saved as the snapshot of {owner!r}"
    )
    return owner


def _under_another_id(identity: Identity, snapshot: Snapshot) -> Snapshot:
    """`snapshot` under an id of its own (hashed from its branch and time), so it is saved
    beside the one its branch's id names, never over it."""
    from dataclasses import replace

    return replace(snapshot, id=snapshot_id(identity, f"{snapshot.branch}\0{snapshot.created}"))


def beside_unreadable(store: SnapshotStore, identity: Identity, snapshot: Snapshot) -> Snapshot:
    """`snapshot`, under another id when its own names a record migrail cannot read: the copy
    that record described is left as it is (`snapshot list` names it), never overwritten."""

    if not any(path.stem == snapshot.id for path in store.unreadable()):
        return snapshot
    return _under_another_id(identity, snapshot)


def _keep_older_snapshot(store: SnapshotStore, identity: Identity, save_as: Snapshot) -> Snapshot:
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
        f"so {older.branch!r}'s earlier snapshot is kept as {kept.branch!r}: "
        f"`migrail snapshot restore {kept.branch}` brings it back, "
        f"`migrail snapshot drop {kept.branch}` removes it"
    )
    if save_as.id != older.id:
        return save_as
    return _under_another_id(identity, save_as)


@contextmanager
def _owner_kept_unless_done(
    store: SnapshotStore, identity: Identity, recorded: str | None
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


def _saved_as_it_stands(alias: str, saved: bool) -> None:
    aliases = set(filter(None, os.environ.get(SAVED_ENV, "").split(",")))
    aliases = aliases | {alias} if saved else aliases - {alias}
    os.environ[SAVED_ENV] = ",".join(sorted(aliases))


def note_sync_result(
    repo: GitRepo,
    config: Config,
    from_rev: str | None,
    *,
    synced: bool,
    database: str | None = None,
) -> None:
    """After a switch's or hook's sync: note a failure, so the next snapshot saved of the
    database says what it really holds (the migrations `from_rev`'s code applied)."""
    from django.conf import settings

    if not config.snapshots or not settings.configured:
        return  # Django never started: the database was not touched
    from django.db import connections

    from migrail.sync.journal import unfinished
    from migrail.sync.rollback_safety import database_of, journal_dir
    from migrail.sync.settings import database_aliases

    commit = ""
    if from_rev:
        with suppress(MigrailError):  # a commit gone: sync then finds sources elsewhere
            commit = repo.resolve(from_rev)
    store = snapshot_store(repo)
    for alias in database_aliases(config, database):
        connection = connections[alias]
        identity = identity_of(alias, connection.vendor, settings.DATABASES[alias])
        if synced:
            store.clear_unsynced(identity)
            continue
        try:
            leaves: dict[str, str] | None = applied_leaves(connection)
            if unfinished(journal_dir(repo), database_of(connection)):
                leaves = None  # its backup comes back first: the note holds whatever they are
        except Exception:  # the server is down: the note holds without them
            leaves = None
        store.mark_unsynced(identity, commit, leaves)


def status_line(repo: GitRepo, config: Config, alias: str) -> str | None:
    """For `migrail status`: which branches a switch would restore a snapshot for."""
    if not config.snapshots:
        return None
    from django.conf import settings
    from django.db import connections

    identity = identity_of(alias, connections[alias].vendor, settings.DATABASES[alias])
    snapshots = snapshot_store(repo).all(identity)
    if not snapshots:
        return "  snapshots: on; none saved yet (the next switch saves this branch's)"
    here = current_branch(repo)
    owner = snapshot_store(repo).owner(identity)
    own = next((s for s in snapshots if s.branch == here and not s.named), None)
    if own is not None and owner is not None and owner != here:
        return (
            f"  snapshots: on; the database holds {owner!r}'s data (the switch here did not "
            f"swap it): `migrail sync` saves it as {owner!r}'s and restores this branch's"
        )
    if own is not None and owner is None and branch_exists(repo, here):
        return (
            "  snapshots: on; whose data the database holds is not known (a sync ran with "
            "snapshots off): a switch saves it as this branch's and keeps this branch's "
            "earlier snapshot under a name of its own"
        )
    branches = [
        s.branch
        for s in snapshots
        if not s.named and s.branch != here and branch_exists(repo, s.branch)
    ]
    if not branches:
        return (
            "  snapshots: on; no other branch has one (`migrail snapshot list` shows them); "
            "a switch saves this branch's and goes on"
        )
    return (
        "  snapshots: on; a switch to "
        + ", ".join(repr(b) for b in branches)
        + " restores its snapshot; to any other branch, it saves this one and goes on"
    )


def _usable(
    repo: GitRepo, engine: Engine, store: SnapshotStore, identity: Identity, branch: str | None
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
    made = branch_created(repo, snapshot.branch)
    if made is not None and made > snapshot.created:
        print(
            f"migrail: the snapshot of {snapshot.branch!r} was saved before this branch was "
            "made (an earlier branch of that name was deleted); dropped, not restored"
        )
        drop_snapshot(engine, store, identity, snapshot)
        return None
    return snapshot


RENAMED = re.compile(r"^Branch: renamed refs/heads/(.+) to refs/heads/(.+)$")


def former_names(repo: GitRepo, branch: str) -> list[str]:
    """What `branch` was called before `git branch -m` (its reflog moves with it)."""
    out = repo.run(
        "reflog", "show", "--format=%gs", f"refs/heads/{branch}", "--", check=False
    ).decode(errors="replace")
    names, current = [], branch
    for line in out.splitlines():  # newest first
        match = RENAMED.match(line)
        if match and match.group(2) == current:
            current = match.group(1)
            names.append(current)
    return names


def _renamed(
    repo: GitRepo, store: SnapshotStore, identity: Identity, branch: str
) -> Snapshot | None:
    """The snapshot saved under a name `branch` had, relabelled as `branch`'s."""
    from dataclasses import replace

    for old in former_names(repo, branch):
        snapshot = store.find(identity, old)
        if snapshot is not None and not snapshot.named:
            relabelled = replace(snapshot, branch=branch)
            store.record(relabelled)
            print(f"migrail: the snapshot of {old!r} is {branch!r}'s now (the branch was renamed)")
            return relabelled
    return None


def branch_created(repo: GitRepo, branch: str) -> float | None:
    """When `branch` was made, by its reflog's oldest entry (None: no reflog to tell)."""
    out = repo.run(
        "reflog", "show", "--date=unix", "--format=%gd", f"refs/heads/{branch}", "--", check=False
    ).split()
    match = re.search(r"@\{(\d+)\}$", out[-1].decode()) if out else None
    return float(match.group(1)) if match else None


def _commit_exists(repo: GitRepo, commit: str) -> bool:
    proc = repo.run("cat-file", "-t", commit, check=False).decode().strip()
    return proc == "commit"


def prune_beyond_kept(
    repo: GitRepo,
    engine: Engine,
    store: SnapshotStore,
    identity: Identity,
    kept: int,
    *,
    keep: str = "",
) -> list[Snapshot]:
    """Drop the oldest snapshots of this database beyond `kept` (never `keep`): those of
    detached HEADs and gone branches first (a `git bisect` must not evict every branch's).

    Named snapshots (`migrail snapshot save NAME`) neither count nor go.
    """
    snapshots = [s for s in store.all(identity) if s.id != keep and not s.named]
    snapshots.sort(key=lambda s: (branch_exists(repo, s.branch), s.created))
    excess = len(snapshots) + (1 if keep else 0) - max(kept, 0)
    dropped = snapshots[: max(excess, 0)]
    for snapshot in dropped:
        drop_snapshot(engine, store, identity, snapshot)
    return dropped


def dropped_beyond_kept(snapshot: Snapshot, alias: str, kept: int) -> str:
    return (
        f"migrail: dropped the snapshot of {snapshot.branch!r} (database {alias!r}): beyond "
        f"snapshots_kept = {kept}"
    )


def drop_snapshot(
    engine: Engine, store: SnapshotStore, identity: Identity, snapshot: Snapshot
) -> None:
    run_journalled(engine, store, identity, engine.drop_steps(snapshot), forget=[snapshot.id])


def clear_unsynced_note(repo: GitRepo, connection: Any) -> None:
    """A sync of this database succeeded: it holds its branch's migrations again, so the
    next snapshot saved of it is not labelled `(not synced: …)` (see `note_sync_result`)."""
    identity = identity_of(connection.alias, connection.vendor, connection.settings_dict)
    snapshot_store(repo).clear_unsynced(identity)


def saved_as_it_stands(alias: str) -> bool:
    """Whether this switch saved `alias` as a snapshot, unchanged since (here or in a parent)."""
    return alias in os.environ.get(SAVED_ENV, "").split(",")


def switch_with_snapshots(
    repo: GitRepo, config: Config, branch: str, database: str | None
) -> int | None:
    """`migrail switch` with snapshots on; None when the usual rollback must follow.

    When every database has `branch`'s snapshot and can swap now, git switches first and
    the swap follows, as with the hooks; otherwise this branch's snapshot is saved and
    the usual rollback runs. A switch to the branch checked out saves nothing.
    """
    import subprocess
    import sys

    from migrail.errors import EXIT_CLEAN, EXIT_FINDINGS
    from migrail.sync.settings import database_aliases, setup_django

    setup_django(repo.root, config)
    left = current_branch(repo)
    if left == branch:
        return None
    left_commit = repo.resolve("HEAD")
    aliases = database_aliases(config, database)
    if not all(_can_restore(repo, config, alias, branch) for alias in aliases):
        # The database goes on as `branch`'s: rolled back, then git switches.
        leave_and_arrive(
            repo,
            config,
            left=left,
            left_commit=left_commit,
            arriving=branch,
            database=database,
            restore=False,
        )
        return None
    env = {**os.environ, "MIGRAIL_SKIP": "1"}  # this command does what the hooks would
    switched = subprocess.run(["git", "switch", "--end-of-options", branch], cwd=repo.root, env=env)
    if switched.returncode != 0:
        print(f"migrail: git switch {branch} failed; nothing was changed", file=sys.stderr)
        return EXIT_FINDINGS
    arrival = leave_and_arrive(
        repo, config, left=left, left_commit=left_commit, arriving=branch, database=database
    )
    forward = [sys.executable, "-m", "migrail", "sync"]
    forward += ["--from", arrival.from_rev] if arrival.from_rev else []
    if database:
        forward += ["--database", database]
    status = subprocess.run(forward, cwd=repo.root).returncode
    note_sync_result(repo, config, arrival.from_rev, synced=status == EXIT_CLEAN, database=database)
    return status


def _can_restore(repo: GitRepo, config: Config, alias: str, branch: str) -> bool:
    try:
        with database_engine(repo, config, alias) as (engine, identity, store):
            usable = _usable(repo, engine, store, identity, branch)
            return engine.refusal() is None and usable is not None
    except SnapshotUnavailable:
        return False
