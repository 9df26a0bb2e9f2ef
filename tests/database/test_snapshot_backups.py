"""A backup taken while another branch's data is live (a switch that did not swap) is
labelled with the branch whose data it holds, through real git and hooks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.database.test_snapshots import item_names, skipped_switch, start
from tests.databases import PG_DSN, database_settings
from tests.djangoproject import DjangoProject


def listed_branches(project: DjangoProject) -> list[str]:
    """The BRANCH column of `migrail restore --list`, newest first."""
    proc = project.migrail("restore", "--list")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    column = lines[0].index("BRANCH")
    return [line[column:].split()[0] for line in lines[1:] if not line.startswith("migrail:")]


def test_a_rollback_of_another_branchs_live_data_is_labelled_with_that_branch(
    project: DjangoProject,
) -> None:
    """main's rows are live on feature (the switch skipped), migrated there by hand; the switch
    back to main rolls feature's migrations back: its backup holds main's rows, so says main."""
    start(project, snapshots=True)
    project.git("switch", "main")  # feature's snapshot saved
    project.query("INSERT INTO shop_item (name) VALUES (1)")  # main's row
    skipped_switch(project, "feature")
    proc = project.manage("migrate")  # by hand: main's rows, feature's migrations
    assert proc.returncode == 0, proc.stderr
    out = project.git("switch", "main")
    assert "still holds the data of 'main'" in out
    assert "migrail: backed up database 'default'" in out
    assert listed_branches(project) == ["main"]
    assert item_names(project) == [[1]]


def test_a_dev_servers_fallback_then_the_switch_back_labels_the_backup_by_its_data(
    tmp_path: Path,
) -> None:
    """PostgreSQL: a session held the database through the switch to feature, which synced
    main's rows to feature's migrations; the switch back rolls them back after a backup of
    main's rows, labelled main (it said feature, the branch checked out when it fell back)."""
    psycopg = pytest.importorskip("psycopg")

    with database_settings("postgresql", tmp_path) as (settings, _):
        project = DjangoProject(tmp_path / "repo", database=settings)
        start(project, snapshots=True)
        project.git("switch", "main")  # feature saved
        project.query("INSERT INTO shop_item (name) VALUES (2)")
        dsn = PG_DSN.replace("dbname=postgres", f"dbname={settings['NAME']}")
        with psycopg.connect(dsn, autocommit=True):  # a dev server: no snapshot, a sync
            out = project.git("switch", "feature")
        assert "syncing without snapshots instead" in out
        out = project.git("switch", "main")
        assert "migrail: backed up database 'default'" in out
        assert listed_branches(project) == ["main"]
        assert item_names(project) == [[2]]
