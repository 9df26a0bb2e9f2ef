"""A database or disk that says no ends in one line naming the database and the cause,
exit 2, nothing changed: a server that is down, an SQLite file another process holds
locked, a backups directory that is full or not writable, a table lock that blocks `pg_dump`.
Databases are named as the settings spell their host (127.0.0.1 stays 127.0.0.1)."""

from __future__ import annotations

import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.databases import database_settings
from tests.djangoproject import DjangoProject, run_env
from tests.scenarios import feature_branch, main_branch, sync

DOWN = {
    "postgresql": (
        "django.db.backends.postgresql",
        "postgresql 'app' on 127.0.0.1:5999",
        "connection failed",
    ),
    "mariadb": (
        "django.db.backends.mysql",
        "mysql 'app' on 127.0.0.1:5999",
        "Can't connect to MySQL server on '127.0.0.1'",
    ),
}


@pytest.mark.parametrize("server", list(DOWN))
def test_database_down_is_one_line(project: DjangoProject, server: str) -> None:
    engine, described, start = DOWN[server]
    project.database = {"ENGINE": engine, "NAME": "app", "HOST": "127.0.0.1", "PORT": "5999"}
    main_branch(project)
    line = re.compile(
        rf"migrail: error: database 'default' \({re.escape(described)}\): "
        rf"the server is not reachable \({re.escape(start)}[^\n]*\)\n"
    )
    for command in (["status"], ["sync"], ["sync", "--dry-run"]):
        proc = project.migrail(*command)
        assert line.fullmatch(proc.stderr), (command, proc.stderr)
        assert proc.returncode == 2


def test_database_down_through_the_hook_says_what_to_run(project: DjangoProject) -> None:
    project.database = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "app",
        "HOST": "127.0.0.1",
        "PORT": "5999",
    }
    main_branch(project)
    old = project.git("rev-parse", "HEAD").strip()
    feature_branch(project)
    new = project.git("rev-parse", "HEAD").strip()
    proc = project.migrail("hook", "post-checkout", old, new, "1")
    lines = proc.stderr.splitlines()
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith(
        "migrail: the sync did not finish: database 'default' "
        "(postgresql 'app' on 127.0.0.1:5999): the server is not reachable (connection failed"
    )
    assert lines[1] == f"migrail: when that is fixed, run `migrail sync --from {old[:12]}`"
    assert proc.returncode == 1


def test_sqlite_locked_by_another_writer(project: DjangoProject) -> None:
    main_branch(project)
    sync(project)
    feature_branch(project)
    db = project.root / "db.sqlite3"
    before = db.read_bytes()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        proc = project.migrail("sync")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.stderr == (
        f"migrail: error: database 'default' (sqlite {db}): "
        "another process holds it locked (database is locked)\n"
    )
    assert proc.returncode == 2
    assert db.read_bytes() == before


def test_backups_directory_full(project: DjangoProject) -> None:
    """A file-size limit makes the backup's write fail as a full disk would."""
    main_branch(project)
    sync(project)
    feature_branch(project)
    sync(project)
    project.git("switch", "-q", "main")
    db = project.root / "db.sqlite3"
    before = db.read_bytes()
    limit = len(before) // 2

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(
        [sys.executable, "-m", "migrail", "sync"],
        cwd=project.root,
        env=run_env(),
        capture_output=True,
        text=True,
        preexec_fn=small_files,
    )
    assert proc.stderr == (
        f"migrail: error: cannot back up database 'default' (sqlite {db}): "
        "disk I/O error; nothing was changed\n"
    )
    assert proc.returncode == 2
    assert db.read_bytes() == before
    assert list((project.root / ".git/migrail/backups").iterdir()) == []


def test_database_named_localhost_in_settings_is_shown_so(project: DjangoProject) -> None:
    project.database = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "app",
        "HOST": "localhost",
        "PORT": "5999",
    }
    main_branch(project)
    proc = project.migrail("status")
    assert proc.stderr.startswith(
        "migrail: error: database 'default' (postgresql 'app' on localhost:5999): "
        "the server is not reachable"
    ), proc.stderr
    assert proc.returncode == 2


NOT_OWNER = ["setpriv", "--bounding-set=-dac_override,-fowner", "--"]
"""Root without the capabilities that bypass file permissions: as any other user, it cannot
write in (or chmod) a directory another user owns. The tests run as root."""


def test_backups_directory_another_user_owns(project: DjangoProject) -> None:
    """What `sudo migrail …` leaves behind, or a directory shared by mistake: sync and restore
    stop before changing anything, with one line naming the directory."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv (util-linux) to run without permission overrides")
    main_branch(project)
    sync(project)
    feature_branch(project)
    sync(project)
    project.git("switch", "-q", "main")
    sync(project)  # a rollback: its backup is the one to restore below
    backups = project.root / ".git/migrail/backups"
    (taken,) = [p.name for p in backups.iterdir() if not p.name.endswith(".json")]
    project.git("switch", "-q", "feature")
    sync(project)
    project.git("switch", "-q", "main")
    os.chown(backups, 65534, 65534)  # nobody's
    db = project.root / "db.sqlite3"
    before, files = db.read_bytes(), sorted(backups.iterdir())
    message = (
        f"migrail: error: cannot write a backup of database 'default' in {backups}: "
        "permission denied; nothing was changed\n"
    )
    for command in (["sync"], ["restore", taken]):
        proc = subprocess.run(
            [*NOT_OWNER, sys.executable, "-m", "migrail", *command],
            cwd=project.root,
            env=run_env(),
            capture_output=True,
            text=True,
        )
        assert proc.stderr == message, command
        assert proc.returncode == 2, command
        assert db.read_bytes() == before, command
        assert sorted(backups.iterdir()) == files, command


def test_pg_dump_blocked_by_a_table_lock(tmp_path: Path) -> None:
    import psycopg

    with database_settings("postgresql", tmp_path) as (settings, _):
        project = DjangoProject(tmp_path / "repo", database=settings)
        main_branch(project)
        sync(project)
        feature_branch(project)
        sync(project)
        project.git("switch", "-q", "main")
        before = project.schema()
        dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={settings['NAME']}"
        with psycopg.connect(dsn) as holder:
            holder.execute("LOCK TABLE shop_item IN ACCESS EXCLUSIVE MODE")
            proc = subprocess.run(
                [sys.executable, "-m", "migrail", "sync"],
                cwd=project.root,
                env=run_env({"MIGRAIL_LOCK_WAIT": "2"}),
                capture_output=True,
                text=True,
                timeout=120,  # not a speed check: without a lock timeout pg_dump waits forever
            )
            holder.rollback()
        assert (
            "migrail: waiting for pg_dump of database 'default': another session holds a lock "
            "on a table (migrail gives up after 2s)\n"
        ) in proc.stdout
        assert proc.stderr == (
            "migrail: error: cannot back up database 'default' "
            f"(postgresql '{settings['NAME']}' on 127.0.0.1:5432): another session held a "
            "table locked for 2s; nothing was changed\n"
        )
        assert proc.returncode == 2
        assert project.schema() == before


def test_sqlite_locked_mid_rollback_of_a_data_migration_names_the_lock(
    project: DjangoProject,
) -> None:
    """The lock taken after the plan was made: Django reports it, inside the rollback's atomic
    block, as a TransactionManagementError; the one line names the lock."""
    main_branch(project)
    feature_branch(
        project,
        shop_operation="migrations.RunPython(lambda apps, schema_editor: "
        "apps.get_model('shop', 'Item').objects.create(name=1), "
        "lambda apps, schema_editor: apps.get_model('shop', 'Item').objects.all().delete()),",
    )
    sync(project)
    project.git("switch", "-q", "main")
    db = project.root / "db.sqlite3"
    holder = sqlite3.connect(db, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE held (id integer)")
    try:
        proc = project.migrail("sync", "--no-backup", env={"MIGRAIL_LOCK_WAIT": "1"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "TransactionManagementError" not in proc.stderr
    assert "another process holds it locked (database is locked)" in proc.stderr
    applied = project.query("SELECT name FROM django_migrations WHERE app = 'shop'")
    assert ["0002_stock"] in applied


def test_a_missing_database_in_a_linked_worktree_names_worktree_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worktree made before its branch's settings had `per_worktree`: its database does
    not exist until `migrail worktree init`, which the error names (only there)."""
    from migrail.sync.errors import _cause

    error = sqlite3.OperationalError('database "shop_wt_b_f671f3" does not exist')
    main, linked = tmp_path / "main", tmp_path / "wt-b"
    subprocess.run(["git", "init", "-q", str(main)], check=True)
    admin = main / ".git/worktrees/wt-b"
    admin.mkdir(parents=True)
    (admin / "commondir").write_text("../..\n")
    linked.mkdir()
    (linked / ".git").write_text(f"gitdir: {admin}\n")
    monkeypatch.chdir(main)
    assert _cause(error) == 'database "shop_wt_b_f671f3" does not exist'
    monkeypatch.chdir(linked)
    assert _cause(error) == (
        'database "shop_wt_b_f671f3" does not exist; in this linked worktree, '
        "`migrail worktree init` makes its database"
    )


def test_a_rollback_whose_commit_is_locked_says_the_lines_above_were_rolled_back(
    project: DjangoProject,
) -> None:
    """A reader's open transaction lets the rollback run but not commit: each migration was
    reported as unapplied, so the failure says that transaction is gone."""
    main_branch(project)
    feature_branch(project)
    sync(project)
    project.git("switch", "-q", "main")
    db = project.root / "db.sqlite3"
    before = project.query("SELECT app, name FROM django_migrations ORDER BY id")
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT * FROM django_migrations").fetchall()
    try:
        proc = project.migrail("sync", "--no-backup", env={"MIGRAIL_LOCK_WAIT": "1"})
    finally:
        reader.execute("ROLLBACK")
        reader.close()
    assert proc.returncode == 2
    assert "  - unapplying shop.0002_stock" in proc.stdout
    assert (
        "unapplying failed (nothing was changed: the unapplying above was rolled back with its "
        "transaction): database 'default': another process holds it locked (database is locked)"
    ) in proc.stderr
    assert project.query("SELECT app, name FROM django_migrations ORDER BY id") == before


def test_a_rollback_that_changed_nothing_keeps_no_backup_and_prunes_none(
    project: DjangoProject,
) -> None:
    """A retry after a rollback its transaction took back is a sync like the first: the backup
    taken for the failed one is removed (the database holds what it held), older backups are
    not pruned to make room for it, and no sync is midway."""
    project.write("pyproject.toml", "[tool.migrail]\nbackups_kept = 1\n")
    main_branch(project)
    feature_branch(project)
    sync(project)
    project.git("switch", "-q", "main")
    sync(project)
    backups = project.root / ".git/migrail/backups"
    (kept,) = [p.name for p in backups.glob("*.sqlite3")]
    project.git("switch", "-q", "feature")
    sync(project)
    project.git("switch", "-q", "main")
    holder = sqlite3.connect(project.root / "db.sqlite3", isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")  # a writer elsewhere: the rollback cannot commit
    try:
        proc = project.migrail("sync")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "(nothing was changed" in proc.stderr
    removed = [line for line in proc.stdout.splitlines() if line.startswith("migrail: removed")]
    assert len(removed) == 1, proc.stdout
    assert removed[0].endswith(": the rollback changed nothing")
    assert [p.name for p in backups.glob("*.sqlite3")] == [kept]
    retried = sync(project)
    assert "stopped midway" not in retried
    assert [p.name for p in backups.glob("*.sqlite3")] != [kept]
    assert len(list(backups.glob("*.sqlite3"))) == 1


def test_a_mysql_drivers_code_and_message_read_as_words() -> None:
    from django.db.utils import OperationalError

    from migrail.sync.errors import _cause

    denied = OperationalError(
        1045, "Access denied for user 'root'@'localhost' (using password: YES)"
    )
    assert _cause(denied) == (
        "Access denied for user 'root'@'localhost' (using password: YES) (error 1045)"
    )
    refused = OperationalError(2003, "Can't connect to MySQL server on '127.0.0.1' ([Errno 111])")
    assert _cause(refused) == (
        "the server is not reachable (Can't connect to MySQL server on '127.0.0.1' ([Errno 111]) "
        "(error 2003))"
    )
