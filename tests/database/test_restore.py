"""`migrail restore` never makes things worse: it refuses other databases' backups and
damaged files before touching anything, obeys sync's rules, and can be undone.

The projects have Django's contrib apps (a user, a session) and a third-party app installed
outside the work tree (a row): a restore brings back their tables with the rest, and a
refused one leaves them as they were. Only the refusals of damaged SQLite files, decided
from the file before the database is opened, use the small project."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.djangoproject import (
    USER_ROWS_ADDED,
    DjangoProject,
    add_field,
    add_user_rows,
    migration_source,
    real_project,
    run_env,
    user_rows,
)
from tests.scenarios import feature_branch, main_branch, sync

ROWS = "SELECT id, name FROM shop_item ORDER BY id"


@pytest.fixture
def project(tmp_path: Path) -> DjangoProject:
    """Contrib apps and a third-party app outside the work tree, on SQLite."""
    return real_project(tmp_path / "repo", tmp_path / "packages")


@pytest.fixture
def small(tmp_path: Path) -> DjangoProject:
    """Without them: for the refusals of damaged files, decided before any table is read."""
    return DjangoProject(tmp_path / "repo")


def has_user_rows(project: DjangoProject) -> bool:
    return "taglib" in project.apps


def backups(project: DjangoProject) -> Path:
    return project.root / ".git/migrail/backups"


def rolled_back(project: DjangoProject) -> Path:
    """A project on main with rows in shop_item, and the backup its last rollback took."""
    main_branch(project)
    sync(project)
    if has_user_rows(project):
        add_user_rows(project)
    feature_branch(project)
    sync(project)
    project.query("INSERT INTO shop_item (name, stock) VALUES (1, 9), (2, 8)")
    project.git("switch", "-q", "main")
    sync(project)
    project.query("INSERT INTO shop_item (name) VALUES (3)")
    (dump,) = [p for p in backups(project).iterdir() if not p.name.endswith(".json")]
    return dump


def damage(dump: Path, data: bytes, *, keep_checksum: bool = False) -> None:
    """Replace a dump's bytes; unless `keep_checksum`, its metadata agrees with the new bytes,
    so only the check of the content itself can catch it."""
    dump.write_bytes(data)
    if keep_checksum:
        return
    meta_path = dump.with_name(dump.name + ".json")
    meta = json.loads(meta_path.read_text())
    meta["sha256"] = hashlib.sha256(data).hexdigest()
    meta["size"] = len(data)
    meta_path.write_text(json.dumps(meta))


def assert_refused(project: DjangoProject, dump: Path, message: str) -> None:
    schema, rows = project.schema(), project.query(ROWS)
    size = dump.stat().st_size
    written = json.loads(dump.with_name(dump.name + ".json").read_text())["size"]
    listing = project.migrail("restore").stdout  # the listing says so when the size shows it
    said = (
        f"migrail: {dump.name} cannot be restored: the file has {size} bytes, {written} were "
        "written (damaged or cut short)\n"
    )
    assert (said in listing) == (size != written), listing
    proc = project.migrail("restore", dump.name)
    assert proc.stderr == f"migrail: error: backup {dump.name} {message}; nothing was changed\n"
    assert proc.returncode == 2
    assert project.schema() == schema
    assert project.query(ROWS) == rows == [[1, 1], [2, 2], [3, 3]]
    if has_user_rows(project):
        assert user_rows(project) == USER_ROWS_ADDED


def half(data: bytes) -> bytes:
    return data[: len(data) // 2]


SQLITE_DAMAGE: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "empty": (lambda data: b"", "cannot be restored: the file is empty"),
    "header then zeros": (
        lambda data: data[:100] + bytes(len(data) - 100),
        "cannot be restored: SQLite finds it damaged (database disk image is malformed)",
    ),
    "garbage": (
        lambda data: b"not a database\n" * 300,
        "cannot be restored: it is not an SQLite database",
    ),
    "truncated": (
        half,
        "cannot be restored: SQLite finds it damaged (database disk image is malformed)",
    ),
}


@pytest.mark.parametrize("kind", list(SQLITE_DAMAGE))
def test_damaged_sqlite_backup_is_refused(small: DjangoProject, kind: str) -> None:
    dump = rolled_back(small)
    make, message = SQLITE_DAMAGE[kind]
    damage(dump, make(dump.read_bytes()))
    assert_refused(small, dump, message)


def test_backup_changed_since_it_was_taken_is_refused(small: DjangoProject) -> None:
    dump = rolled_back(small)
    damage(dump, half(dump.read_bytes()), keep_checksum=True)
    assert_refused(
        small,
        dump,
        "cannot be restored: the file changed since it was taken (its checksum does not match)",
    )


@pytest.mark.parametrize(
    ("vendor", "make", "message"),
    [
        (
            "mariadb",
            half,
            "cannot be restored: the dump is incomplete (no `-- Dump completed` at its end)",
        ),
        ("mariadb", lambda data: b"", "cannot be restored: the file is empty"),
        ("postgresql", half, "cannot be restored: pg_restore cannot read it"),
    ],
    ids=["mariadb-cut-in-half", "mariadb-empty", "postgresql-truncated"],
)
def test_damaged_server_backup_is_refused(
    tmp_path: Path,
    vendor: str,
    make: Callable[[bytes], bytes],
    message: str,
) -> None:
    from tests.databases import database_settings

    with database_settings(vendor, tmp_path) as (settings, _):
        project = real_project(tmp_path / "repo", tmp_path / "packages", settings)
        dump = rolled_back(project)
        damage(dump, make(dump.read_bytes()))
        if vendor == "postgresql":
            schema, rows = project.schema(), project.query(ROWS)
            proc = project.migrail("restore", dump.name)
            assert proc.returncode == 2
            assert re.fullmatch(
                rf"migrail: error: backup {re.escape(dump.name)} {message} \(.+\); "
                r"nothing was changed\n",
                proc.stderr,
            ), proc.stderr
            assert project.schema() == schema
            assert project.query(ROWS) == rows == [[1, 1], [2, 2], [3, 3]]
            assert user_rows(project) == USER_ROWS_ADDED
        else:
            assert_refused(project, dump, message)


def test_backup_of_another_database_is_refused_and_not_listed(
    project: DjangoProject, tmp_path: Path
) -> None:
    dump = rolled_back(project)
    other = tmp_path / "other.sqlite3"
    project.database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(other)}
    project.write_settings()
    sync(project)
    project.query("INSERT INTO shop_item (name) VALUES (7)")
    listing = project.migrail("restore")
    assert listing.returncode == 0
    assert listing.stdout == (
        f"migrail: no backups of database 'default' (sqlite {other}) yet "
        "(sync takes one before every rollback)\n"
        "migrail: 1 backup of other databases not shown\n"
    )
    before = other.read_bytes()
    proc = project.migrail("restore", dump.name)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"migrail: error: backup {dump.name} is of sqlite {project.root / 'db.sqlite3'}, "
        f"not of database 'default' (sqlite {other}); nothing was changed\n"
    )
    assert other.read_bytes() == before


def test_backup_of_another_engine_is_refused(project: DjangoProject) -> None:
    dump = rolled_back(project)
    project.database = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "app",
        "HOST": "127.0.0.1",
        "PORT": "5432",
    }
    project.write_settings()
    files = sorted(p.name for p in project.root.iterdir())
    proc = project.migrail("restore", dump.name)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"migrail: error: backup {dump.name} is of sqlite {project.root / 'db.sqlite3'}, "
        "not of database 'default' (postgresql 'app' on 127.0.0.1:5432); nothing was changed\n"
    )
    assert sorted(p.name for p in project.root.iterdir()) == files


def test_restore_obeys_the_debug_rule(project: DjangoProject) -> None:
    dump = rolled_back(project)
    rows = project.query(ROWS)
    project.write_settings("DEBUG = False\n")
    proc = project.migrail("restore", dump.name)
    assert proc.returncode == 1
    assert proc.stderr.startswith("migrail: error: settings have DEBUG = False")
    project.write_settings()
    assert project.query(ROWS) == rows
    assert user_rows(project) == USER_ROWS_ADDED


def test_listing_is_this_databases_backups_newest_first_in_utc(project: DjangoProject) -> None:
    project.write_settings("TIME_ZONE = 'Asia/Tokyo'\n")
    main_branch(project)
    sync(project)
    feature_branch(project)
    for _ in range(2):
        sync(project)
        project.git("switch", "-q", "main")
        sync(project, "--from", "feature")  # what the hooks pass: the commit left
        project.git("switch", "-q", "feature")
    main = project.git("rev-parse", "main").strip()
    feature = project.git("rev-parse", "feature").strip()
    listing = project.migrail("restore")
    assert listing.returncode == 0, listing.stderr
    assert project.migrail("restore", "--list").stdout == listing.stdout
    header, *lines = listing.stdout.splitlines()
    assert len(lines) == 2
    pattern = (
        r"(\d{8}-\d{6}-\d{6}-default\.sqlite3)  default  (\S+)  ([0-9a-f]{10})  "
        r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)  ( *\d+\.\d) kB"
    )
    parsed = [re.fullmatch(pattern, line) for line in lines]
    assert all(parsed), lines
    width = len(parsed[0].group(5) + " kB") if parsed[0] else 0  # the size column's
    assert header == (
        "BACKUP                                  ALIAS    BRANCH   COMMIT      TAKEN (UTC)        "
        + "  "
        + "SIZE".rjust(width)
    )
    assert [m.group(2, 3) for m in parsed if m] == [("feature", feature[:10])] * 2
    assert main != feature  # the branch left, not the one arrived at
    times = [datetime.fromisoformat(m.group(4)).replace(tzinfo=timezone.utc) for m in parsed if m]
    assert times == sorted(times, reverse=True)
    # UTC, not the project's TIME_ZONE (nine hours ahead)
    assert abs(datetime.now(timezone.utc) - times[0]) < timedelta(hours=1)
    for m in parsed:
        assert m is not None
        size = (backups(project) / m.group(1)).stat().st_size
        assert m.group(5).strip() == f"{size / 1024:.1f}"
    both = project.migrail("restore", "--list", parsed[0].group(1) if parsed[0] else "")
    assert both.returncode == 2
    assert "not allowed with argument" in both.stderr


def test_restore_backs_up_the_current_state_first(project: DjangoProject) -> None:
    dump = rolled_back(project)
    on_main = project.schema()
    proc = project.migrail("restore", dump.name)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    undo = re.search(r"to undo this, run `migrail restore (\S+)`", proc.stdout)
    assert undo, proc.stdout
    assert project.query("SELECT id, name, stock FROM shop_item") == [[1, 1, 9], [2, 2, 8]]
    assert user_rows(project) == USER_ROWS_ADDED
    proc = project.migrail("restore", undo.group(1))
    assert proc.returncode == 0, proc.stderr
    assert project.schema() == on_main
    assert project.query(ROWS) == [[1, 1], [2, 2], [3, 3]]
    assert user_rows(project) == USER_ROWS_ADDED


def test_backups_are_private_whatever_the_umask(project: DjangoProject) -> None:
    previous = os.umask(0o002)
    try:
        rolled_back(project)
    finally:
        os.umask(previous)
    directory = backups(project)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = list(directory.iterdir())
    assert len(files) == 2  # the dump and its metadata
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}


IRREVERSIBLE = "migrations.RunPython(lambda apps, schema_editor: None),"


def irreversible_on_feature(project: DjangoProject) -> None:
    main_branch(project)
    sync(project)
    project.git("switch", "-q", "-c", "feature")
    project.migration(
        "shop", "0002_data", migration_source([("shop", "0001_initial")], IRREVERSIBLE)
    )
    project.write("shop/migrations/max_migration.txt", "0002_data\n")
    project.commit("feature")
    sync(project)
    project.git("switch", "-q", "main")


def test_irreversible_refusal_offers_restore_only_with_a_usable_backup(
    project: DjangoProject,
) -> None:
    irreversible_on_feature(project)
    proc = project.migrail("sync")
    assert proc.returncode == 1
    assert "Ways out:" in proc.stderr
    assert "migrail restore" not in proc.stderr


def test_irreversible_refusal_names_a_usable_backup(project: DjangoProject) -> None:
    dump = rolled_back(project)
    project.git("switch", "-q", "-c", "data")
    project.migration(
        "shop", "0002_data", migration_source([("shop", "0001_initial")], IRREVERSIBLE)
    )
    project.write("shop/migrations/max_migration.txt", "0002_data\n")
    project.commit("data")
    sync(project)
    project.git("switch", "-q", "main")
    proc = project.migrail("sync")
    assert proc.returncode == 1
    line = (
        f"  - or restore a copy taken before they were applied: `migrail restore {dump.name}` "
        r"\(branch 'feature', just now; it holds billing\.0002_seen, shop\.0002_stock, which "
        r"this checkout lacks: the next sync unapplies them; rows written since are lost\);\n"
    )
    assert re.search(line, proc.stderr), proc.stderr
    damage(dump, b"")
    proc = project.migrail("sync")
    assert proc.returncode == 1
    assert "Ways out:" in proc.stderr
    assert "migrail restore" not in proc.stderr


def test_restore_waits_for_a_sync_of_the_same_database(project: DjangoProject) -> None:
    import fcntl
    import subprocess
    import sys

    dump = rolled_back(project)
    (lock,) = (project.root / ".git/migrail/locks").glob("*.lock")  # the database's, by sync
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        proc = subprocess.Popen(
            [sys.executable, "-m", "migrail", "restore", dump.name],
            cwd=project.root,
            env=run_env(project.env),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first == "migrail: waiting for another sync of database 'default' to finish\n"
        assert project.query(ROWS) == [[1, 1], [2, 2], [3, 3]]  # untouched while it waits
    proc.communicate()
    assert proc.returncode == 0
    assert project.query("SELECT id, name, stock FROM shop_item") == [[1, 1, 9], [2, 2, 8]]
    assert user_rows(project) == USER_ROWS_ADDED


@pytest.mark.parametrize("vendor", ["postgresql", "mariadb"])
def test_restore_on_a_server_brings_every_table_back_and_can_be_undone(
    tmp_path: Path, vendor: str
) -> None:
    """PostgreSQL refuses while another session is connected, and says which database;
    MariaDB's restore is undone too."""
    from tests.databases import database_settings

    with database_settings(vendor, tmp_path) as (settings, _):
        project = real_project(tmp_path / "repo", tmp_path / "packages", settings)
        dump = rolled_back(project)
        on_main = project.schema()
        if vendor == "postgresql":
            import psycopg

            dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={settings['NAME']}"
            with psycopg.connect(dsn):
                proc = project.migrail("restore", dump.name)
            assert proc.returncode == 2
            assert proc.stderr == (
                f"migrail: error: cannot restore {dump.name}: postgresql '{settings['NAME']}' "
                "on 127.0.0.1:5432 is in use by another session (a running server or shell?); "
                "stop it and try again; nothing was changed\n"
            )
            assert project.schema() == on_main
            assert project.query(ROWS) == [[1, 1], [2, 2], [3, 3]]
        proc = project.migrail("restore", dump.name)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""
        assert project.query("SELECT id, name, stock FROM shop_item ORDER BY id") == [
            [1, 1, 9],
            [2, 2, 8],
        ]
        assert user_rows(project) == USER_ROWS_ADDED
        if vendor == "postgresql":
            return  # its undo is the same load again; SQLite and MariaDB undo theirs
        undo = re.search(r"to undo this, run `migrail restore (\S+)`", proc.stdout)
        assert undo, proc.stdout
        proc = project.migrail("restore", undo.group(1))
        assert proc.returncode == 0, proc.stderr
        assert project.schema() == on_main
        assert project.query(ROWS) == [[1, 1], [2, 2], [3, 3]]
        assert user_rows(project) == USER_ROWS_ADDED


@pytest.mark.parametrize(
    ("metadata", "why"),
    [
        (
            b'{"database": {"vendor": "sql',
            "not JSON (Unterminated string starting at: line 1 column 25 (char 24))",
        ),
        (b"{}", "no 'database' in it"),
    ],
    ids=["cut-short", "empty-object"],
)
def test_backup_with_unreadable_metadata_is_listed_and_refused(
    project: DjangoProject, metadata: bytes, why: str
) -> None:
    dump = rolled_back(project)
    meta = dump.with_name(dump.name + ".json")
    meta.write_bytes(metadata)
    listing = project.migrail("restore")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout == (
        f"migrail: no backups of database 'default' (sqlite {project.root / 'db.sqlite3'}) yet "
        "(sync takes one before every rollback)\n"
        f"migrail: {dump.name} cannot be restored: {meta.name} is unreadable: {why}\n"
    )
    schema, rows = project.schema(), project.query(ROWS)
    proc = project.migrail("restore", dump.name)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (
        f"migrail: error: backup {dump.name} cannot be restored: its metadata {meta} is "
        f"unreadable: {why}; nothing was changed\n"
    )
    assert project.schema() == schema
    assert project.query(ROWS) == rows
    assert dump.exists()
    assert meta.read_bytes() == metadata


def test_a_backup_names_the_branch_left_when_another_shares_its_commit(
    project: DjangoProject,
) -> None:
    main_branch(project)
    assert project.migrail("install").returncode == 0
    sync(project)
    feature_branch(project)
    sync(project)
    project.git("branch", "a-twin")  # same commit, sorts first, never checked out
    project.git("switch", "-q", "main")  # the hook backs up before its rollback
    (meta,) = backups(project).glob("*.json")
    assert json.loads(meta.read_text())["branch"] == "feature"


def test_a_backup_after_a_switch_with_the_hooks_off_names_the_branch_whose_data_it_is(
    project: DjangoProject,
) -> None:
    """feature's migrations are live; `git switch main` with the hooks off, then `migrail
    sync`: the backup before the rollback is of feature's data, not main's."""
    main_branch(project)
    feature_branch(project)
    feature = project.git("rev-parse", "HEAD").strip()
    sync(project)
    project.git("switch", "-q", "main")  # no hooks installed

    sync(project)

    (meta,) = backups(project).glob("*.json")
    assert (json.loads(meta.read_text())["branch"], json.loads(meta.read_text())["commit"]) == (
        "feature",
        feature,
    )


def test_a_backup_before_a_revert_names_the_branch_it_was_on(project: DjangoProject) -> None:
    """`git revert` of the commit that added feature's migrations, on feature: no branch
    points at the commit left any more, but it was feature's tip, and the data is feature's."""
    main_branch(project)
    assert project.migrail("install").returncode == 0
    feature_branch(project)
    feature = project.git("rev-parse", "HEAD").strip()
    sync(project)
    project.git("revert", "--no-edit", "HEAD")  # post-commit backs up before its rollback

    (meta,) = backups(project).glob("*.json")
    assert (json.loads(meta.read_text())["branch"], json.loads(meta.read_text())["commit"]) == (
        "feature",
        feature,
    )


def test_the_hooks_refusal_offers_first_a_backup_holding_only_what_the_checkout_has(
    project: DjangoProject,
) -> None:
    """Through the hook the rollback runs with the old commit's code, which plans nothing to
    apply: which backups the checkout can take is judged by the checkout's own migrations."""
    main_branch(project)
    assert project.migrail("install").returncode == 0
    sync(project)
    feature_branch(project)
    sync(project)
    project.git("switch", "-q", "main")  # leaves feature: a backup of feature's state
    (known,) = sorted(p.name for p in backups(project).glob("*.sqlite3"))
    for branch, operation in (("other", add_field("item", "other")), ("data", IRREVERSIBLE)):
        project.git("switch", "-q", "-c", branch)
        project.migration(
            "shop", f"0002_{branch}", migration_source([("shop", "0001_initial")], operation)
        )
        project.write("shop/migrations/max_migration.txt", f"0002_{branch}\n")
        project.commit(branch)
        sync(project)
        if branch == "other":
            project.git("switch", "-q", "main")  # a newer backup, of other's state
    assert len(list(backups(project).glob("*.sqlite3"))) == 2
    out = project.git("switch", "feature", check=False)
    assert "shop.0002_data: Raw Python operation" in out, out
    assert f"`migrail restore {known}` (branch 'feature', " in out, out
    assert "which this checkout lacks" not in out
