"""What `GitRepo` reads from git's files instead of asking git (the branch checked out, the
last checkout's move, when a branch was made) equals what git answers, in a plain
repository and in a linked worktree, and git answers when the files are not there."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrail.sources.gitrepo import GitRepo
from tests.djangoproject import git


def git_says(repo: GitRepo) -> tuple[str, str, float | None]:
    """The same three facts from git's commands."""
    branch = git(repo.root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).strip()
    subject = git(repo.root, "reflog", "-n1", "--format=%gs", "HEAD", check=False).strip()
    out = git(repo.root, "reflog", "show", "--date=unix", "--format=%gd", "refs/heads/main", "--")
    oldest = out.split()[-1].rpartition("@{")[2].rstrip("}") if out.split() else ""
    return branch, subject, float(oldest) if oldest else None


def commit(root: Path, name: str, when: int) -> None:
    (root / name).write_text(name)
    git(root, "add", name)
    stamp = f"@{when} +0000"
    env = {"GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": stamp}
    git(root, "commit", "-qm", name, env=env)


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    git(tmp_path, "init", "-q", "-b", "main")
    commit(tmp_path, "a", 1_700_000_000)
    git(tmp_path, "branch", "feature")
    commit(tmp_path, "b", 1_700_000_100)
    return GitRepo.discover(tmp_path)


def test_files_say_what_git_says(repo: GitRepo) -> None:
    git(repo.root, "checkout", "-q", "feature")
    branch, subject, _ = git_says(repo)
    assert (repo.branch(), repo.checkout_moved()) == ("feature", ("main", "feature"))
    assert subject == "checkout: moving from main to feature"
    assert branch == "feature"
    assert repo.branch_created("main") == git_says(repo)[2] is not None
    assert repo.branch_created("no-such-branch") is None

    git(repo.root, "checkout", "-q", "--detach", "main")
    assert repo.branch() == "" == git_says(repo)[0]
    assert repo.checkout_moved() == ("feature", "main")

    git(repo.root, "switch", "-q", "feature")
    commit(repo.root, "c", 1_700_000_200)  # the newest entry is a commit, not a checkout
    assert repo.checkout_moved() is None
    assert git_says(repo)[1].startswith("commit: ")


def test_a_linked_worktree_reads_its_own_head(repo: GitRepo, tmp_path: Path) -> None:
    other = tmp_path / "other"
    git(repo.root, "worktree", "add", "-q", str(other), "feature")
    linked = GitRepo.discover(other)
    assert linked.branch() == "feature"
    assert repo.branch() == "main"
    git(other, "checkout", "-q", "-b", "topic")
    assert linked.checkout_moved() == ("feature", "topic")
    assert repo.checkout_moved() is None  # the main work tree's HEAD did not move
    assert linked.branch_created("main") == repo.branch_created("main")


def test_git_answers_when_the_files_do_not(repo: GitRepo) -> None:
    git(repo.root, "checkout", "-q", "feature")
    (repo.git_dir / "logs" / "HEAD").unlink()  # no reflog file: git's answer (none either)
    assert repo.checkout_moved() is None
    (repo.common_dir / "logs" / "refs" / "heads" / "main").write_text("")
    assert repo.branch_created("main") is None  # an empty reflog, as git reads it


def test_a_long_last_line_is_not_misread(repo: GitRepo) -> None:
    git(repo.root, "checkout", "-q", "feature")
    head = git(repo.root, "rev-parse", "HEAD").strip()
    log = repo.git_dir / "logs" / "HEAD"
    subject = "commit: " + "x" * 20_000  # longer than the end of the file migrail reads
    log.write_text(log.read_text() + f"{head} {head} A <a@b> 1700000300 +0000\t{subject}\n")
    assert git_says(repo)[1] == subject
    assert repo.checkout_moved() is None  # git's answer for that entry: not a checkout
