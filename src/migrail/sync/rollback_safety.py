"""What sync does around a rollback to keep the database safe: clear a killed run's
leftovers, bring back the backup of an interrupted run, back up, journal.

Sync calls these at four points; the rules live here.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from migrail.engines import rules_for
from migrail.errors import MigrailError
from migrail.graph.parser import Key
from migrail.repair.merge_state import branch_being_rebased
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sources.old_tree import remove_dead_trees
from migrail.sources.processes import process_alive
from migrail.sync.applied_rows import django_applied_rows
from migrail.sync.backup import (
    Backup,
    Origin,
    delete_backup,
    list_backups,
    prune,
    remove_leftovers,
    take_backup,
)
from migrail.sync.backup_check import BadBackup, verify_backup
from migrail.sync.backup_load import load_backup
from migrail.sync.identity import DatabaseIdentity, identity_of
from migrail.sync.journal import begin, finish, journal_dir, protected_backups, unfinished

ROLLBACK_DIRECTORY_PREFIX = "migrail-rollback-"


def backups_dir(repo: GitRepo) -> Path:
    return repo.migrail_dir / "backups"


def database_of(connection: Any) -> DatabaseIdentity:
    return identity_of(connection.alias, connection.vendor, connection.settings_dict)


def interrupted_sync_note(repo: GitRepo, connection: Any) -> str | None:
    """What the next sync does first when the last one stopped midway through a rollback it
    cannot take back in a transaction (MySQL/MariaDB): for status and dry runs."""
    journal = unfinished(journal_dir(repo), database_of(connection))
    if journal is None or journal.transactional or not journal.backup:
        return None
    return (
        f"migrail: the last sync of database {connection.alias!r} stopped midway; "
        f"`migrail sync` will first back up the database as it stands, then restore "
        f"{journal.backup}, taken before it"
    )


def recover_interrupted_sync(
    repo: GitRepo, config: Config, connection: Any, *, dry_run: bool = False
) -> None:
    """Before planning: remove a killed run's files; undo an interrupted non-transactional run.

    What was written since the run stopped is backed up first, so the undo loses nothing.
    A dry run only says what the real one will do first.
    """
    database = database_of(connection)
    journal = unfinished(journal_dir(repo), database)
    alias = connection.alias
    if dry_run:
        if note := interrupted_sync_note(repo, connection):
            print(note)
        return
    remove_stale_rollback_directories()
    remove_dead_trees(repo)
    remove_leftovers(backups_dir(repo), protected_backups(journal_dir(repo)))
    if journal is None:
        return
    if journal.transactional:
        print(
            f"migrail: the last sync of database {alias!r} stopped midway; "
            "its transaction was rolled back"
        )
        finish(journal_dir(repo), database)
        return
    if journal.backup is None:
        print(
            f"migrail: the last sync of database {alias!r} stopped midway and took no backup "
            "(--no-backup); going on from where it stopped"
        )
        finish(journal_dir(repo), database)
        return
    found = [b for b in list_backups(backups_dir(repo)) if b.name == journal.backup]
    if not found:
        raise MigrailError(
            f"the last sync of database {alias!r} stopped midway, and the backup taken before it "
            f"({journal.backup}) is gone; nothing was changed. Start the database afresh, or "
            f"remove {journal_dir(repo)} to go on from where it stopped"
        )
    verify_backup(found[0])
    as_it_stands = back_up(repo, config, connection, None)
    print(
        f"migrail: the last sync of database {alias!r} stopped midway; restoring "
        f"{journal.backup}, taken before it, then planning again (the database as it stood, "
        f"with anything written since, is backed up: `migrail restore {as_it_stands.name}`)"
    )
    connection.close()
    load_backup(found[0], connection.settings_dict)
    finish(journal_dir(repo), database)


def backup_before_rollback(
    repo: GitRepo, config: Config, connection: Any, from_rev: str | None, data_of: str | None
) -> Backup:
    """A backup before the rollback; older ones are pruned once it is known to be needed
    (`prune_backups`), so a rollback that changes nothing costs none of them."""
    backup = back_up(repo, config, connection, from_rev, data_of, prune=False)
    print(
        f"migrail: backed up database {connection.alias!r} to {backup.path}; "
        f"`migrail restore {backup.name}` brings it back"
    )
    return backup


def discard_backup(backup: Backup) -> None:
    """The backup of a rollback that changed nothing: the database holds what it holds."""
    delete_backup(backup)
    print(f"migrail: removed backup {backup.name}: the rollback changed nothing")


def prune_backups(repo: GitRepo, config: Config) -> None:
    """Keep the newest `backups_kept` of each database, and any an unfinished sync needs."""
    prune(backups_dir(repo), config.backups_kept, protected_backups(journal_dir(repo)))


def back_up(
    repo: GitRepo,
    config: Config,
    connection: Any,
    from_rev: str | None,
    data_of: str | None = None,
    *,
    prune: bool = True,
) -> Backup:
    """A backup of the database as it stands, kept by the rules sync's backups follow (older
    ones pruned now, unless `prune` is false: the caller prunes when it knows)."""
    origin = origin_of(repo, config, from_rev, applied := django_applied_rows(connection), data_of)
    backup = take_backup(
        backups_dir(repo),
        database_of(connection),
        connection.settings_dict,
        origin=origin,
        applied=applied,
        live_name=rules_for(connection.vendor).connected_database(connection),
    )
    if prune:
        prune_backups(repo, config)
    return backup


def begin_rollback(
    connection: Any, repo: GitRepo, unapply: Sequence[Key], backup: Backup | None
) -> None:
    """The journal, on disk before the first change."""
    begin(
        journal_dir(repo),
        database_of(connection),
        unapply,
        backup.name if backup else None,
        transactional=bool(connection.features.can_rollback_ddl),
    )


def end_rollback(connection: Any, repo: GitRepo) -> None:
    finish(journal_dir(repo), database_of(connection))


def usable_backups(repo: GitRepo, alias: str, vendor: str, settings: Any) -> list[Backup]:
    """Backups of this database that pass every check, newest first."""
    database = identity_of(alias, vendor, settings)
    usable = []
    for backup in list_backups(backups_dir(repo)):
        if not backup.database.same_database(database):
            continue
        try:
            verify_backup(backup)
        except BadBackup:
            continue
        usable.append(backup)
    return usable


def origin_of(
    repo: GitRepo,
    config: Config,
    from_rev: str | None,
    applied: Sequence[Key] = (),
    data_of: str | None = None,
) -> Origin:
    """The branch and commit whose migrations the database holds now (mid-rebase, the
    branch being rebased as it was: HEAD is only the new base).

    Without `from_rev`, HEAD's, if it has every applied migration of its apps; else the
    branch the last checkout left, if that has them (a switch with the hooks off); else
    unknown, never a branch whose data it is not. `data_of`: the branch whose data it holds,
    when a feature knows it (a switch that did not swap left another branch's data live): the
    branch named, with the commit found as above.
    """
    if data_of:
        return Origin(data_of, origin_of(repo, config, from_rev, applied).commit)
    if from_rev is None and (rebasing := branch_being_rebased(repo)):
        return Origin(*rebasing)
    try:
        commit = repo.resolve(from_rev or "HEAD")
    except MigrailError:
        commit = ""  # an unborn branch
    if from_rev is not None:
        out = (
            repo.run("branch", "--format=%(refname:short)", "--points-at", commit, check=False)
            if commit
            else b""
        )
        names = out.decode().split() or _moved_on_from(repo, commit)
        return Origin(_branch_left(repo, names) or (names[0] if names else ""), commit)
    branch = repo.branch()
    if not commit or _holds(repo, config, commit, applied):
        return Origin(branch, commit)
    left = _checkout_left(repo)
    if left and (tip := _branch_tip(repo, left)) and _holds(repo, config, tip, applied):
        return Origin(left, tip)
    return Origin("", "")


def _moved_on_from(repo: GitRepo, commit: str) -> list[str]:
    """The branch checked out, when `commit` was its tip before its last move (a revert,
    a cherry-pick, a reset on it): the data is that branch's, though it points on."""
    branch = repo.branch()
    if not branch or not commit:
        return []
    before = repo.run("rev-parse", "--verify", "--quiet", f"{branch}@{{1}}", check=False)
    return [branch] if before.decode().strip() == commit else []


def _holds(repo: GitRepo, config: Config, commit: str, applied: Sequence[Key]) -> bool:
    """Whether `commit` has every applied migration of the apps it has."""
    from migrail.sync.plan import static_target

    target = static_target(repo, config, commit)
    return all(key in target.keys for key in applied if key[0] in target.apps)


def _checkout_left(repo: GitRepo) -> str | None:
    moved = repo.checkout_moved()
    return moved[0] if moved else None


def _branch_tip(repo: GitRepo, branch: str) -> str:
    ref = f"refs/heads/{branch}"
    return repo.run("rev-parse", "--verify", "--quiet", ref, check=False).decode().strip()


def _branch_left(repo: GitRepo, names: list[str]) -> str | None:
    """Of several branches at the commit, the one the last checkout left (the reflog's
    "checkout: moving from A to B"), which is the one whose database this was."""
    if len(names) < 2:
        return None
    left = _checkout_left(repo)
    return left if left in names else None


def remove_stale_rollback_directories() -> None:
    """`migrail-rollback-PID-*` directories whose process is gone: a killed sync's."""
    for path in Path(tempfile.gettempdir()).glob(f"{ROLLBACK_DIRECTORY_PREFIX}*-*"):
        pid = path.name[len(ROLLBACK_DIRECTORY_PREFIX) :].split("-", 1)[0]
        if (
            pid.isdigit()
            and not process_alive(int(pid))
            and path.is_dir()
            and not path.is_symlink()
        ):
            shutil.rmtree(path, ignore_errors=True)
