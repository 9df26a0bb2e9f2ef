"""Whether a snapshot is of an earlier branch of the same name: the reflog counts whole
seconds, so within the second a snapshot was saved, the creation time saved with it decides."""

from __future__ import annotations

from migrail.snapshots.store import Snapshot
from migrail.snapshots.switching import _older_than_its_branch
from migrail.sync.identity import DatabaseIdentity

IDENTITY = DatabaseIdentity("sqlite", "db.sqlite3", "", "", "default")


def saved(created: float, branch_made: float | None) -> Snapshot:
    return Snapshot("0" * 20, "feature", "c" * 40, IDENTITY, {}, created, branch_made=branch_made)


def test_made_after_the_save_is_another_branch() -> None:
    assert _older_than_its_branch(101.0, saved(100.4, 90.0))
    assert _older_than_its_branch(101.0, saved(100.4, None))  # a record from before


def test_within_the_second_of_the_save_the_saved_creation_time_decides() -> None:
    assert _older_than_its_branch(100.0, saved(100.4, 90.0))  # deleted, made again at once
    assert not _older_than_its_branch(100.0, saved(100.4, 100.0))  # made, then saved at once
    assert not _older_than_its_branch(100.0, saved(100.4, None))  # not known: restored


def test_made_before_the_save_is_its_own() -> None:
    assert not _older_than_its_branch(90.0, saved(100.4, 90.0))
    assert not _older_than_its_branch(80.0, saved(100.4, 90.0))  # reflog expired since
