"""Every git command that moves HEAD and the work tree is followed by a sync, through the
scripts `migrail install` wrote: revert, cherry-pick, a merge concluded by `git commit`, and
`reset --hard`; and the ordinary commands that leave the work tree as it was (a commit,
`reset --soft`) start nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.by_hand import assert_same_as_by_hand, copy_database, migrate_by_hand
from tests.cli.test_installed_hooks import (
    add,
    applied,
    git,
    install,
    sync_with_user_rows,
)
from tests.djangoproject import USER_ROWS_ADDED, DjangoProject, real_project, user_rows
from tests.scenarios import main_branch

PRICE = ["shop", "0002_price"]


@pytest.fixture
def project(tmp_path: Path) -> DjangoProject:
    p = real_project(tmp_path / "repo", tmp_path / "packages")
    main_branch(p)
    install(p)
    sync_with_user_rows(p)
    return p


def priced(p: DjangoProject) -> str:
    """A commit on main adding shop.0002_price, applied by the hooks; returns its id."""
    add(p, "shop", "0002_price", "0001_initial")
    commit = p.commit("price")
    status, out = git(p, "commit", "--allow-empty", "-qm", "nothing: a plain commit")
    assert status == 0, out
    assert "migrail" not in out  # a plain commit moves no work tree: nothing runs
    sync = p.migrail("sync")
    assert sync.returncode == 0, sync.stdout + sync.stderr
    assert PRICE in applied(p)
    return commit


def by_hand_first(p: DjangoProject, *target: str) -> str:
    """A copy of the database, with `manage.py migrate TARGET` run on it by the code checked
    out now (before git moves): the first half of the by-hand sequence."""
    copy = str(p.root.parent / "by-hand.sqlite3")
    copy_database(p, copy)
    if target:
        migrate_by_hand(p, copy, *target)
    return copy


def then_same_as_by_hand(p: DjangoProject, copy: str) -> None:
    """The second half (`manage.py migrate` with the new checkout), then every row compared."""
    migrate_by_hand(p, copy)
    assert_same_as_by_hand(p, copy)


def test_a_revert_unapplies_what_the_reverted_commit_applied(project: DjangoProject) -> None:
    commit = priced(project)
    copy = by_hand_first(project, "shop", "0001_initial")
    status, out = git(project, "revert", "--no-edit", commit)
    assert status == 0, out
    assert "  - unapplying shop.0002_price (" in out
    assert PRICE not in applied(project)
    assert user_rows(project) == USER_ROWS_ADDED
    then_same_as_by_hand(project, copy)


def test_a_cherry_pick_applies_what_it_brings(project: DjangoProject) -> None:
    project.git("switch", "-q", "-c", "feature")
    add(project, "shop", "0002_price", "0001_initial")
    commit = project.commit("price")
    git(project, "switch", "-q", "main")
    assert PRICE not in applied(project)
    copy = by_hand_first(project)
    status, out = git(project, "cherry-pick", commit)
    assert status == 0, out
    assert "  + applying shop.0002_price (" in out
    assert PRICE in applied(project)
    then_same_as_by_hand(project, copy)


def test_a_hard_reset_unapplies_and_a_soft_one_starts_nothing(project: DjangoProject) -> None:
    priced(project)
    status, out = git(project, "reset", "--soft", "HEAD~2")
    assert (status, said_nothing(out)) == (0, True), out
    assert PRICE in applied(project)  # the work tree still has it
    git(project, "reset", "-q", "--hard", "HEAD@{1}")
    copy = by_hand_first(project, "shop", "0001_initial")
    status, out = git(project, "reset", "--hard", "HEAD~2")
    assert status == 0, out
    assert "  - unapplying shop.0002_price (" in out
    assert PRICE not in applied(project)
    assert user_rows(project) == USER_ROWS_ADDED
    then_same_as_by_hand(project, copy)


def test_a_merge_concluded_by_commit_syncs(project: DjangoProject) -> None:
    project.git("switch", "-q", "-c", "feature")
    add(project, "billing", "0002_paid", "0001_initial")
    project.write("NOTES", "feature\n")
    project.commit("paid")
    git(project, "switch", "-q", "main")
    project.write("NOTES", "main\n")
    project.commit("notes")
    status, out = git(project, "merge", "feature")
    assert status != 0, out  # NOTES conflicts: no post-merge
    assert ["billing", "0002_paid"] not in applied(project)
    project.write("NOTES", "both\n")
    project.git("add", "NOTES")
    copy = by_hand_first(project)
    status, out = git(project, "commit", "--no-edit")
    assert status == 0, out
    assert "  + applying billing.0002_paid (" in out
    assert ["billing", "0002_paid"] in applied(project)
    then_same_as_by_hand(project, copy)


def said_nothing(out: str) -> bool:
    return "migrail" not in out


def test_a_message_only_amend_or_a_revert_of_other_files_starts_no_sync(
    project: DjangoProject,
) -> None:
    priced(project)
    status, out = git(project, "commit", "--amend", "--allow-empty", "-qm", "said better")
    assert status == 0, out
    assert "migrail" not in out  # no migration or settings file changed: nothing to sync
    project.write("README", "words\n")
    words = project.commit("words")
    status, out = git(project, "revert", "--no-edit", words)
    assert status == 0, out
    assert "migrail" not in out
