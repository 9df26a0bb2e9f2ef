"""Branch snapshots: every branch keeps its own data, on real databases, through real hooks."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from tests.databases import MARIADB, PG_DSN, database_settings
from tests.djangoproject import (
    USER_ROWS_ADDED,
    DjangoProject,
    add_field,
    add_user_rows,
    git,
    migration_source,
    real_project,
    run_env,
    user_rows,
)
from tests.scenarios import base, diverge, feature_branch, fresh_schema, main_branch, sync

HINT = (
    "migrail: this rollback drops tables or columns that hold rows; to keep each branch's data "
    "instead, run `git config migrail.snapshots true`"
)
IRREVERSIBLE = "migrations.RunSQL('UPDATE shop_item SET name = name'),\n" + add_field(
    "item", "stock"
)


@pytest.fixture(autouse=True)
def drop_snapshot_databases(tmp_path: Path) -> Iterator[None]:
    """The server databases and schemas snapshots made, dropped after each test."""
    yield
    for meta in tmp_path.glob("**/.git/migrail/snapshots/*.json"):
        try:
            data = json.loads(meta.read_text())
        except ValueError:
            continue  # a record a test tore on purpose (SQLite: its file goes with tmp_path)
        if meta.name.startswith("journal-") or "identity" not in data:
            continue
        name = "migrail_snap_" + data["id"]
        if data["identity"]["vendor"] == "postgresql":
            import psycopg

            with psycopg.connect(PG_DSN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        elif data["identity"]["vendor"] == "mysql":
            import pymysql

            admin = pymysql.connect(autocommit=True, **MARIADB)
            with admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            admin.close()


def start(project: DjangoProject, *, snapshots: bool, extra: str = "", **feature: str) -> None:
    """main, then feature (hooks installed) with its migrations applied; main has no snapshot.

    (Creating feature saved main's; it is dropped, so leaving feature finds none for main.)
    """
    if snapshots:
        project.write("pyproject.toml", f"[tool.migrail]\nsnapshots = true\n{extra}")
    main_branch(project)
    assert project.migrail("install").returncode == 0
    sync(project)
    feature_branch(project, **feature)
    sync(project)
    if snapshots:
        proc = project.migrail("snapshot", "drop", "main")
        assert proc.returncode == 0, proc.stdout + proc.stderr


def stored(project: DjangoProject) -> list[dict[str, object]]:
    """The snapshot records that can be read."""
    directory = project.root / ".git/migrail/snapshots"
    found = []
    for path in sorted(directory.glob("*.json")):
        if not path.name.startswith("journal-"):
            with suppress(ValueError):
                found.append(json.loads(path.read_text()))
    return found


@pytest.mark.parametrize("snapshots", [True, False], ids=["snapshots", "rollback"])
def test_a_feature_column_keeps_its_rows_across_a_return_trip(
    db_project: tuple[DjangoProject, str], snapshots: bool
) -> None:
    project, fresh_name = db_project
    start(project, snapshots=snapshots)
    project.query("INSERT INTO shop_item (name, stock) VALUES (7, 5)")

    out = project.git("switch", "main")
    assert "- shop.0002_stock" in out  # main has no snapshot: the copy is rolled back
    main_schema = project.schema()
    assert main_schema == fresh_schema(project, fresh_name)
    if snapshots:
        assert (
            "migrail: saved database 'default' as the snapshot of 'feature'; 'main' has no " in out
        )
        assert HINT not in out
    else:
        assert HINT in out
    project.query("INSERT INTO shop_item (name) VALUES (8)")

    out = project.git("switch", "feature")
    assert project.schema() == fresh_schema(project, fresh_name)
    rows = project.query("SELECT name, stock FROM shop_item ORDER BY id")
    if snapshots:
        assert "migrail: saved database 'default' as the snapshot of 'main' and restored " in out
        assert rows == [[7, 5]]  # feature's own data, main's row stays on main
        project.git("switch", "main")
        assert project.query("SELECT name FROM shop_item ORDER BY id") == [[7], [8]]
        assert project.schema() == main_schema
        assert [s["branch"] for s in stored(project)] == ["feature"]
    else:
        assert rows == [[7, 0], [8, 0]]  # stock was dropped with its values


@pytest.mark.parametrize("snapshots", [True, False], ids=["snapshots", "rollback"])
def test_a_branch_with_an_irreversible_migration(
    db_project: tuple[DjangoProject, str], snapshots: bool
) -> None:
    project, fresh_name = db_project
    project.write("pyproject.toml", "[tool.migrail]\nsnapshots = true\n" if snapshots else "")
    main_branch(project)
    assert project.migrail("install").returncode == 0
    sync(project)
    project.query("INSERT INTO shop_item (name) VALUES (1)")
    project.git("switch", "-q", "-c", "feature")
    feature_branch_irreversible(project)
    project.git("switch", "main")  # with snapshots: feature's is saved before it migrated
    project.git("switch", "feature")
    project.query("INSERT INTO shop_item (name, stock) VALUES (2, 9)")

    out = project.git("switch", "main", check=False)
    if not snapshots:
        assert "shop.0002_stock: Raw SQL operation (operation 1) is not reversible" in out
        assert "migrail: the sync did not finish: nothing was changed" in out
        assert HINT in out
        return
    assert "cannot be unapplied" not in out
    assert project.schema() == fresh_schema(project, fresh_name)
    assert project.query("SELECT name FROM shop_item ORDER BY id") == [[1]]
    out = project.git("switch", "feature")
    assert "restored the snapshot of 'feature'" in out
    assert project.schema() == fresh_schema(project, fresh_name)
    assert project.query("SELECT name, stock FROM shop_item ORDER BY id") == [[1, 0], [2, 9]]


def feature_branch_irreversible(project: DjangoProject) -> None:
    project.migration(
        "shop", "0002_stock", migration_source([("shop", "0001_initial")], IRREVERSIBLE)
    )
    project.write("shop/migrations/max_migration.txt", "0002_stock\n")
    project.commit("feature")


def test_a_branch_that_moved_on_while_parked_is_restored_then_migrated(
    db_project: tuple[DjangoProject, str], tmp_path: Path
) -> None:
    project, fresh_name = db_project
    start(project, snapshots=True)
    project.query("INSERT INTO shop_item (name, stock) VALUES (3, 4)")
    project.git("switch", "main")
    # A colleague's commit lands on feature while its snapshot is parked.
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(project.root), str(tmp_path / "origin.git")],
        check=True,
        env=run_env(),
    )
    colleague = tmp_path / "colleague"
    git(tmp_path, "clone", "-q", "-b", "feature", str(tmp_path / "origin.git"), str(colleague))
    (colleague / "shop/migrations/0003_size.py").write_text(
        migration_source([("shop", "0002_stock")], add_field("item", "size"))
    )
    (colleague / "shop/migrations/max_migration.txt").write_text("0003_size\n")
    git(colleague, "add", "-A")
    git(colleague, "commit", "-q", "-m", "size")
    project.git("fetch", "-q", str(colleague), "feature:feature")

    out = project.git("switch", "feature")
    assert "restored the snapshot of 'feature'" in out
    assert "+ shop.0003_size" in out
    assert project.schema() == fresh_schema(project, fresh_name)
    assert project.query("SELECT name, stock, size FROM shop_item") == [[3, 4, 0]]


def test_a_branch_rebased_while_parked_loses_the_orphan_after_the_restore(
    db_project: tuple[DjangoProject, str], tmp_path: Path
) -> None:
    project, fresh_name = db_project
    start(project, snapshots=True)
    project.query("INSERT INTO shop_item (name, stock) VALUES (3, 4)")
    project.git("switch", "main")
    # feature is rewritten without billing.0002_seen while its snapshot, which has it, is parked.
    colleague = tmp_path / "colleague"
    git(tmp_path, "clone", "-q", "-b", "feature", str(project.root), str(colleague))
    (colleague / "billing/migrations/0002_seen.py").unlink()
    (colleague / "billing/migrations/max_migration.txt").write_text("0001_initial\n")
    git(colleague, "commit", "-q", "-a", "--amend", "-m", "feature without seen")
    project.git("fetch", "-q", str(colleague), "+feature:feature")

    out = project.git("switch", "feature")
    assert "restored the snapshot of 'feature'" in out
    assert "  - billing.0002_seen" in out
    assert project.schema() == fresh_schema(project, fresh_name)
    assert project.query("SELECT name, stock FROM shop_item") == [[3, 4]]


def test_a_dev_server_connection_falls_back_to_a_rollback(tmp_path: Path) -> None:
    psycopg = pytest.importorskip("psycopg")

    with database_settings("postgresql", tmp_path) as (settings, fresh_name):
        project = DjangoProject(tmp_path / "repo", database=settings)
        start(project, snapshots=True)
        project.query("INSERT INTO shop_item (name, stock) VALUES (5, 6)")
        dsn = PG_DSN.replace("dbname=postgres", f"dbname={settings['NAME']}")
        with psycopg.connect(dsn, autocommit=True):  # the dev server
            out = project.git("switch", "main")
        assert (
            f"migrail: no snapshot of database 'default': database {settings['NAME']!r} is open "
            "in 1 other session(s) (a dev server?); PostgreSQL copies or renames a database only "
            "when nobody is connected to it; syncing without snapshots instead\n"
        ) in out
        assert "- shop.0002_stock" in out
        assert project.schema() == fresh_schema(project, fresh_name)
        assert project.query("SELECT name FROM shop_item") == [[5]]
        assert stored(project) == []
        # The only copy of feature's data is not rolled back without a backup, and nothing
        # claims a snapshot was saved.
        assert "saved database 'default' as the snapshot" not in out
        backup = out.split("`migrail restore ")[1].split("`")[0]
        restored = project.migrail("restore", backup)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert project.query("SELECT name, stock FROM shop_item") == [[5, 6]]


def test_a_dev_server_session_is_ended_only_when_configured(tmp_path: Path) -> None:
    psycopg = pytest.importorskip("psycopg")

    with database_settings("postgresql", tmp_path) as (settings, _):
        project = DjangoProject(tmp_path / "repo", database=settings)
        start(project, snapshots=True)
        project.git("config", "migrail.snapshotTerminateSessions", "true")
        project.query("INSERT INTO shop_item (name, stock) VALUES (5, 6)")
        dsn = PG_DSN.replace("dbname=postgres", f"dbname={settings['NAME']}")
        dev_server = psycopg.connect(dsn, autocommit=True)
        try:
            out = project.git("switch", "main")
            with pytest.raises(psycopg.OperationalError):
                dev_server.execute("SELECT 1")  # its session was ended
        finally:
            dev_server.close()
        assert (
            f"migrail: ended 1 other session(s) of database {settings['NAME']!r} "
            "(snapshot_terminate_sessions = true)\n"
        ) in out
        assert "migrail: saved database 'default' as the snapshot of 'feature'" in out
        project.git("switch", "feature")
        assert project.query("SELECT name, stock FROM shop_item") == [[5, 6]]


def main_parked_feature_live(project: DjangoProject) -> None:
    """A row on each branch; main's snapshot parked, feature's data live."""
    project.git("switch", "main")
    project.query("INSERT INTO shop_item (name) VALUES (1)")
    project.git("switch", "feature")
    project.query("INSERT INTO shop_item (name, stock) VALUES (2, 2)")


def switch_in_background(project: DjangoProject, branch: str) -> subprocess.Popen[bytes]:
    """`git switch BRANCH` with the hooks, in a process group of its own to kill."""
    return subprocess.Popen(
        ["git", "switch", branch],
        cwd=project.root,
        env=run_env(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for_journal_step(
    project: DjangoProject, switch: subprocess.Popen[bytes], done: int
) -> None:
    """Until the snapshot journal says `done` steps are done (the switch still running)."""
    journals = project.root / ".git/migrail/snapshots"
    while not any(
        json.loads(p.read_text()).get("done") == done for p in journals.glob("journal-*.json")
    ):
        assert switch.poll() is None, "the switch ended before it was killed"
        time.sleep(0.02)


def assert_an_interrupted_switch_is_named(project: DjangoProject) -> None:
    """`status` and `snapshot list` say a switch is half done, before anything else."""
    said = "migrail: a snapshot switch of database 'default' "
    status = project.migrail("status")
    assert status.returncode == 1, status.stdout + status.stderr
    assert said in status.stdout, status.stdout
    assert "until `migrail sync` finishes it" in status.stdout
    assert "would apply" not in status.stdout
    listing = project.migrail("snapshot", "list")
    assert listing.returncode == 0, listing.stdout + listing.stderr
    assert said in listing.stdout


def assert_the_next_sync_finishes_the_switch(project: DjangoProject, fresh_name: str) -> None:
    """main's data live, as a fresh migrate of main, and feature's back on feature."""
    proc = project.migrail("sync")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "migrail: finished an interrupted snapshot switch of database 'default'" in proc.stdout
    assert project.schema() == fresh_schema(project, fresh_name)
    assert project.query("SELECT name FROM shop_item ORDER BY id") == [[1]]
    assert [s["branch"] for s in stored(project)] == ["feature"]
    project.git("switch", "feature")
    assert project.query("SELECT name, stock FROM shop_item ORDER BY id") == [[2, 2]]


def test_a_switch_killed_mid_swap_converges_on_the_next_run(tmp_path: Path) -> None:
    pymysql = pytest.importorskip("pymysql")

    with database_settings("mariadb", tmp_path) as (settings, fresh_name):
        project = DjangoProject(tmp_path / "repo", database=settings)
        start(project, snapshots=True)
        main_parked_feature_live(project)
        parked = "migrail_snap_" + str(next(s["id"] for s in stored(project)))
        holder = pymysql.connect(autocommit=False, **MARIADB)
        watcher = pymysql.connect(autocommit=True, **MARIADB)
        try:
            with holder.cursor() as cursor:  # blocks the move of main's tables back
                cursor.execute(f"SELECT * FROM `{parked}`.shop_item")
            switch = switch_in_background(project, "main")
            while True:
                with watcher.cursor() as cursor:
                    cursor.execute(  # this switch's move, not another test's
                        "SELECT COUNT(*) FROM information_schema.processlist "
                        "WHERE info LIKE 'RENAME TABLE%%' AND info LIKE %s",
                        [f"%{parked}%"],
                    )
                    if cursor.fetchone()[0]:
                        break
                assert switch.poll() is None, "the switch ended before it was killed"
            os.killpg(switch.pid, signal.SIGKILL)
            switch.wait()
        finally:
            holder.rollback()
            holder.close()
            watcher.close()
        assert_an_interrupted_switch_is_named(project)
        assert_the_next_sync_finishes_the_switch(project, fresh_name)


def test_list_drop_prune_and_snapshots_kept(db_project: tuple[DjangoProject, str]) -> None:
    project, _ = db_project
    start(project, snapshots=True, extra="snapshots_kept = 2\n")
    for branch in ("one", "two"):
        project.git("branch", branch)
        proc = project.migrail("snapshot", "save", branch)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(
            f"migrail: saved database 'default' as the snapshot of '{branch}' ("
        )
    proc = project.migrail("snapshot", "list")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("database 'default' (")
    head = project.git("rev-parse", "HEAD").strip()[:12]
    assert re.fullmatch(
        r"  SNAPSHOT  KIND    COMMIT        SYNCED +SIZE  AGE +APPLIED +DATABASE", lines[1]
    )
    for line, branch in zip(lines[2:], ["one", "two"], strict=True):
        assert re.fullmatch(
            rf"  {branch}       branch  {head}  yes +[0-9.]+ [KM]?B  [0-9]+[smh] +"
            r"billing.0002_seen, shop.0002_stock +\S*migrail_snap_[0-9a-f]{20}\S*",
            line,
        ), line
    assert lines[1].index("APPLIED") == lines[2].index("billing.0002_seen")

    out = project.git("switch", "main")  # saves feature: one is now beyond snapshots_kept
    assert (
        "migrail: dropped the snapshot of 'one' (database 'default'): beyond snapshots_kept = 2\n"
    ) in out
    assert sorted(str(s["branch"]) for s in stored(project)) == ["feature", "two"]

    project.git("branch", "-D", "two")
    proc = project.migrail("snapshot", "prune")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "migrail: dropped the snapshot of 'two' (database 'default'): its branch is gone\n"
    )
    assert [s["branch"] for s in stored(project)] == ["feature"]

    proc = project.migrail("snapshot", "drop", "feature")
    assert proc.stdout == "migrail: dropped the snapshot of 'feature' (database 'default')\n"
    proc = project.migrail("snapshot", "drop", "feature")
    assert proc.returncode == 2
    assert proc.stderr == (
        "migrail: error: no snapshot of 'feature' for database 'default'; "
        "`migrail snapshot list` shows them\n"
    )
    assert project.migrail("snapshot", "list").stdout.startswith(
        "migrail: no snapshots of database 'default' ("
    )


def test_a_sqlite_swap_blocked_by_an_open_transaction_gives_up_and_rolls_back(
    project: DjangoProject,
) -> None:
    """Another connection in `BEGIN IMMEDIATE`: the copy into the live file says it waits,
    gives up after MIGRAIL_LOCK_WAIT, and the swap is undone whole."""
    start(project, snapshots=True)
    project.git("switch", "main")  # feature's snapshot now waits
    project.query("INSERT INTO shop_item (name) VALUES (8)")  # main's row
    snapshots = project.root / ".git/migrail/snapshots"
    before = sorted(p.name for p in snapshots.iterdir())
    other = sqlite3.connect(project.root / "db.sqlite3", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        proc = project.migrail("switch", "feature", env={"MIGRAIL_LOCK_WAIT": "3"})
    finally:
        other.close()
    live = str(project.root / "db.sqlite3")
    lines = proc.stdout.splitlines()
    assert lines[:2] == [
        "migrail: the snapshot copy is waiting for another connection to database "
        f"{live!r} (a shell or server in an open transaction?); giving up after 3s "
        "(MIGRAIL_LOCK_WAIT)",
        f"migrail: no snapshot of database 'default': the copy into {live!r} waited 3s "
        "(MIGRAIL_LOCK_WAIT) for another connection's transaction; nothing was changed; "
        "syncing without snapshots instead",
    ], proc.stdout + proc.stderr
    # The swap is undone whole: feature's snapshot still waits, no journal, main's rows.
    assert sorted(p.name for p in snapshots.iterdir() if p.name != "unsynced") == before
    assert project.query("SELECT name FROM shop_item") == [[8]]
    assert proc.stderr == (  # the sync that follows waits on the same transaction: refused
        "Switched to branch 'feature'\n"
        f"migrail: error: database 'default' (sqlite {live}): another process holds it "
        "locked (database is locked)\n"
    )
    assert proc.returncode == 2
    # Once the transaction is over, the sync makes the swap the switch gave up: main's rows
    # are saved as main's, feature's snapshot (never touched) comes back.
    out = sync(project)
    assert "migrail: database 'default' holds the data of 'main'; saving it before this sync" in out
    assert "restored the snapshot of 'feature'" in out
    assert project.query("SELECT name, stock FROM shop_item") == []
    assert "restored the snapshot of 'main'" in project.git("switch", "main")
    assert project.query("SELECT name FROM shop_item") == [[8]]


def test_status_says_which_switch_restores_a_snapshot(project: DjangoProject) -> None:
    start(project, snapshots=True)
    assert "  snapshots: on; none saved yet" in project.migrail("status").stdout
    project.git("switch", "main")
    assert (
        "  snapshots: on; a switch to 'feature' restores its snapshot; to any other branch, "
        "it saves this one and goes on\n"
    ) in project.migrail("status").stdout


def test_snapshot_files_are_private(project: DjangoProject) -> None:
    start(project, snapshots=True)
    project.git("switch", "main")
    directory = project.root / ".git/migrail/snapshots"
    directories = [directory, *(p for p in directory.rglob("*") if p.is_dir())]
    assert all(d.stat().st_mode & 0o777 == 0o700 for d in directories)
    files = [p for p in directory.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} == {".json", ".sqlite3"}
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in files)


def test_migrail_switch_restores_a_snapshot(project: DjangoProject, tmp_path: Path) -> None:
    start(project, snapshots=True)
    project.query("INSERT INTO shop_item (name, stock) VALUES (7, 5)")
    proc = project.migrail("switch", "main")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert project.schema() == fresh_schema(project, str(tmp_path / "fresh.sqlite3"))
    proc = project.migrail("switch", "feature")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "restored the snapshot of 'feature'" in proc.stdout
    assert project.query("SELECT name, stock FROM shop_item") == [[7, 5]]


def test_snapshot_restore_puts_back_a_saved_copy(db_project: tuple[DjangoProject, str]) -> None:
    """The database it replaces is backed up first; the command printed brings it back."""
    project, _ = db_project
    start(project, snapshots=True)
    head = project.git("rev-parse", "HEAD").strip()
    project.query("INSERT INTO shop_item (name, stock) VALUES (1, 1)")
    assert project.migrail("snapshot", "save").returncode == 0
    project.query("DELETE FROM shop_item")
    project.query("INSERT INTO shop_item (name, stock) VALUES (2, 2)")  # only in the live one
    proc = project.migrail("snapshot", "restore", "feature")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    backups = project.root / ".git/migrail/backups"
    (backup,) = [p for p in backups.iterdir() if not p.name.endswith(".json")]
    assert proc.stdout == (
        f"migrail: backed up database 'default' to {backup}; "
        f"`migrail restore {backup.name}` brings it back\n"
        f"migrail: database 'default' is now a copy of the snapshot of 'feature' (commit "
        f"{head[:12]}); run `migrail sync` to bring it to this checkout's migrations\n"
    )
    assert project.query("SELECT name, stock FROM shop_item") == [[1, 1]]
    assert [s["branch"] for s in stored(project)] == ["feature"]  # the snapshot is kept
    assert project.migrail("status").returncode == 0

    proc = project.migrail("restore", backup.name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"migrail: restored database 'default' from {backup.name} " in proc.stdout
    assert project.query("SELECT name, stock FROM shop_item") == [[2, 2]]


def test_a_named_snapshot_is_kept_until_dropped_by_name(tmp_path: Path) -> None:
    """`snapshot save NAME` (no such branch): not pruned, not counted in snapshots_kept."""
    project = real_project(tmp_path / "repo", tmp_path / "packages")
    project.write("pyproject.toml", "[tool.migrail]\nsnapshots = true\nsnapshots_kept = 1\n")
    main_branch(project)
    assert project.migrail("install").returncode == 0
    sync(project)
    project.query("INSERT INTO shop_item (name) VALUES (1)")
    proc = project.migrail("snapshot", "save", "before-experiment")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.fullmatch(
        r"migrail: saved database 'default' as the snapshot of 'before-experiment' "
        r"\([0-9.]+ [KM]?B\); no branch is named so: only "
        "`migrail snapshot drop before-experiment` removes it\n",
        proc.stdout,
    ), proc.stdout
    project.git("switch", "-c", "feature")  # saves main
    project.git("switch", "-c", "other")  # saves feature: main is beyond snapshots_kept = 1
    assert sorted((str(s["branch"]), s["named"]) for s in stored(project)) == [
        ("before-experiment", True),
        ("feature", False),
    ]
    project.git("branch", "-D", "feature")
    proc = project.migrail("snapshot", "prune")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == (
        "migrail: dropped the snapshot of 'feature' (database 'default'): its branch is gone\n"
    )

    proc = project.migrail("snapshot", "list")
    assert proc.returncode == 0, proc.stderr
    head = project.git("rev-parse", "HEAD").strip()[:12]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("database 'default' (sqlite /")
    assert re.fullmatch(r"  SNAPSHOT +KIND +COMMIT +SYNCED +SIZE  AGE +APPLIED +DATABASE", lines[1])
    assert re.fullmatch(  # the project's apps only: not admin, auth, ... nor taglib
        rf"  before-experiment  named \(kept\)  {head}  yes +[0-9.]+ [KM]?B  [0-9]+[smh] +"
        r"billing.0001_initial, shop.0001_initial +\S+/migrail_snap_[0-9a-f]{20}\.sqlite3",
        lines[2],
    ), lines[2]
    assert len(lines) == 3

    (meta,) = (project.root / ".git/migrail/snapshots").glob("*.json")
    written_before = json.loads(meta.read_text())
    del written_before["named"]  # a file from before named snapshots: a branch's
    meta.write_text(json.dumps(written_before))
    assert "  before-experiment  branch  " in project.migrail("snapshot", "list").stdout
    meta.write_text(json.dumps({**written_before, "named": True}))

    proc = project.migrail("snapshot", "drop", "before-experiment")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "migrail: dropped the snapshot of 'before-experiment' (database 'default')\n"
    )
    assert stored(project) == []


def test_branches_with_the_same_migrations_keep_their_own_rows(
    real_db_project: tuple[DjangoProject, str],
) -> None:
    """Set in pyproject.toml only: the very first switch (a new branch) already saves."""
    project, fresh_name = real_db_project
    project.write("pyproject.toml", "[tool.migrail]\nsnapshots = true\n")
    main_branch(project)
    assert project.migrail("install").returncode == 0
    sync(project)
    add_user_rows(project)
    project.query("INSERT INTO shop_item (name) VALUES (1)")

    out = project.git("switch", "-c", "feature")
    assert (
        "migrail: saved database 'default' as the snapshot of 'main'; 'feature' has no snapshot, "
        "so it goes on from this database ("
    ) in out
    assert "matches the working tree" not in out  # nothing to sync: the same migrations
    project.query("INSERT INTO shop_item (name) VALUES (2)")  # feature's own row
    project.write("README", "feature\n")
    project.commit("docs")

    out = project.git("switch", "main")
    assert "saved database 'default' as the snapshot of 'feature' and restored the snapshot " in out
    assert "migrail: database 'default' matches the working tree" in out
    assert project.query("SELECT name FROM shop_item ORDER BY id") == [[1]]
    assert user_rows(project) == USER_ROWS_ADDED
    project.query("INSERT INTO shop_item (name) VALUES (3)")  # main's own row

    out = project.git("switch", "feature")
    assert project.query("SELECT name FROM shop_item ORDER BY id") == [[1], [2]], out
    assert user_rows(project) == USER_ROWS_ADDED
    project.git("switch", "main")
    assert project.query("SELECT name FROM shop_item ORDER BY id") == [[1], [3]]
    assert user_rows(project) == USER_ROWS_ADDED
    assert project.schema() == fresh_schema(project, fresh_name)
    assert [s["branch"] for s in stored(project)] == ["feature"]


def test_a_file_checkout_or_the_same_branch_never_swaps(project: DjangoProject) -> None:
    project.git("config", "migrail.snapshots", "true")  # git config alone turns them on
    main_branch(project)
    assert project.migrail("install").returncode == 0
    sync(project)
    project.query("INSERT INTO shop_item (name) VALUES (1)")
    project.write("README", "one\n")
    project.commit("docs")
    project.write("README", "two\n")

    assert project.git("checkout", "--", "README") == ""  # a file checkout: flag 0
    assert project.git("checkout", "main") == "Already on 'main'\n"
    assert stored(project) == []
    out = project.git("switch", "-c", "feature")
    assert "as the snapshot of 'main'; 'feature' has no snapshot" in out
    project.git("config", "migrail.snapshots", "false")  # git config wins over everything
    project.write("pyproject.toml", "[tool.migrail]\nsnapshots = true\n")
    assert project.git("switch", "main") == "Switched to branch 'main'\n"
    assert [s["branch"] for s in stored(project)] == ["main"]


def test_snapshots_off_still_skip_python_on_a_switch_without_migration_changes(
    project: DjangoProject, tmp_path: Path
) -> None:
    main_branch(project)
    assert project.migrail("install").returncode == 0
    sync(project)
    project.git("switch", "-q", "-c", "feature")
    project.write("README", "docs\n")
    project.commit("docs")
    ran = tmp_path / "ran"
    fake = tmp_path / "python"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {ran}\n')
    fake.chmod(0o755)
    hook = project.root / ".git/hooks/post-checkout"
    script = hook.read_text()
    hook.write_text(script.replace(script.split("python=", 1)[1].split("\n", 1)[0], f"'{fake}'"))

    project.git("switch", "main")
    project.git("switch", "feature")
    assert not ran.exists()  # the shell decided: no Python started
    project.write("pyproject.toml", "[tool.migrail]\nsnapshots = true\n")
    project.git("switch", "main")
    assert ran.read_text().startswith("-c import sys")  # with snapshots on, Python decides


SAVE_FIRST_HINT = (
    "migrail: this rollback drops tables or columns that hold rows, and no snapshot keeps them "
    "(snapshots are saved on branch switches); keep a copy first with `migrail snapshot save "
    "NAME`, or bring them back from the backup with `migrail restore`\n"
)


def test_a_plain_sync_dropping_rows_says_no_snapshot_keeps_them(project: DjangoProject) -> None:
    start(project, snapshots=True)
    project.query("INSERT INTO shop_item (name, stock) VALUES (1, 5)")
    git(project.root, "reset", "-q", "--hard", "main", env={**project.env, "MIGRAIL_SKIP": "1"})
    proc = project.migrail("sync", "--dry-run")
    assert SAVE_FIRST_HINT in proc.stdout
    assert HINT not in proc.stdout
    proc = project.migrail("sync")
    assert proc.returncode == 0, proc.stderr
    before, _, after = proc.stdout.partition(SAVE_FIRST_HINT)
    assert "drops column stock of shop.item" in before  # the plan, then the line, then the drop
    assert "  - unapplying shop.0002_stock" in after
    assert stored(project) == []  # a sync is no switch: it saves no snapshot


def test_a_switch_that_saved_the_rows_gives_no_hint(project: DjangoProject) -> None:
    start(project, snapshots=True)
    project.query("INSERT INTO shop_item (name, stock) VALUES (1, 5)")
    out = project.git("switch", "main")
    assert "- shop.0002_stock" in out  # rolled back, but its rows are in feature's snapshot
    assert "rows" not in out
    # Nor a backup: the snapshot just saved is one.
    assert (
        "migrail: no backup of database 'default': the snapshot this switch just saved holds it "
        "as it stands\n"
    ) in out
    backups = project.root / ".git/migrail/backups"
    assert not backups.exists() or not any(backups.iterdir())


def test_rebase_unapply_dropping_rows_says_no_snapshot_keeps_them(project: DjangoProject) -> None:

    project.git("config", "migrail.snapshots", "true")
    base(project)
    diverge(project, ["0003_stock"], ["0003_color"])
    sync(project)
    project.query("INSERT INTO shop_item (price, stock) VALUES (3, 4)")
    project.git("merge", "main", check=False)
    proc = project.migrail("rebase", "--unapply")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    before, _, after = proc.stdout.partition(SAVE_FIRST_HINT)
    assert "drops column stock of shop.item" in before
    assert "unapplying shop.0003_stock" in after


def fragile_feature(project: DjangoProject, block: Path) -> str:
    """feature, synced with snapshots on, whose 0003_fragile cannot be unapplied while
    `block` exists; returns its commit."""
    main_branch(project)
    assert project.migrail("install").returncode == 0
    sync(project)
    feature_branch(project)
    project.migration(
        "shop",
        "0003_fragile",
        migration_source(
            [("shop", "0002_stock")],
            "migrations.RunPython(migrations.RunPython.noop, reverse_code=fragile),",
            header=FRAGILE.format(block=str(block)),
        ),
    )
    project.write("shop/migrations/max_migration.txt", "0003_fragile\n")
    feature = project.commit("fragile")
    project.git("config", "migrail.snapshots", "true")
    sync(project)
    return feature


def test_a_snapshot_saved_after_a_failed_sync_says_what_it_holds(
    db_project: tuple[DjangoProject, str], tmp_path: Path
) -> None:
    """It holds the migrations the failed sync started from, and is synced from there later."""
    project, fresh_name = db_project
    block = tmp_path / "block"
    feature = fragile_feature(project, block)
    project.query("INSERT INTO shop_item (name, stock) VALUES (1, 2)")

    block.write_text("")  # unapplying 0003_fragile fails until this file is gone
    out = project.git("switch", "main", check=False)
    assert "migrail: the sync did not finish: unapplying shop.0003_fragile failed" in out
    out = project.git("switch", "-c", "other")
    assert (
        "migrail: saved database 'default' as the snapshot of 'main' (not synced: it holds the "
        f"migrations of commit {feature[:12]}); 'other' has no snapshot, so it goes on from this "
        "database ("
    ) in out
    listing = project.migrail("snapshot", "list").stdout
    assert f"  main      branch  {feature[:12]}  no  " in listing

    block.unlink()
    out = project.git("switch", "main")
    assert "as the snapshot of 'other' (not synced: it holds the migrations of commit" in out
    assert "restored the snapshot of 'main'" in out
    assert "unapplying shop.0003_fragile" in out  # with the code that applied it
    assert "migrail: database 'default' matches the working tree" in out
    assert project.schema() == fresh_schema(project, fresh_name)
    assert project.query("SELECT name FROM shop_item") == [[1]]
    out = project.git("switch", "other")
    assert "restored the snapshot of 'other'" in out
    assert "unapplying shop.0003_fragile" in out
    assert project.schema() == fresh_schema(project, fresh_name)


def test_a_manual_sync_that_succeeds_clears_the_not_synced_note(
    project: DjangoProject, tmp_path: Path
) -> None:
    """The hook's sync failed; `migrail sync --from SHA`, as it advised, then succeeded."""
    block = tmp_path / "block"
    feature = fragile_feature(project, block)
    block.write_text("")
    out = project.git("switch", "main", check=False)
    assert "migrail: the sync did not finish: unapplying shop.0003_fragile failed" in out
    (note,) = (project.root / ".git/migrail/snapshots/unsynced").glob("*.json")
    # As a note written while the server was down has it: no leaves to compare with later.
    note.write_text(json.dumps({"commit": feature, "leaves": None}))

    block.unlink()
    proc = project.migrail("sync", "--from", feature[:12])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "migrail: database 'default' matches the working tree" in proc.stdout
    assert not note.exists()
    out = project.git("switch", "-c", "other")
    assert (
        "migrail: saved database 'default' as the snapshot of 'main'; 'other' has no snapshot, "
        "so it goes on from this database ("
    ) in out
    assert "not synced" not in project.migrail("snapshot", "list").stdout


FRAGILE = """
import os


def fragile(apps, schema_editor):
    if os.path.exists({block!r}):
        raise RuntimeError("blocked")
"""


def test_a_sqlite_switch_killed_mid_swap_converges_on_the_next_run(
    project: DjangoProject, tmp_path: Path
) -> None:
    import sqlite3

    start(project, snapshots=True)
    main_parked_feature_live(project)
    holder = sqlite3.connect(project.root / "db.sqlite3", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # readers go on: feature is saved; main waits
        switch = switch_in_background(project, "main")
        wait_for_journal_step(project, switch, 1)
        os.killpg(switch.pid, signal.SIGKILL)  # between saving feature and restoring main
        switch.wait()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert project.query("SELECT name, stock FROM shop_item") == [[2, 2]]  # feature's, whole
    assert_the_next_sync_finishes_the_switch(project, str(tmp_path / "fresh.sqlite3"))


def test_the_pre_commit_entry_swaps_on_a_switch_with_the_same_migrations(
    project: DjangoProject,
) -> None:
    main_branch(project)  # no hooks installed: pre-commit's `migrail-sync` entry runs instead
    sync(project)
    main = project.git("rev-parse", "HEAD").strip()
    project.git("switch", "-q", "-c", "feature")
    checkout = {
        "PRE_COMMIT_CHECKOUT_TYPE": "1",
        "PRE_COMMIT_FROM_REF": main,
        "PRE_COMMIT_TO_REF": main,
    }
    proc = project.migrail("hook", "pre-commit-sync", env=checkout)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")  # snapshots off
    project.write("pyproject.toml", "[tool.migrail]\nsnapshots = true\n")
    proc = project.migrail("hook", "pre-commit-sync", env=checkout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "saved database 'default' as the snapshot of 'main'; 'feature' has no snapshot" in (
        proc.stdout
    )
    assert [s["branch"] for s in stored(project)] == ["main"]


def test_a_postgresql_switch_killed_between_its_renames_converges(tmp_path: Path) -> None:

    psycopg = pytest.importorskip("psycopg")

    with database_settings("postgresql", tmp_path) as (settings, fresh_name):
        project = DjangoProject(tmp_path / "repo", database=settings)
        start(project, snapshots=True)
        main_parked_feature_live(project)
        (main,) = [s for s in stored(project) if s["branch"] == "main"]
        # Another transaction holds main's parked database's catalogue row: un-parking it waits.
        holder = psycopg.connect(PG_DSN)
        holder.execute(f'ALTER DATABASE "migrail_snap_{main["id"]}" CONNECTION LIMIT -1')
        try:
            switch = switch_in_background(project, "main")
            wait_for_journal_step(project, switch, 2)
            time.sleep(0.3)  # in the second rename, waiting
            os.killpg(switch.pid, signal.SIGKILL)  # feature parked, main not yet live
            switch.wait()
        finally:
            holder.rollback()
            holder.close()
        assert_an_interrupted_switch_is_named(project)
        assert_the_next_sync_finishes_the_switch(project, fresh_name)


def item_names(project: DjangoProject) -> list[list[object]]:
    return project.query("SELECT name FROM shop_item ORDER BY id")


def switch_skipped(project: DjangoProject, branch: str) -> str:
    """`MIGRAIL_SKIP=1 git switch BRANCH`: the hooks do nothing."""
    return git(project.root, "switch", branch, env={**project.env, "MIGRAIL_SKIP": "1"})


def test_a_switch_that_did_not_swap_never_overwrites_another_branchs_snapshot(
    project: DjangoProject,
) -> None:
    start(project, snapshots=True)
    project.query("INSERT INTO shop_item (name, stock) VALUES (1, 3)")  # feature's row
    project.git("switch", "main")  # feature saved
    project.query("INSERT INTO shop_item (name) VALUES (2)")  # main's row
    out = switch_skipped(project, "feature")  # no swap: main's data stays live
    assert "migrail" not in out
    out = project.git("switch", "main")
    assert [line for line in out.splitlines() if "the data of" in line] == [  # said once
        "migrail: database 'default' still holds the data of 'main' (the last switch did not swap it), "
        "so it goes on as it is"
    ]
    assert item_names(project) == [[1], [2]]  # main went on from feature's copy
    out = project.git("switch", "feature")
    assert "restored the snapshot of 'feature'" in out
    assert item_names(project) == [[1]]  # feature's own rows, never overwritten by main's
    project.git("switch", "main")
    assert item_names(project) == [[1], [2]]  # main went on from feature's copy

    # Skipped again, then on to a third branch: saved as main's, not feature's.
    switch_skipped(project, "feature")
    project.git("branch", "third", "main")
    out = project.git("switch", "third")
    assert (
        "migrail: saved database 'default' as the snapshot of 'main' (it held the data of 'main': "
        "the switch to 'feature' did not swap it)"
    ) in out
    project.git("switch", "feature")
    assert item_names(project) == [[1]]
    project.git("switch", "main")
    assert item_names(project) == [[1], [2]]  # main went on from feature's copy


def test_a_fallback_to_syncing_keeps_both_branches_rows(tmp_path: Path) -> None:
    psycopg = pytest.importorskip("psycopg")

    with database_settings("postgresql", tmp_path) as (settings, fresh_name):
        project = DjangoProject(tmp_path / "repo", database=settings)
        start(project, snapshots=True)
        project.query("INSERT INTO shop_item (name, stock) VALUES (1, 5)")
        project.git("switch", "main")  # feature saved
        project.query("INSERT INTO shop_item (name) VALUES (2)")
        dsn = PG_DSN.replace("dbname=postgres", f"dbname={settings['NAME']}")
        with psycopg.connect(dsn, autocommit=True):  # a dev server: no snapshot, a sync
            out = project.git("switch", "feature")
        assert "syncing without snapshots instead" in out
        assert project.schema() == fresh_schema(project, fresh_name)
        out = project.git("switch", "main")  # main's data was live all along
        assert [line for line in out.splitlines() if "the data of" in line] == [  # said once
            "migrail: database 'default' still holds the data of 'main' (the last switch did not "
            "swap it), so it goes on as it is"
        ]
        assert item_names(project) == [[1], [2]]  # main went on from feature's copy
        out = project.git("switch", "feature")
        assert "restored the snapshot of 'feature'" in out
        assert project.query("SELECT name, stock FROM shop_item") == [[1, 5]]


def test_a_refused_rollback_offers_this_branchs_snapshot_and_both_keep_their_rows(
    tmp_path: Path,
) -> None:
    """A dev server holds the PostgreSQL database through a switch and the sync after it:
    feature's irreversible migration stays live on main, the refusal offers main's snapshot,
    and following it once the server is gone loses no branch's rows."""
    psycopg = pytest.importorskip("psycopg")

    with database_settings("postgresql", tmp_path) as (settings, _):
        project = real_project(tmp_path / "repo", tmp_path / "packages", settings)
        project.write("pyproject.toml", "[tool.migrail]\nsnapshots = true\n")
        main_branch(project)
        assert project.migrail("install").returncode == 0
        sync(project)
        add_user_rows(project)
        project.query("INSERT INTO shop_item (name) VALUES (1)")
        project.git("switch", "-q", "-c", "feature")  # saves main's snapshot
        feature_branch_irreversible(project)
        sync(project)
        project.query("INSERT INTO shop_item (name, stock) VALUES (2, 9)")
        dsn = PG_DSN.replace("dbname=postgres", f"dbname={settings['NAME']}")
        with psycopg.connect(dsn, autocommit=True):  # the dev server
            out = project.git("switch", "main", check=False)
            assert "syncing without snapshots instead" in out
            proc = project.migrail("sync")
        assert proc.returncode == 1
        assert (
            "    on the branch that has it, and switch back and forth again;\n"
            "  - or restore this branch's snapshot (its data as you left it): "
            "`migrail snapshot restore main`, then `migrail sync`;\n"
            "  - or start this database afresh"
        ) in proc.stderr

        proc = project.migrail("snapshot", "restore", "main")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert (  # the hook's sync failed, but from feature's own commit: feature's migrations
            "migrail: saved database 'default' as the snapshot of 'feature' (it held the data "
            "of 'feature'); a switch to 'feature' brings it back\n"
        ) in proc.stdout
        sync(project)
        assert project.query("SELECT name FROM shop_item ORDER BY id") == [[1]]
        assert user_rows(project) == USER_ROWS_ADDED

        out = project.git("switch", "feature")
        assert "restored the snapshot of 'feature'" in out
        assert project.query("SELECT name, stock FROM shop_item ORDER BY id") == [[1, 0], [2, 9]]
        assert user_rows(project) == USER_ROWS_ADDED
        out = project.git("switch", "main")
        assert "restored the snapshot of 'main'" in out
        assert project.query("SELECT name FROM shop_item ORDER BY id") == [[1]]


def skipped_switch(project: DjangoProject, branch: str) -> None:
    """`git switch BRANCH` whose hooks did not run (`MIGRAIL_SKIP=1`, or killed)."""
    subprocess.run(
        ["git", "switch", "-q", branch],
        cwd=project.root,
        env=run_env({**project.env, "MIGRAIL_SKIP": "1"}),
        check=True,
    )


def test_a_sync_after_a_switch_that_did_not_swap_makes_the_swap_first(tmp_path: Path) -> None:
    """feature's rows are live on main after a skipped switch: `migrail sync` (what status
    advises) saves them as feature's snapshot and restores main's, never rolls them back."""
    project = real_project(tmp_path / "repo", tmp_path / "packages")
    start(project, snapshots=True)
    add_user_rows(project)
    project.git("switch", "main")
    project.query("INSERT INTO shop_item (name) VALUES (1)")
    project.git("switch", "feature")
    project.query("INSERT INTO shop_item (name, stock) VALUES (2, 9)")
    skipped_switch(project, "main")
    status = project.migrail("status").stdout
    assert (
        "  snapshots: on; the database holds the data of 'feature' (the switch here did not swap "
        "it): `migrail sync` saves it as the snapshot of 'feature' and restores this branch's\n"
    ) in status

    out = sync(project)
    assert (
        "migrail: database 'default' holds the data of 'feature'; saving it before this sync\n"
        "migrail: saved database 'default' as the snapshot of 'feature' and restored the "
        "snapshot of 'main'"
    ) in out
    assert "unapplying" not in out
    assert project.query("SELECT name FROM shop_item ORDER BY id") == [[1]]
    assert user_rows(project) == USER_ROWS_ADDED
    out = project.git("switch", "feature")
    assert project.query("SELECT name, stock FROM shop_item ORDER BY id") == [[2, 9]]
    assert user_rows(project) == USER_ROWS_ADDED


def test_a_rebase_that_ends_on_another_branch_restores_its_snapshot(project: DjangoProject) -> None:
    """`git rebase main feature` run on main checks feature out mid-rebase (no post-checkout);
    post-rewrite's sync makes the swap."""
    start(project, snapshots=True)
    project.query("INSERT INTO shop_item (name, stock) VALUES (2, 9)")
    project.git("switch", "main")
    project.query("INSERT INTO shop_item (name) VALUES (1)")
    project.write("README", "main moves on\n")
    project.commit("main moves on")

    out = project.git("rebase", "main", "feature")
    assert "restored the snapshot of 'feature'" in out
    assert project.git("branch", "--show-current").strip() == "feature"
    assert project.query("SELECT name, stock FROM shop_item ORDER BY id") == [[2, 9]]
    project.git("switch", "main")  # main began as a copy of feature's (its first visit)
    assert project.query("SELECT name FROM shop_item ORDER BY id") == [[2], [1]]


def test_a_new_branch_with_a_deleted_branchs_name_goes_on_from_the_database_left(
    project: DjangoProject,
) -> None:
    start(project, snapshots=True)
    project.query("INSERT INTO shop_item (name, stock) VALUES (2, 9)")
    time.sleep(1.1)  # reflog times are whole seconds: the old feature was made a second before
    project.git("switch", "main")  # feature's snapshot is saved
    project.query("INSERT INTO shop_item (name) VALUES (1)")
    project.git("branch", "-q", "-D", "feature")
    # Made again at once, often in the second its snapshot was saved: the old branch's
    # creation time, saved with the snapshot, tells the two apart.
    out = project.git("switch", "-c", "feature")
    assert (
        "migrail: the snapshot of 'feature' was saved before this branch was made (an earlier "
        "branch of that name was deleted): not restored, kept as 'feature~deleted' (`migrail "
        "snapshot restore feature~deleted` brings it back, `migrail snapshot drop "
        "feature~deleted` drops it)\n"
    ) in out
    # main's data (it began as a copy of feature's), not the deleted feature's [2, 9] alone
    assert project.query("SELECT name FROM shop_item ORDER BY id") == [[2], [1]]

    project.git("switch", "main")  # the new feature's snapshot: beside the kept one, not over it
    listed = project.migrail("snapshot", "list")
    assert "feature~deleted  named (kept)" in listed.stdout, listed.stdout
    restored = project.migrail("snapshot", "restore", "feature~deleted")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert project.query("SELECT name, stock FROM shop_item ORDER BY id") == [[2, 9]]


def test_snapshot_refusals_exit_1_and_list_is_read_only(project: DjangoProject) -> None:
    start(project, snapshots=True)
    project.write_settings("DEBUG = False\n")
    proc = project.migrail("snapshot", "save", "x")
    assert proc.returncode == 1
    assert "DEBUG = False" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = project.migrail("snapshot", "list")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_status_offers_only_other_branches_that_exist(project: DjangoProject) -> None:
    start(project, snapshots=True)
    project.git("switch", "main")
    assert project.migrail("snapshot", "save", "before-experiment").returncode == 0
    assert project.migrail("snapshot", "save").returncode == 0  # main's own
    project.git("switch", "-q", "-c", "gone")
    project.git("switch", "-q", "main")
    project.git("branch", "-q", "-D", "gone")
    out = project.migrail("status").stdout
    assert (
        "  snapshots: on; a switch to 'feature' restores its snapshot; to any other branch, "
        "it saves this one and goes on\n"
    ) in out


def test_a_renamed_branch_keeps_its_snapshot_and_prune_keeps_it(project: DjangoProject) -> None:
    start(project, snapshots=True)
    project.query("INSERT INTO shop_item (name, stock) VALUES (2, 9)")
    project.git("switch", "main")  # feature's snapshot is saved
    project.git("branch", "-m", "feature", "feature/fragile")
    proc = project.migrail("snapshot", "prune")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == (
        "migrail: the snapshot of 'feature' is now the snapshot of 'feature/fragile' (the branch was renamed)\n"
    )
    out = project.git("switch", "feature/fragile")
    assert "restored the snapshot of 'feature/fragile'" in out
    assert project.query("SELECT name, stock FROM shop_item") == [[2, 9]]


def test_a_renamed_branch_is_restored_without_a_prune(project: DjangoProject) -> None:
    start(project, snapshots=True)
    project.query("INSERT INTO shop_item (name, stock) VALUES (2, 9)")
    project.git("switch", "main")
    project.git("branch", "-m", "feature", "wip")
    out = project.git("switch", "wip")
    assert (
        "migrail: the snapshot of 'feature' is now the snapshot of 'wip' (the branch was renamed)\n"
        in out
    )
    assert project.query("SELECT name, stock FROM shop_item") == [[2, 9]]


def test_snapshots_turned_off_then_on_save_the_branch_git_leaves(project: DjangoProject) -> None:
    """While snapshots are off the database follows the branches by rollbacks; turned on
    again, the first switch saves it as the branch it leaves, not the one live back then."""
    start(project, snapshots=False)
    project.git("config", "migrail.snapshots", "true")
    project.git("switch", "main")  # feature's snapshot saved; main's data live
    project.git("config", "migrail.snapshots", "false")
    project.git("switch", "feature")  # rolled forward, not swapped
    project.query("INSERT INTO shop_item (name, stock) VALUES (5, 5)")
    project.git("config", "migrail.snapshots", "true")

    out = project.git("switch", "-c", "other")
    assert "holds the data of 'main'" not in out
    assert "migrail: saved database 'default' as the snapshot of 'feature'" in out
    project.git("switch", "feature")
    assert project.query("SELECT name, stock FROM shop_item") == [[5, 5]]


def test_an_unknown_owner_never_replaces_a_branchs_snapshot(project: DjangoProject) -> None:
    """Snapshots off for a while (whose data is live is forgotten), then on again and a switch
    that did not swap: the sync and the next switch save main's data as feature's snapshot,
    so feature's earlier one, which holds rows nothing else has, is kept under a name."""
    start(project, snapshots=False)
    project.git("config", "migrail.snapshots", "true")
    project.query("INSERT INTO shop_item (name, stock) VALUES (1, 3)")  # only on feature
    project.git("switch", "main")  # feature's snapshot saved; main goes on from a copy
    project.query("DELETE FROM shop_item")
    project.git("config", "migrail.snapshots", "false")
    project.git("switch", "feature")
    project.git("switch", "main")  # rollbacks: whose data is live is forgotten
    project.git("config", "migrail.snapshots", "true")
    skipped_switch(project, "feature")
    sync(project)  # applies feature's migration to main's data
    status = project.migrail("status")
    assert (
        "  snapshots: on; whose data the database holds is not known (a sync ran with snapshots "
        "off): a switch saves it as this branch's and keeps this branch's earlier snapshot "
        "under a name of its own\n"
    ) in status.stdout

    out = project.git("switch", "main")
    kept = re.search(r"the earlier snapshot of 'feature' is kept as '(feature@[0-9-]+)'", out)
    assert kept, out
    name = kept.group(1)
    assert (
        "migrail: whose data the database holds is not known (a sync ran with snapshots off), "
        f"so the earlier snapshot of 'feature' is kept as {name!r}: `migrail snapshot restore "
        f"{name}` brings it back, `migrail snapshot drop {name}` removes it\n"
    ) in out
    assert "migrail: saved database 'default' as the snapshot of 'feature'" in out
    assert sorted(str(s["branch"]) for s in stored(project)) == ["feature", name]

    project.git("switch", "feature")
    assert item_names(project) == []  # the snapshot the last switch saved
    proc = project.migrail("snapshot", "restore", name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sync(project)
    assert project.query("SELECT name, stock FROM shop_item") == [[1, 3]]  # nothing lost
    proc = project.migrail("snapshot", "prune")  # a name of its own: kept until dropped
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [s["branch"] for s in stored(project) if s["named"]] == [name]


def test_snapshots_kept_drops_detached_heads_before_branches(project: DjangoProject) -> None:
    """A `git bisect` or a detached checkout must not evict the branches' snapshots."""
    start(project, snapshots=True, extra="snapshots_kept = 2\n")
    head = project.git("rev-parse", "HEAD").strip()
    project.git("switch", "--detach", "HEAD")  # feature's saved
    project.git("switch", "main")  # the detached HEAD's saved
    out = project.git("switch", "-c", "third")  # main's saved: one beyond snapshots_kept
    assert (
        f"migrail: dropped the snapshot of {head[:12]!r} (database 'default'): beyond "
        "snapshots_kept = 2\n"
    ) in out
    assert sorted(str(s["branch"]) for s in stored(project)) == ["feature", "main"]
    project.git("switch", "--detach", "HEAD")  # third's saved
    detached = project.git("rev-parse", "HEAD").strip()
    project.git("switch", "feature")  # this detached HEAD's saved
    listing = project.migrail("snapshot", "list").stdout
    assert re.search(rf"  {detached[:12]} +detached +{detached[:12]}  yes", listing), listing
    proc = project.migrail("snapshot", "prune")
    assert (
        f"migrail: dropped the snapshot of {detached[:12]!r} (database 'default'): "
        "a detached HEAD's\n"
    ) in proc.stdout


def test_every_spelling_of_the_local_server_finds_the_same_snapshots() -> None:
    """Settings that say `127.0.0.1` on one branch and `localhost` (or nothing) on another
    name one database, so a snapshot saved under one is restored under the other."""
    from migrail.sync.identity import identity_of

    keys = {
        identity_of("default", "postgresql", {"NAME": "app", "HOST": host, "PORT": port}).key
        for host, port in [("127.0.0.1", "5432"), ("localhost", ""), ("", ""), ("::1", 5432)]
    }
    assert len(keys) == 1
    other = identity_of("default", "postgresql", {"NAME": "app", "HOST": "localhost", "PORT": 5433})
    assert other.key not in keys


def test_a_snapshot_record_that_cannot_be_read_is_named_by_list(project: DjangoProject) -> None:
    start(project, snapshots=True)
    project.git("switch", "main")  # feature's saved
    (record,) = [
        p
        for p in (project.root / ".git/migrail/snapshots").glob("*.json")
        if not p.name.startswith("journal-")
    ]
    record.write_text('{"id": "torn')
    proc = project.migrail("snapshot", "list")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(
        f"migrail: {record} is no snapshot record migrail can read; whatever it described is "
        "left as it is (remove the file once you have looked)\n"
    )
    assert record.read_text() == '{"id": "torn'
    copy = record.with_name(f"migrail_snap_{record.stem}.sqlite3")
    kept = copy.read_bytes()
    project.git("switch", "feature")  # no readable snapshot of feature: goes on from main's
    project.git("switch", "main")  # saved beside the copy the torn record described
    assert copy.read_bytes() == kept
    assert record.read_text() == '{"id": "torn'
    assert [s["branch"] for s in stored(project) if s["id"] != record.stem] == ["feature"]


def test_a_new_branch_made_while_another_branchs_data_is_live_is_synced(
    project: DjangoProject,
) -> None:
    """main's data is live on feature (a skipped switch); `git switch -c tmp` (the same commit
    as feature) saves it as main's snapshot and syncs it to tmp's migrations."""
    start(project, snapshots=True)
    project.git("switch", "main")  # feature saved; main goes on, rolled back
    project.query("INSERT INTO shop_item (name) VALUES (4)")
    skipped_switch(project, "feature")
    out = project.git("switch", "-c", "tmp")
    assert (
        "migrail: saved database 'default' as the snapshot of 'main' (it held the data of 'main': "
        "the switch to 'feature' did not swap it)"
    ) in out
    assert "+ shop.0002_stock" in out
    proc = project.migrail("status")
    assert proc.returncode == 0, proc.stdout
    main = project.git("rev-parse", "main").strip()
    assert [s["commit"] for s in stored(project) if s["branch"] == "main"] == [main]
    project.git("switch", "main")
    assert item_names(project) == [[4]]


def test_a_mariadb_swap_behind_an_open_transaction_gives_up_in_time(tmp_path: Path) -> None:
    """A shell idle in a transaction holds a metadata lock on a table: `RENAME TABLE` would
    wait for it forever (and queue every other session behind it). The swap gives up after
    MIGRAIL_LOCK_WAIT, nothing moved, and the switch syncs without snapshots."""
    pymysql = pytest.importorskip("pymysql")

    with database_settings("mariadb", tmp_path) as (settings, fresh_name):
        project = real_project(tmp_path / "repo", tmp_path / "packages", settings)
        start(project, snapshots=True)
        main_parked_feature_live(project)
        add_user_rows(project)
        shell = pymysql.connect(**{**MARIADB, "database": settings["NAME"]}, autocommit=False)
        try:
            with shell.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM auth_user")  # and idles in the transaction
            started = time.monotonic()
            out = git(project.root, "switch", "main", env={**project.env, "MIGRAIL_LOCK_WAIT": "2"})
            took = time.monotonic() - started
        finally:
            shell.rollback()
            shell.close()
        assert (
            f"migrail: no snapshot of database 'default': another session holds a lock on a table "
            f"of database {settings['NAME']!r} (a shell or server in an open transaction?), and "
            "migrail gave up after 2s (MIGRAIL_LOCK_WAIT); syncing without snapshots instead\n"
        ) in out
        assert took < 60, took
        assert project.schema() == fresh_schema(project, fresh_name)
        assert user_rows(project) == USER_ROWS_ADDED
        assert "main" in {str(s["branch"]) for s in stored(project)}  # main's copy untouched


@pytest.mark.parametrize("db_project", ["sqlite"], indirect=True)
def test_a_snapshot_holding_its_branchs_own_migrations_is_not_called_unsynced(
    db_project: tuple[DjangoProject, str], tmp_path: Path
) -> None:
    """A failed sync leaves the migrations of feature's tip live; back on feature (hooks
    off), a snapshot saved of it holds exactly its branch's migrations: no "not synced"."""
    project, _ = db_project
    block = tmp_path / "block"
    fragile_feature(project, block)
    block.write_text("")
    out = project.git("switch", "main", check=False)
    assert "migrail: the sync did not finish" in out
    project.git("-c", "core.hooksPath=/dev/null", "switch", "-q", "feature")

    saved = project.migrail("snapshot", "save")

    assert saved.returncode == 0, saved.stdout + saved.stderr
    assert saved.stdout.startswith(
        "migrail: saved database 'default' as the snapshot of 'feature' ("
    ), saved.stdout
    assert "not synced" not in saved.stdout


def run_sql(engine: str, sql: str) -> None:
    """Statements as an administrator would type them, on the test server."""
    if engine == "postgresql":
        import psycopg

        with psycopg.connect(PG_DSN, autocommit=True) as admin:
            for statement in filter(None, (part.strip() for part in sql.split(";"))):
                admin.execute(statement)
        return
    import pymysql

    connection = pymysql.connect(autocommit=True, **MARIADB)
    try:
        with connection.cursor() as cursor:
            for statement in filter(None, (part.strip() for part in sql.split(";"))):
                cursor.execute(statement)
    finally:
        connection.close()


# The step after which the switch is killed: the live database parked, the arriving
# branch's not yet moved in. MariaDB's third step moves the live tables out.
PARKED = {
    "postgresql": (2, 'CREATE DATABASE "{name}"', 'DROP DATABASE "{name}" WITH (FORCE)'),
    "mariadb": (3, "", "DROP DATABASE `{name}`; CREATE DATABASE `{name}`"),
}


@pytest.mark.parametrize("engine", ["postgresql", "mariadb"])
def test_a_live_database_made_again_after_a_killed_swap_is_never_overwritten(
    engine: str, tmp_path: Path
) -> None:
    """Killed between the swap's moves; `status` says so. The user makes the database again
    and migrates: the replay stops, naming it, and forgets no snapshot; moved aside, the
    next sync finishes the switch."""
    step, remake, clear = PARKED[engine]
    with database_settings(engine, tmp_path) as (settings, fresh_name):
        project = DjangoProject(tmp_path / "repo", database=settings)
        start(project, snapshots=True)
        main_parked_feature_live(project)
        env = {**project.env, "MIGRAIL_KILL_AFTER_SNAPSHOT_STEP": str(step)}
        switched = subprocess.run(
            ["git", "switch", "main"], cwd=project.root, env=run_env(env), capture_output=True
        )
        assert switched.returncode != 0  # the hook was killed
        assert_an_interrupted_switch_is_named(project)

        name = str(settings["NAME"])
        if remake:
            run_sql(engine, remake.format(name=name))
        migrated = project.manage("migrate")
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        records = stored(project)
        proc = project.migrail("sync")
        assert proc.returncode != 0, proc.stdout + proc.stderr
        assert "the interrupted snapshot switch of database 'default' cannot finish: " in (
            proc.stderr
        )
        assert f"Move {name!r} aside" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert stored(project) == records  # nothing forgotten

        run_sql(engine, clear.format(name=name))
        assert_the_next_sync_finishes_the_switch(project, fresh_name)


@pytest.mark.mariadb
def test_a_move_done_but_not_journaled_names_the_live_database_to_move_aside(
    tmp_path: Path,
) -> None:
    """MariaDB killed after moving the live tables away but before the journal said so; the
    user migrates the (empty) live schema again. The replay would move it over the parked
    snapshot: it stops, and names the live database, made since, as the one to move aside,
    never the snapshot holding the branch's rows."""
    step, _, clear = PARKED["mariadb"]
    with database_settings("mariadb", tmp_path) as (settings, fresh_name):
        project = DjangoProject(tmp_path / "repo", database=settings)
        start(project, snapshots=True)
        main_parked_feature_live(project)
        env = {**project.env, "MIGRAIL_KILL_AFTER_SNAPSHOT_STEP": str(step)}
        switched = subprocess.run(
            ["git", "switch", "main"], cwd=project.root, env=run_env(env), capture_output=True
        )
        assert switched.returncode != 0  # the hook was killed
        (journal_file,) = (project.root / ".git/migrail/snapshots").glob("journal-*.json")
        journal = json.loads(journal_file.read_text())
        journal["done"] = step - 1  # the move committed; the journal was not written yet
        journal_file.write_text(json.dumps(journal))
        assert project.manage("migrate").returncode == 0

        name = str(settings["NAME"])
        proc = project.migrail("sync")
        assert proc.returncode != 0, proc.stdout + proc.stderr
        assert f"{name!r} holds data again (made since the switch stopped?)" in proc.stderr
        assert f"Move {name!r} aside" in proc.stderr

        run_sql("mariadb", clear.format(name=name))
        assert_the_next_sync_finishes_the_switch(project, fresh_name)


@pytest.mark.postgres
def test_a_session_in_the_snapshot_to_restore_is_refused_before_anything_moves(
    tmp_path: Path,
) -> None:
    """Someone is connected to main's parked copy: renaming it into place would fail after
    the live database was parked, leaving none. The switch refuses first and falls back to
    a plain sync; the live database is there throughout."""
    psycopg = pytest.importorskip("psycopg")
    with database_settings("postgresql", tmp_path) as (settings, _):
        project = DjangoProject(tmp_path / "repo", database=settings)
        start(project, snapshots=True)
        main_parked_feature_live(project)
        (parked,) = [s for s in stored(project) if s["branch"] == "main"]
        dsn = PG_DSN.replace("dbname=postgres", f"dbname=migrail_snap_{parked['id']}")
        with psycopg.connect(dsn, autocommit=True):
            out = project.git("switch", "main")
        assert (
            "the snapshot of 'main' cannot be restored: its copy "
            f"'migrail_snap_{parked['id']}' is open in 1 other session(s)"
        ) in out
        assert "syncing without snapshots instead" in out
        assert project.migrail("status").returncode == 0
        assert "stock" not in str(project.schema())


def test_a_switch_that_could_not_save_its_snapshot_points_at_the_backup(
    project: DjangoProject,
) -> None:
    """A reader's open transaction keeps the snapshot copy from being made: the rollback's
    drops are then kept by the backup alone, and the hint does not ask for a snapshot first
    (the switch is under way)."""
    start(project, snapshots=True)
    project.git("switch", "main")
    project.git("switch", "feature")  # main has a snapshot: the next switch swaps
    project.query("INSERT INTO shop_item (name, stock) VALUES (1, 5)")
    reader = sqlite3.connect(project.root / "db.sqlite3", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT * FROM shop_item").fetchall()
    try:
        out = git(
            project.root,
            "switch",
            "main",
            check=False,
            env={**project.env, "MIGRAIL_LOCK_WAIT": "1"},
        )
    finally:
        reader.execute("ROLLBACK")
        reader.close()
    assert (
        "migrail: this rollback drops tables or columns that hold rows, and no snapshot keeps "
        "them (this switch could not save one); bring them back from the backup with "
        "`migrail restore`\n"
    ) in out
    assert "snapshot save" not in out


def test_snapshots_turned_off_on_purpose_are_not_urged_on(project: DjangoProject) -> None:
    project.git("config", "migrail.snapshots", "false")
    main_branch(project)
    feature_branch(project)
    sync(project)
    project.query("INSERT INTO shop_item (name, stock) VALUES (7, 5)")
    project.git("switch", "-q", "main")
    out = sync(project)
    assert "migrail: this rollback drops tables or columns that hold rows\n" in out
    assert "migrail.snapshots" not in out


def test_snapshots_turned_off_after_being_on_are_not_urged_on_again(
    project: DjangoProject,
) -> None:
    project.git("config", "migrail.snapshots", "true")
    main_branch(project)
    sync(project)
    feature_branch(project)
    sync(project)
    assert project.migrail("switch", "main").returncode == 0  # feature's snapshot saved
    project.git("config", "migrail.snapshots", "false")
    assert project.migrail("switch", "feature").returncode == 0
    project.query("INSERT INTO shop_item (name, stock) VALUES (7, 5)")
    proc = project.migrail("switch", "main")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "migrail: this rollback drops tables or columns that hold rows\n" in proc.stdout
    assert "migrail.snapshots" not in proc.stdout
