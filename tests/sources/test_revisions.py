"""Revisions a user gives reach git only as revisions: a bad one ends the command, named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.djangoproject import DjangoProject
from tests.scenarios import base, diverge, repository_state


def test_rebase_onto_an_option_during_a_merge(project: DjangoProject) -> None:
    base(project)
    diverge(project, ["0003_stock"], ["0003_color"])
    project.git("merge", "main", check=False)
    before = repository_state(project)
    proc = project.migrail("rebase", "--onto=-d")
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        2,
        "",
        "migrail: error: unknown revision '-d'\n",
    )
    assert repository_state(project) == before


def test_rebase_onto_nothing(project: DjangoProject) -> None:
    base(project)
    diverge(project, ["0003_stock"], ["0003_color"])
    before = repository_state(project)
    proc = project.migrail("rebase", "--onto=")
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        2,
        "",
        "migrail: error: unknown revision ''\n",
    )
    assert repository_state(project) == before


@pytest.mark.parametrize("rev", ["--output={out}", ""])
def test_sync_from_is_validated(project: DjangoProject, tmp_path: Path, rev: str) -> None:
    base(project)
    out = tmp_path / "written-by-git"
    rev = rev.format(out=out)
    proc = project.migrail("sync", f"--from={rev}")
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        2,
        "",
        f"migrail: error: unknown revision {rev!r}\n",
    )
    assert not out.exists()
    assert not (project.root / "db.sqlite3").exists()  # nothing was migrated


def test_check_rev_empty_is_not_the_working_tree(project: DjangoProject) -> None:
    base(project)
    proc = project.migrail("check", "--rev=")
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        2,
        "",
        "migrail: error: unknown revision ''\n",
    )


def test_hook_arguments_never_reach_git_as_options(project: DjangoProject, tmp_path: Path) -> None:
    """`migrail hook` can be typed by hand: its commits are still only commits to git."""
    base(project)
    out = tmp_path / "written-by-git"
    proc = project.migrail("hook", "post-checkout", "--", f"--output={out}", "HEAD", "1")
    assert "Traceback" not in proc.stderr
    assert not out.exists()
