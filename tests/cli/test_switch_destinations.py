"""`migrail switch` takes what `git switch` takes (a local branch, the one remote branch of a
name, `-c NEW [START]`, `--detach REV`), and for anything else says what was meant: in
process, on a real repository, before anything changes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from migrail.commands.switch import Destination, destination_of
from migrail.errors import MigrailError
from migrail.sources.gitrepo import GitRepo


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    git(
        origin,
        "-c",
        "user.name=T",
        "-c",
        "user.email=t@e",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "one",
    )
    git(origin, "branch", "feature/remote-only")
    root = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(root))
    git(root, "branch", "feature/login")
    git(root, "tag", "v1.0")
    return GitRepo.discover(root)


def refused(repo: GitRepo, name: str | None, **how: object) -> str:
    with pytest.raises(MigrailError) as raised:
        destination_of(repo, name, **how)  # type: ignore[arg-type]
    return str(raised.value)


def test_a_local_branch_is_switched_to_as_it_is(repo: GitRepo) -> None:
    head = repo.resolve("HEAD")
    assert destination_of(repo, "feature/login") == Destination(
        ("--end-of-options", "feature/login"), head, "feature/login"
    )


def test_the_one_remote_branch_of_a_name_is_tracked_as_git_guesses(repo: GitRepo) -> None:
    found = destination_of(repo, "feature/remote-only")
    assert found.git_args == ("--track", "--end-of-options", "origin/feature/remote-only")
    assert found.commit == repo.resolve("HEAD")


def test_create_and_detach(repo: GitRepo) -> None:
    head = repo.resolve("HEAD")
    assert destination_of(repo, None, create="topic") == Destination(
        ("-c", "topic", "--end-of-options"), head, "topic"
    )
    assert destination_of(repo, "v1.0", create="hotfix").git_args == (
        "-c",
        "hotfix",
        "--end-of-options",
        "v1.0",
    )
    assert destination_of(repo, "v1.0", detach=True) == Destination(
        ("--detach", "--end-of-options", "v1.0"), head, "v1.0"
    )


def test_what_is_not_a_local_branch_is_named_with_the_command_meant(repo: GitRepo) -> None:
    unchanged = "; nothing was changed"
    assert refused(repo, "v1.0") == (
        "'v1.0' is a tag, not a branch: `migrail switch --detach v1.0` checks it out, "
        f"`migrail switch -c NEW v1.0` starts a branch there{unchanged}"
    )
    assert refused(repo, "origin/main") == (
        "'origin/main' is a remote branch: `migrail switch main` makes a local branch tracking "
        f"it (or `migrail switch -c NEW origin/main`){unchanged}"
    )
    assert refused(repo, "feature/logn") == (
        f"no local branch 'feature/logn' (did you mean 'feature/login'?){unchanged}"
    )
    assert refused(repo, "zzz") == (
        f"no local branch 'zzz' (`migrail switch -c zzz` makes one here){unchanged}"
    )
    head = repo.resolve("HEAD")
    assert refused(repo, head[:10]) == (
        f"{head[:10]!r} is a commit, not a branch: `migrail switch --detach {head[:10]}`{unchanged}"
    )
    assert refused(repo, None, create="feature/login") == (
        "a branch named 'feature/login' already exists (`migrail switch feature/login` switches "
        f"to it){unchanged}"
    )
    assert refused(repo, None, create="bad..name") == (
        f"'bad..name' is not a valid branch name{unchanged}"
    )
    assert refused(repo, "nowhere", detach=True) == (
        f"'nowhere' is not a commit git knows{unchanged}"
    )


def test_a_dash_is_the_branch_checked_out_before(repo: GitRepo) -> None:
    with pytest.raises(MigrailError, match="`-` names the branch checked out before"):
        destination_of(repo, "-")  # no checkout yet: nothing before
    git(repo.root, "switch", "-q", "-c", "topic")
    assert destination_of(repo, "-").git_args == ("--end-of-options", "main")
    git(repo.root, "switch", "-q", "--detach", "main")
    git(repo.root, "switch", "-q", "topic")
    with pytest.raises(MigrailError, match="a detached HEAD"):
        destination_of(repo, "-")  # git switch - would want --detach
