"""A database per linked worktree, through `git worktree add` and the installed hooks, on
real SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import copy
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.databases import MARIADB, PG_DSN
from tests.djangoproject import DjangoProject, add_field, migration_source, migration_with_helper
from tests.scenarios import main_branch, sync

# The settings a project writes once: its SQLite file beside the code (inside each worktree),
# and its databases wrapped.
PER_WORKTREE = """
import migrail
from pathlib import Path
if 'sqlite' in DATABASES['default']['ENGINE'] and 'TEST_DB_NAME' not in os.environ:
    DATABASES['default']['NAME'] = str(Path(__file__).resolve().parent.parent / 'db.sqlite3')
DATABASES = migrail.per_worktree(DATABASES)
"""


def in_worktree(project: DjangoProject, path: Path) -> DjangoProject:
    """The same project seen from another worktree (its files are git's, not rewritten)."""
    other = copy.copy(project)
    other.root = path
    return other


def server_databases(project: DjangoProject, name: str = "") -> set[str]:
    """The databases on the project's server whose name starts with the project's (or
    `name`)."""
    name = name or project.database.get("NAME", "") + "_"
    engine = project.database.get("ENGINE", "")
    if "postgresql" in engine:
        import psycopg

        with psycopg.connect(PG_DSN, autocommit=True) as admin:
            rows = admin.execute("SELECT datname FROM pg_database").fetchall()
    elif "mysql" in engine:
        import pymysql

        admin = pymysql.connect(autocommit=True, **MARIADB)
        with admin.cursor() as cursor:
            cursor.execute("SHOW DATABASES")
            rows = list(cursor.fetchall())
        admin.close()
    else:
        return {p.name for p in project.root.parent.glob("**/db*.sqlite3")}
    return {str(row[0]) for row in rows if str(row[0]).startswith(name)}


def drop_server_databases(project: DjangoProject, start: str = "") -> None:
    engine = project.database.get("ENGINE", "")
    for name in server_databases(project, start):
        if "postgresql" in engine:
            import psycopg

            with psycopg.connect(PG_DSN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        elif "mysql" in engine:
            import pymysql

            admin = pymysql.connect(autocommit=True, **MARIADB)
            with admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            admin.close()


@pytest.fixture
def project(db_project: tuple[DjangoProject, str]) -> Iterator[DjangoProject]:
    """main (shop, billing) migrated with a row, worktree databases on, hooks installed."""
    p, _ = db_project
    p.settings_extra = PER_WORKTREE
    p.write_settings()
    main_branch(p)
    p.git("config", "migrail.worktreeDatabases", "true")
    assert p.migrail("install").returncode == 0
    sync(p)
    p.query("INSERT INTO shop_item (name) VALUES (42)")
    try:
        yield p
    finally:
        drop_server_databases(p)


def stock_branch(p: DjangoProject, branch: str = "feature") -> None:
    """`branch` adds shop.0002_stock, whose code only it has; main is checked out again."""
    p.git("switch", "-q", "-c", branch)
    migration_with_helper(p, "shop", "0002_stock", "0001_initial", "item")
    p.commit(branch)
    p.git("switch", "-q", "main")


def columns(p: DjangoProject) -> list[str]:
    schema = p.schema()
    tables = schema["tables"]
    assert isinstance(tables, dict)
    return sorted(tables["shop_item"])


def test_a_new_worktree_gets_a_copy_of_the_main_database_synced_to_its_branch(
    project: DjangoProject,
) -> None:
    p = project
    stock_branch(p)
    main_schema = p.schema()

    out = p.git("worktree", "add", "-q", "../wt", "feature")
    wt = in_worktree(p, p.root.parent / "wt")
    assert "is a copy of the main worktree's" in out
    assert "+ shop.0002_stock" in out or "applying shop.0002_stock" in out
    assert wt.query("SELECT name FROM shop_item") == [[42]]  # the main worktree's row
    assert "stock" in columns(wt)
    assert p.schema() == main_schema  # the main worktree's database is as it was

    out = p.git("worktree", "add", "-q", "-b", "topic", "../wt2")
    wt2 = in_worktree(p, p.root.parent / "wt2")
    assert "is a copy of the main worktree's" in out
    assert wt2.query("SELECT name FROM shop_item") == [[42]]
    assert "stock" not in columns(wt2)
    record_file = p.root / ".git/migrail/worktrees/wt2.json"
    assert stat.S_IMODE(record_file.stat().st_mode) == 0o600
    (made,) = json.loads(record_file.read_text())["databases"]
    assert made["state"] == "copied"
    if "sqlite" in p.database["ENGINE"]:
        assert made["main"]["name"] == str((p.root / "db.sqlite3").resolve())
        assert made["identity"]["name"] == str((p.root.parent / "wt2/db.sqlite3").resolve())
        assert stat.S_IMODE((p.root.parent / "wt2/db.sqlite3").stat().st_mode) == 0o600
    else:
        assert made["main"]["name"] == p.database["NAME"]
        assert made["identity"]["name"] == p.database["NAME"] + "_wt2"

    # A checkout in one worktree moves its own database only.
    wt.query("INSERT INTO shop_item (name, stock) VALUES (7, 1)")
    wt.git("switch", "-q", "-c", "back", "main")
    assert "stock" not in columns(wt)
    assert p.schema() == main_schema
    assert wt2.query("SELECT name FROM shop_item") == [[42]]
    assert p.query("SELECT name FROM shop_item") == [[42]]

    status = wt.migrail("status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "migrail: worktree 'wt' has a database of its own: default " in status.stdout

    listing = p.migrail("worktree", "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["WORKTREE", "BRANCH", "ALIAS", "DATABASE", "SIZE"]
    assert [line.split()[1] for line in lines[1:]] == ["main", "back", "topic"]
    wt_row = lines[2].split()
    if "sqlite" in p.database["ENGINE"]:
        assert wt_row[3] == str(p.root.parent / "wt/db.sqlite3")
    else:
        assert wt_row[3] == p.database["NAME"] + "_wt"
    assert wt_row[4] != "(none)"

    # Gone from git: its database is dropped; the others stay.
    before = server_databases(p)
    p.git("worktree", "remove", "--force", "../wt")
    if "postgresql" in p.database["ENGINE"]:  # the removed worktree's dev server, still up
        psycopg = pytest.importorskip("psycopg")
        dsn = PG_DSN.replace("dbname=postgres", f"dbname={p.database['NAME']}_wt")
        with psycopg.connect(dsn, autocommit=True):
            held = p.migrail("worktree", "prune")
        assert held.returncode == 1, held.stdout + held.stderr
        assert f"migrail: cannot drop '{p.database['NAME']}_wt' (worktree 'wt'): " in held.stderr
        assert len(held.stderr.splitlines()) == 1, held.stderr
    pruned = p.migrail("worktree", "prune")
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert "migrail: dropped " in pruned.stdout
    after = server_databases(p)
    assert len(before) - len(after) == (0 if "sqlite" in p.database["ENGINE"] else 1)
    assert wt2.query("SELECT name FROM shop_item") == [[42]]
    assert p.query("SELECT name FROM shop_item") == [[42]]
    again = p.migrail("worktree", "prune")
    assert "migrail: no worktree databases to drop" in again.stdout


def test_the_copy_is_rolled_back_with_the_main_worktrees_code(project: DjangoProject) -> None:
    """The main worktree is on feature (0002 applied, its helper module only there); a
    worktree of main gets a copy holding 0002, unapplied with feature's code."""
    p = project
    stock_branch(p)
    p.git("switch", "-q", "feature")
    assert "stock" in columns(p)

    out = p.git("worktree", "add", "-q", "../old", "main")
    old = in_worktree(p, p.root.parent / "old")
    assert "is a copy of the main worktree's" in out
    assert "shop.0002_stock" in out
    assert "stock" not in columns(old)
    assert old.query("SELECT name FROM shop_item") == [[42]]
    assert "stock" in columns(p)


def test_snapshots_on_with_worktree_databases(project: DjangoProject) -> None:
    p = project
    p.git("config", "migrail.snapshots", "true")
    stock_branch(p)
    p.git("worktree", "add", "-q", "../wt", "feature")
    wt = in_worktree(p, p.root.parent / "wt")
    wt.query("UPDATE shop_item SET stock = 5")
    main_schema = p.schema()

    out = wt.git("switch", "-c", "other", "main")
    assert "saved database 'default' as the snapshot of 'feature'" in out
    assert "stock" not in columns(wt)
    out = wt.git("switch", "feature")
    assert wt.query("SELECT name, stock FROM shop_item") == [[42, 5]]
    assert p.schema() == main_schema
    # Each database has snapshots of its own: the worktree's of the branch it left.
    assert "  other " in wt.migrail("snapshot", "list").stdout
    assert "  other " not in p.migrail("snapshot", "list").stdout


def test_a_dev_server_on_the_main_database(project: DjangoProject) -> None:
    """A session open on the main database: MariaDB and SQLite copy anyway; PostgreSQL's
    template copy refuses, which is said in one line, and the worktree's database is made
    empty and migrated (git's work done, the hook exits 0)."""
    p = project
    engine = p.database["ENGINE"]
    server: Any
    if "postgresql" in engine:
        import psycopg

        server = psycopg.connect(
            f"{PG_DSN.replace('dbname=postgres', '')} dbname={p.database['NAME']}"
        )
    elif "mysql" in engine:
        import pymysql

        server = pymysql.connect(database=p.database["NAME"], **MARIADB)
    else:
        import sqlite3

        server = sqlite3.connect(p.root / "db.sqlite3")
    server.cursor().execute("SELECT 1")
    try:
        out = p.git("worktree", "add", "-q", "-b", "topic", "../wt")
    finally:
        server.close()
    wt = in_worktree(p, p.root.parent / "wt")
    assert "shop_item" in wt.schema()["tables"]  # type: ignore[operator]
    if "postgresql" in engine:
        assert (
            "(database " + repr(p.database["NAME"]) + " is open in 1 other session(s) (a dev "
            "server?); PostgreSQL copies or renames a database only when nobody is connected to it)"
        ) in out
        assert "is made empty and migrated" in out
        assert wt.query("SELECT name FROM shop_item") == []
    else:
        assert "is a copy of the main worktree's" in out
        assert wt.query("SELECT name FROM shop_item") == [[42]]


def test_snapshot_prefix_names_snapshots_and_worktree_databases(project: DjangoProject) -> None:
    p = project
    p.git("config", "migrail.snapshotPrefix", "mt_")
    p.git("config", "migrail.snapshots", "true")
    saved = p.migrail("snapshot", "save", "keep")
    assert saved.returncode == 0, saved.stdout + saved.stderr
    listing = p.migrail("snapshot", "list").stdout.splitlines()
    assert listing[1].split()[-1] == "DATABASE"
    place = listing[2].split()[-1]
    assert Path(place).name.startswith("mt_migrail_snap_"), place
    assert p.migrail("snapshot", "drop", "keep").returncode == 0

    out = p.git("worktree", "add", "-q", "-b", "topic", "../wt")
    wt = in_worktree(p, p.root.parent / "wt")
    assert wt.query("SELECT name FROM shop_item") == [[42]]
    if "sqlite" in p.database["ENGINE"]:  # inside the worktree: its own already
        assert (p.root.parent / "wt/db.sqlite3").is_file()
    else:
        name = "mt_" + p.database["NAME"] + "_wt"
        assert f"{name!r} is a copy of the main worktree's" in out
        drop_server_databases(p, f"{name}")


def sqlite_project(tmp_path: Path, *, wrapped: bool, on: bool) -> DjangoProject:
    p = DjangoProject(tmp_path / "repo")
    if wrapped:
        p.settings_extra = PER_WORKTREE
        p.write_settings()
    main_branch(p)
    if on:
        p.git("config", "migrail.worktreeDatabases", "true")
    assert p.migrail("install").returncode == 0
    sync(p)
    return p


def test_settings_that_do_not_wrap_their_databases_are_said(tmp_path: Path) -> None:
    """The main worktree's database is left alone: a worktree of a branch with another
    migration does not apply it there (as with the feature off)."""
    p = sqlite_project(tmp_path, wrapped=False, on=True)
    p.git("switch", "-q", "-c", "feature")
    p.migration(
        "shop",
        "0002_stock",
        migration_source([("shop", "0001_initial")], add_field("item", "stock")),
    )
    p.write("shop/migrations/max_migration.txt", "0002_stock\n")
    p.commit("feature")
    p.git("switch", "-q", "main")
    out = p.git("worktree", "add", "-q", "../wt", "feature")
    assert (
        "migrail: database 'default': settings do not give this worktree a database of its own "
        "(wrap them: `DATABASES = migrail.per_worktree(DATABASES)`, see docs/worktrees.md); "
        "it is the main worktree's, so it is not synced here\n"
    ) in out
    assert "applying" not in out
    assert p.migrail("status").returncode == 0  # main's database still holds main's migrations
    status = in_worktree(p, p.root.parent / "wt").migrail("status")
    assert "migrail: worktree 'wt' shares the main worktree's database: default " in status.stdout
    main_status = p.migrail("status")
    assert "migrail: the main worktree's database: default " in main_status.stdout


def test_off_git_worktree_add_makes_nothing(tmp_path: Path) -> None:
    p = sqlite_project(tmp_path, wrapped=True, on=False)
    out = p.git("worktree", "add", "-q", "-b", "topic", "../wt")
    assert "migrail" not in out
    assert not (p.root.parent / "wt/db.sqlite3").exists()
    assert not (p.root / ".git/migrail/worktrees").exists()

    # Turned on afterwards: `migrail worktree init` there makes it as the hook would have.
    p.query("INSERT INTO shop_item (name) VALUES (7)")
    p.git("config", "migrail.worktreeDatabases", "true")
    wt = in_worktree(p, p.root.parent / "wt")
    proc = wt.migrail("worktree", "init")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "is a copy of the main worktree's" in proc.stdout
    assert wt.query("SELECT name FROM shop_item") == [[7]]
    again = wt.migrail("worktree", "init")  # there now: left as it is
    assert again.returncode == 0, again.stdout + again.stderr
    assert "exists already; it is left as it is and synced" in again.stdout
    assert wt.query("SELECT name FROM shop_item") == [[7]]
    outside = p.migrail("worktree", "init")
    assert outside.returncode == 2
    assert "this is not a linked worktree" in outside.stderr


def test_a_copy_a_kill_left_unfinished_is_said(tmp_path: Path) -> None:
    """The record says `copying` from before the copy to after it: a kill in between leaves
    it so, and status and list say the database may be incomplete."""
    p = sqlite_project(tmp_path, wrapped=True, on=True)
    p.git("worktree", "add", "-q", "-b", "topic", "../wt")
    record_file = p.root / ".git/migrail/worktrees/wt.json"
    record = json.loads(record_file.read_text())
    record["databases"][0]["state"] = "copying"
    record_file.write_text(json.dumps(record))
    status = in_worktree(p, p.root.parent / "wt").migrail("status")
    assert "(the copy into default was interrupted: it may be incomplete;" in status.stdout
    listing = p.migrail("worktree", "list").stdout.splitlines()
    assert listing[2].endswith(" (copy interrupted)")
