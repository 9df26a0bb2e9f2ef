"""A return trip without Django: a switch to a branch whose snapshot is current.

A switch that starts Django (`switching.leave_and_arrive`) records what the settings
import read and which databases it named (`settings_seen`). On a later switch, when
those inputs hold what they held (`sync.settings_inputs.fingerprint`), every database is
a SQLite file, the branch arrived at has a snapshot that holds exactly the migrations of
the commit checked out (`Snapshot.exact`) and no migration file in the work tree differs
from that commit's, the switch is made here: the same save and restore (`Switch`), with
the databases from that record and nothing left to sync. Anything else (a journal to
finish, a failed sync's note, another branch's data live, a server database) returns
None, and the switch goes the way that starts Django.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from migrail.snapshots import SwitchRecord
from migrail.snapshots.branches import snapshot_store
from migrail.snapshots.settings_seen import inputs_fingerprint, settings_path
from migrail.snapshots.steps import SnapshotUnavailable, finish_journal
from migrail.snapshots.store import SnapshotStore
from migrail.snapshots.switching import Arrival, Opened, Switch
from migrail.sources.checkout_decision import migrations_as_committed
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sync.applied_rows import leaves_of, sqlite_applied_rows
from migrail.sync.identity import DatabaseIdentity
from migrail.sync.journal import any_sync_stopped
from migrail.sync.lock import file_lock
from migrail.sync.output import in_step_line
from migrail.sync.settings_inputs import SettingsInputs

FULL_COMMIT = re.compile(r"[0-9a-f]{40}")  # as git hands hooks their commits


def return_trip(
    repo: GitRepo,
    config: Config,
    previous: str,
    switch: tuple[str, str],
    head: str | None = None,
) -> Arrival | None:
    """Make the switch from `previous` to `head` (None: HEAD) without Django when nothing is
    left to sync after it (see the module's docstring); None, with nothing done, when it
    needs Django."""
    left, arriving = switch
    recorded = _recorded_databases(repo, config)
    if recorded is None:
        return None
    head = head or repo.head()
    if head is None:
        return None
    databases, settings = recorded
    store = snapshot_store(repo)
    if any_sync_stopped(repo):
        return None  # a sync stopped midway: the next one, with Django, recovers it first
    if not all(
        _current(store, db.identity, left=left, arriving=arriving, head=head, settings=settings)
        for db in databases
    ):
        return None
    if not migrations_as_committed(repo.root):
        return None
    started = time.monotonic()
    left_commit = previous if FULL_COMMIT.fullmatch(previous) else repo.resolve(previous)
    switch_made = Switch(repo, config, left, left_commit, arriving, True, SwitchRecord(), head=head)
    arrival = switch_made.swap_each(databases)
    if arrival.exact:  # what the sync would say, with nothing to do
        for database in databases:
            print(in_step_line(database.alias, time.monotonic() - started))
    return arrival


def _current(
    store: SnapshotStore,
    identity: DatabaseIdentity,
    *,
    left: str,
    arriving: str,
    head: str,
    settings: str,
) -> bool:
    """The live database is `left`'s as a switch with Django left it, and `arriving`'s
    snapshot holds exactly `head`'s migrations under the settings `settings` names."""
    if store.journal_path(identity).exists() or store.unsynced(identity) is not None:
        return False
    if store.owner(identity) != left:
        return False
    waiting = store.find(identity, arriving)
    return (
        waiting is not None
        and waiting.exact == settings
        and waiting.synced
        and not waiting.named
        and waiting.commit == head
        and store.file_for(waiting).is_file()
    )


@dataclass(frozen=True)
class RecordedDatabase:
    """A SQLite database as the last switch with Django found it in the settings."""

    repo: GitRepo
    alias: str
    identity: DatabaseIdentity
    live: str

    @contextmanager
    def opened(self) -> Iterator[Opened]:
        from migrail.engines.sqlite import SqliteSnapshots

        store = snapshot_store(self.repo)
        with file_lock(self.repo.migrail_dir / "locks", self.alias, self.identity.key):
            engine = SqliteSnapshots(self.live, store, None)
            if finish_journal(engine, store, self.identity):  # another run's, since the check
                print(
                    f"migrail: finished an interrupted snapshot switch of database {self.alias!r}"
                )
            yield engine, self.identity, store, _applied_leaves(self.live)


def _applied_leaves(path: str) -> dict[str, str]:
    """The last applied migration of each app, as `branches.applied_leaves` reads them."""
    try:
        connection = sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as err:
        raise SnapshotUnavailable(f"cannot open {path}: {err}") from err
    try:
        return leaves_of(sqlite_applied_rows(connection))
    except sqlite3.Error as err:
        raise SnapshotUnavailable(f"cannot read django_migrations in {path}: {err}") from err
    finally:
        connection.close()


def _recorded_databases(repo: GitRepo, config: Config) -> tuple[list[RecordedDatabase], str] | None:
    """The databases the last switch with Django found, if the settings would name them
    again, and the settings' key (`settings_key`) now; None when they may not."""
    try:
        data = json.loads(settings_path(repo).read_text())
        inputs = SettingsInputs.from_json(data["inputs"])
        databases = [
            RecordedDatabase(
                repo,
                str(entry["alias"]),
                DatabaseIdentity.from_json(entry["identity"]),
                str(entry["live"]),
            )
            for entry in data["databases"]
        ]
        recorded = str(data["fingerprint"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if inputs_fingerprint(repo, config, inputs, os.environ) != recorded:
        return None
    if not databases or any(
        db.identity.vendor != "sqlite" or not Path(db.live).is_file() for db in databases
    ):
        return None
    return databases, recorded
