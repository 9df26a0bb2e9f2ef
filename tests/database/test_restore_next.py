"""After `migrail restore`, the next step is named, and the runs after it are quiet.

A backup taken when leaving a branch holds that branch's migrations; restored on another
checkout, the database has migrations this tree lacks, which only that commit's code can
unapply: restore says which command puts the database back in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.database.test_restore import ROWS, backups, rolled_back
from tests.databases import database_settings
from tests.djangoproject import DjangoProject, real_project
from tests.scenarios import feature_branch, main_branch, sync


def switched_back_by_the_hook(project: DjangoProject) -> Path:
    """Rows on feature, then `git switch main`: the hook's backup records feature's commit."""
    main_branch(project)
    assert project.migrail("install").returncode == 0
    sync(project)
    feature_branch(project)
    sync(project)
    project.query("INSERT INTO shop_item (name, stock) VALUES (1, 9), (2, 8)")
    project.git("switch", "-q", "main")
    (dump,) = [p for p in backups(project).iterdir() if not p.name.endswith(".json")]
    return dump


@pytest.mark.parametrize("vendor", ["sqlite", "postgresql", "mariadb"])
def test_restore_names_the_sync_that_follows_and_the_next_runs_are_quiet(
    tmp_path: Path, vendor: str
) -> None:
    with database_settings(vendor, tmp_path) as (settings, _):
        project = real_project(tmp_path / "repo", tmp_path / "packages", settings)
        project.apps.append("migrail")
        project.write_settings()
        dump = switched_back_by_the_hook(project)
        feature = project.git("rev-parse", "feature").strip()
        on_main = project.schema()
        proc = project.migrail("restore", dump.name)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""
        assert proc.stdout.splitlines()[-1] == f"migrail: next: migrail sync --from {feature[:12]}"
        status = project.migrail("status")
        assert status.returncode == 1, status.stdout + status.stderr
        assert status.stderr == ""
        proc = project.migrail("sync", "--from", feature[:12])
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""
        assert project.schema() == on_main
        assert project.query(ROWS) == [[1, 1], [2, 2]]


def test_restore_of_the_trees_own_state_names_no_next_step(tmp_path: Path) -> None:
    project = real_project(tmp_path / "repo", tmp_path / "packages")
    dump = rolled_back(project)
    undo_proc = project.migrail("restore", dump.name)
    undo = re.search(r"to undo this, run `migrail restore (\S+)`", undo_proc.stdout)
    assert undo, undo_proc.stdout
    proc = project.migrail("restore", undo.group(1))
    assert proc.returncode == 0, proc.stderr
    assert "next:" not in proc.stdout
    assert project.migrail("status").returncode == 0
