"""Rolling back with the code that applied the migrations, on projects shaped like real ones.

Django's contrib apps and a third-party app installed outside the work tree, with rows
that no switch may lose; branches whose migrations import a helper or a custom field
only they have; removed apps; SQLite named relative to BASE_DIR.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.databases import _mariadb, _postgres
from tests.djangoproject import (
    USER_ROWS_ADDED,
    DjangoProject,
    add_field,
    add_user_rows,
    create_model,
    migration_source,
    real_project,
    run_env,
    user_rows,
)
from tests.scenarios import add_migration, diverge, rebase, sync

HELPERS = """\
def fill(apps, schema_editor):
    apps.get_model("shop", "Item").objects.update(stock=5)


def unfill(apps, schema_editor):
    apps.get_model("shop", "Item").objects.filter(stock=5).update(stock=0)
"""
FIELDS = """\
from django.db import models


class PriceField(models.IntegerField):
    pass
"""
OUTSIDE_APPS = ("admin", "auth", "contenttypes", "sessions", "taglib")


@pytest.fixture
def real(tmp_path: Path) -> DjangoProject:
    return real_project(tmp_path / "repo", tmp_path / "packages")


def fresh_schema(p: DjangoProject, fresh_name: str) -> dict[str, object]:
    """A plain `migrate` of the checked-out tree on a database emptied first."""
    engine = (p.database or {}).get("ENGINE", "sqlite3")
    if "sqlite" in engine:
        Path(fresh_name).unlink(missing_ok=True)
    else:
        postgres = "postgresql" in engine
        admin = _postgres() if postgres else _mariadb()
        quote = '"' if postgres else "`"
        with admin.cursor() as cursor:
            force = " WITH (FORCE)" if postgres else ""
            cursor.execute(f"DROP DATABASE IF EXISTS {quote}{fresh_name}{quote}{force}")
            cursor.execute(f"CREATE DATABASE {quote}{fresh_name}{quote}")
        admin.close()
    proc = p.manage("migrate", env={"TEST_DB_NAME": fresh_name})
    assert proc.returncode == 0, proc.stderr
    return p.schema(fresh_name)


def main_branch(p: DjangoProject) -> None:
    p.add_app("shop")
    p.migration("shop", "0001_initial", migration_source([], create_model("Item", "name")))
    p.write("shop/migrations/max_migration.txt", "0001_initial\n")
    p.commit("main")


def helper_branch(p: DjangoProject) -> None:
    """A data migration importing a helper module only this branch has."""
    p.git("switch", "-q", "-c", "helper", "main")
    p.write("shop/helpers.py", HELPERS)
    p.migration(
        "shop",
        "0002_stock",
        migration_source([("shop", "0001_initial")], add_field("item", "stock")),
    )
    p.migration(
        "shop",
        "0003_fill",
        migration_source(
            [("shop", "0002_stock")],
            "migrations.RunPython(fill, unfill),",
            header="from shop.helpers import fill, unfill\n",
        ),
    )
    p.write("shop/migrations/max_migration.txt", "0003_fill\n")
    p.commit("helper")


def field_branch(p: DjangoProject) -> None:
    """A migration using a custom field class from a module only this branch has."""
    p.git("switch", "-q", "-c", "price", "main")
    p.write("shop/fields.py", FIELDS)
    p.migration(
        "shop",
        "0002_price",
        migration_source(
            [("shop", "0001_initial")],
            "migrations.AddField(model_name='item', name='price', "
            "field=shop.fields.PriceField(default=0)),",
            header="import shop.fields\n",
        ),
    )
    p.write("shop/migrations/max_migration.txt", "0002_price\n")
    p.commit("price")


def assert_no_outside_app_in_plan(out: str) -> None:
    for app in OUTSIDE_APPS:
        assert f"  - {app}." not in out
        assert f"unapplying {app}." not in out


def prepare(p: DjangoProject) -> None:
    main_branch(p)
    assert p.migrail("install").returncode == 0
    sync(p)
    add_user_rows(p)
    p.query("INSERT INTO shop_item (name) VALUES (7)")
    helper_branch(p)
    sync(p)
    field_branch(p)  # from main, with the hooks: helper's migrations roll back first


def test_branch_only_code_rolls_back_with_hooks_and_switch(
    real_db_project: tuple[DjangoProject, str],
) -> None:
    project, fresh_name = real_db_project
    prepare(project)
    sync(project)
    fresh: dict[str, dict[str, object]] = {}  # a fresh migrate's schema, once per branch

    def fresh_schema_of(branch: str) -> dict[str, object]:
        if branch not in fresh:
            fresh[branch] = fresh_schema(project, fresh_name)
        return fresh[branch]

    assert project.schema() == fresh_schema(project, fresh_name)
    for branch in ("helper", "main", "price", "main"):  # back past helper's code, and forward
        out = project.git("switch", branch)
        assert_no_outside_app_in_plan(out)
        assert "Traceback" not in out
        assert project.schema() == fresh_schema_of(branch), branch
        assert user_rows(project) == USER_ROWS_ADDED
        assert project.query("SELECT name FROM shop_item") == [[7]]
    for branch in ("helper", "main"):  # `migrail switch` both ways
        proc = project.migrail("switch", branch)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert_no_outside_app_in_plan(proc.stdout)
        assert project.schema() == fresh_schema_of(branch), branch
        assert user_rows(project) == USER_ROWS_ADDED
        assert project.query("SELECT name FROM shop_item") == [[7]]


def test_hooks_print_the_rollback_with_the_old_code(real: DjangoProject) -> None:
    prepare(real)
    sync(real)
    out = real.git("switch", "helper")
    assert "  - shop.0002_price\n      drops column price of shop.item" in out
    gone = subprocess.Popen(["true"])  # a process id that no longer runs
    gone.wait()
    leftover = real.root / f".git/migrail/trees/{gone.pid}-killed"
    (leftover / "shop").mkdir(parents=True)  # what a killed sync left
    out = real.git("switch", "main")
    assert not leftover.exists()
    helper = real.git("rev-parse", "helper").strip()[:12]
    assert (
        f"migrail: database 'default' (sqlite): 2 to unapply with the code of {helper}\n"
        "  - shop.0003_fill\n"
        "      undoes: Raw Python operation\n"
        "  - shop.0002_stock\n"
        "      drops column stock of shop.item\n"
    ) in out
    assert "0 to unapply, 0 to apply" not in out  # nothing left after the old code's rollback
    assert "migrail: database 'default' matches the working tree (" in out
    assert not list((real.root / ".git/migrail/trees").iterdir())  # the old tree is removed


def test_a_sync_with_nothing_to_unapply_removes_a_killed_runs_tree(real: DjangoProject) -> None:
    prepare(real)
    sync(real)
    gone = subprocess.Popen(["true"])
    gone.wait()
    leftover = real.root / f".git/migrail/trees/{gone.pid}-killed"
    (leftover / "shop").mkdir(parents=True)
    alive = real.root / f".git/migrail/trees/{os.getpid()}-running"
    alive.mkdir()  # another sync still running keeps its tree
    sync(real)
    assert not leftover.exists()
    assert alive.is_dir()


def test_switch_and_sync_never_unapply_contrib_or_third_party(real: DjangoProject) -> None:
    main_branch(real)
    sync(real)
    add_user_rows(real)
    helper_branch(real)
    sync(real)
    proc = real.migrail("switch", "main")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 to unapply with the code of " in proc.stdout
    assert "\n  - shop.0003_fill\n" in proc.stdout
    assert_no_outside_app_in_plan(proc.stdout)
    assert user_rows(real) == USER_ROWS_ADDED
    applied = real.query("SELECT app FROM django_migrations WHERE app = 'taglib'")
    assert applied == [["taglib"]]


def test_rebase_unapply_keeps_contrib_and_third_party(real: DjangoProject) -> None:
    real.linear_app("shop", "0002_price")
    real.commit("base")
    diverge(real, ["0003_stock"], ["0003_color"])
    sync(real)
    add_user_rows(real)
    real.git("merge", "main", check=False)
    out = rebase(real, "--unapply")
    assert "1 to unapply first\n  - shop.0003_stock" in out
    assert_no_outside_app_in_plan(out)
    assert user_rows(real) == USER_ROWS_ADDED


def helper_applied_on_main(p: DjangoProject) -> None:
    """`main` checked out without hooks while helper's migrations are applied."""
    prepare(p)
    p.git("-c", "core.hooksPath=/dev/null", "switch", "-q", "helper")
    sync(p)
    p.git("-c", "core.hooksPath=/dev/null", "switch", "-q", "main")


def test_plain_sync_names_the_orphan_that_cannot_import(real: DjangoProject) -> None:
    helper_applied_on_main(real)
    proc = real.migrail("sync")
    assert proc.returncode == 2
    helper = real.git("rev-parse", "helper").strip()[:12]
    assert proc.stderr == (
        "migrail: error: cannot load shop.0003_fill to unapply it with this checkout's code: "
        "ModuleNotFoundError: No module named 'shop.helpers'; nothing was changed. Its code is "
        f"in commit {helper}: run `migrail sync --from {helper}`\n"
    )
    out = sync(real, "--from", "helper")
    assert "2 to unapply with the code of" in out
    assert user_rows(real) == USER_ROWS_ADDED


def test_status_lists_orphans_that_cannot_import(real: DjangoProject) -> None:
    helper_applied_on_main(real)
    proc = real.migrail("status")
    assert (proc.returncode, proc.stderr) == (1, "")
    assert proc.stdout == (
        "migrail: settings project.settings, project directory .\n"
        "migrail: database 'default' (sqlite) is out of step\n"
        "  shop: tree leaf 0001_initial; last applied 0003_fill\n"
        "    orphan (applied, not in the tree): shop.0002_stock\n"
        "    orphan (applied, not in the tree): shop.0003_fill\n"
        "  cannot load shop.0003_fill to unapply it with this checkout's code: "
        "ModuleNotFoundError: No module named 'shop.helpers'; "
        f"run `migrail sync --from {real.git('rev-parse', 'helper').strip()[:12]}`\n"
    )
    assert user_rows(real) == USER_ROWS_ADDED


def test_the_commit_named_is_where_head_was_not_where_the_file_last_changed(
    real: DjangoProject,
) -> None:
    """A later commit of the branch changed only what its migrations import: the database
    came from that tip, whose helper the by-hand rollback there runs."""
    prepare(real)
    real.git("-c", "core.hooksPath=/dev/null", "switch", "-q", "helper")
    real.write("shop/helpers.py", HELPERS.replace("stock=5)", "stock=5)  # v2", 1))
    tip = real.commit("helpers v2")[:12]
    sync(real)
    real.git("-c", "core.hooksPath=/dev/null", "switch", "-q", "main")
    proc = real.migrail("status")
    assert f"run `migrail sync --from {tip}`\n" in proc.stdout, proc.stdout
    proc = real.migrail("sync")
    assert f"run `migrail sync --from {tip}`\n" in proc.stderr, proc.stderr


def test_dry_run_with_the_old_code_changes_nothing(real: DjangoProject) -> None:
    helper_applied_on_main(real)
    before = real.schema()
    proc = real.migrail("sync", "--dry-run", "--from", "helper")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    helper = real.git("rev-parse", "helper").strip()[:12]
    assert proc.stdout == (
        f"migrail: database 'default' (sqlite): 2 to unapply with the code of {helper}\n"
        "  - shop.0003_fill\n"
        "      undoes: Raw Python operation\n"
        "  - shop.0002_stock\n"
        "      drops column stock of shop.item\n"
        "migrail: this rollback drops tables or columns that hold rows; to keep each branch's "
        "data instead, run `git config migrail.snapshots true`\n"
        "migrail: database 'default' (sqlite): 0 to apply once those are unapplied\n"
    )
    assert real.schema() == before


BASE_DIR_SETTINGS = """\
from pathlib import Path
BASE_DIR = Path(__file__).resolve().parent.parent
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
"""


def test_sqlite_named_relative_to_base_dir_is_the_one_rolled_back(
    tmp_path: Path, real: DjangoProject
) -> None:
    real.settings_extra += BASE_DIR_SETTINGS
    real.write_settings()
    prepare(real)
    sync(real)
    real.git("switch", "helper")
    out = real.git("switch", "main")
    assert "2 to unapply with the code of" in out
    assert real.schema() == fresh_schema(real, str(tmp_path / "fresh.sqlite3"))
    assert user_rows(real) == USER_ROWS_ADDED


def test_removed_app_rolls_back_to_zero_on_every_engine(
    real_db_project: tuple[DjangoProject, str],
) -> None:
    project, fresh_name = real_db_project
    main_branch(project)
    sync(project)
    add_user_rows(project)
    assert project.migrail("install").returncode == 0
    project.git("switch", "-q", "-c", "audit")
    project.add_app("audit")
    project.write("audit/models_helper.py", "VALUE = 1\n")
    project.migration(
        "audit",
        "0001_initial",
        migration_source(
            [("taglib", "0001_initial")],
            create_model("Log"),
            header="from audit.models_helper import VALUE\n",
        ),
    )
    project.write("audit/migrations/max_migration.txt", "0001_initial\n")
    project.commit("audit")
    sync(project)
    out = project.git("switch", "main")
    assert "  - audit.0001_initial\n      drops table audit_log" in out
    assert_no_outside_app_in_plan(out)
    assert project.schema() == fresh_schema(project, fresh_name)
    assert user_rows(project) == USER_ROWS_ADDED
    out = project.git("switch", "-q", "main")  # later checkouts have nothing to say
    assert "audit" not in project.migrail("status").stdout


def test_an_app_only_uninstalled_in_settings_keeps_its_tables_on_every_switch(
    real: DjangoProject, tmp_path: Path
) -> None:
    """Its migrations are still in the tree: left alone with a note, whether or not another
    app's migrations changed too (as a switch that changes no migration leaves it)."""
    main_branch(real)
    real.add_app("notes")
    real.migration("notes", "0001_initial", migration_source([], create_model("Note")))
    real.write("notes/migrations/max_migration.txt", "0001_initial\n")
    real.commit("notes")
    assert real.migrail("install").returncode == 0
    sync(real)
    add_user_rows(real)
    real.query("INSERT INTO notes_note (id) VALUES (1)")
    real.git("switch", "-q", "-c", "uninstalled")
    real.apps.remove("notes")
    real.write_settings()
    add_migration(real, "shop", "0002_qty", "0001_initial")

    out = real.git("switch", "main")
    out = real.git("switch", "uninstalled")
    assert "notes.0001_initial" not in out
    assert "drops table notes_note" not in out
    assert "note: app 'notes' has applied migrations but is not installed; left alone" in out
    assert real.query("SELECT id FROM notes_note") == [[1]]
    assert user_rows(real) == USER_ROWS_ADDED
    real.git("switch", "main")
    assert real.query("SELECT id FROM notes_note") == [[1]]
    assert real.migrail("status").returncode == 0


CWD_RELATIVE_SETTINGS = """\
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ.get("TEST_DB_NAME", "db.sqlite3")}}
"""


def test_sqlite_named_relative_to_the_working_directory_is_the_one_rolled_back(
    tmp_path: Path, real: DjangoProject
) -> None:
    # `"NAME": "db.sqlite3"` (as the demo and many tutorials write it) is opened against
    # the working directory; the old code's child works in another one.
    real.settings_extra += CWD_RELATIVE_SETTINGS
    real.write_settings()
    prepare(real)
    sync(real)
    real.git("switch", "helper")
    out = real.git("switch", "main")
    assert "2 to unapply with the code of" in out
    assert "0 to unapply with the code of" not in out
    assert real.schema() == fresh_schema(real, str(tmp_path / "fresh.sqlite3"))
    assert user_rows(real) == USER_ROWS_ADDED
    assert not list((real.root / ".git").rglob("db.sqlite3"))  # no stray file in the tree


def test_untracked_settings_module_in_the_settings_package_imports_with_the_old_code(
    tmp_path: Path, real: DjangoProject
) -> None:
    # The common `settings/local.py` pattern: ignored by git, so the old commit's copy of
    # the package lacks it.
    real.write(".gitignore", real.read(".gitignore") + "project/local_settings.py\n")
    real.write("project/local_settings.py", "from project.settings import *  # noqa: F403\n")
    real.git("config", "migrail.settings", "project.local_settings")
    prepare(real)
    sync(real)
    real.git("switch", "helper")
    out = real.git("switch", "main")
    assert "No module named" not in out
    assert "2 to unapply with the code of" in out
    assert real.schema() == fresh_schema(real, str(tmp_path / "fresh.sqlite3"))
    assert user_rows(real) == USER_ROWS_ADDED


def table_sql(n: int, reverse: str | None = None) -> str:
    return (
        f"migrations.RunSQL('CREATE TABLE t{n} (id integer)', {reverse or f'DROP TABLE t{n}'!r}),"
    )


def test_a_failed_rollback_then_a_checkout_of_newer_code_still_plans(
    project: DjangoProject,
) -> None:
    """The database stays at A after the rollback to B failed (a broken reverse); checking
    out C, which has a migration B lacks, rolls back with B's code: that migration is put in
    B's graph from history, never reported as a missing parent. No "stopped midway" either:
    the failed rollback's transaction left nothing half done."""
    project.add_app("shop")
    parent: list[tuple[str, str]] = []
    tags = {"0002_b": "B", "0003_c": "C", "0005_e": "A"}
    for n, name in enumerate(["0001_a", "0002_b", "0003_c", "0004_d", "0005_e"], 1):
        reverse = "DROP TABLE no_such_table" if n == 5 else None
        project.migration("shop", name, migration_source(parent, table_sql(n, reverse)))
        parent = [("shop", name)]
        if name in tags:
            project.write("shop/migrations/max_migration.txt", f"{name}\n")
            project.commit(tags[name])
            project.git("tag", tags[name])
    sync(project)
    assert project.migrail("install").returncode == 0

    out = project.git("checkout", "-q", "B", check=False)
    assert "unapplying shop.0005_e failed (nothing was changed): no such table" in out
    out = project.git("checkout", "-q", "C", check=False)
    assert "stopped midway" not in out
    assert "NodeNotFoundError" not in out
    assert "  - shop.0005_e\n" in out
    assert "  - shop.0004_d\n" in out
    assert "unapplying shop.0005_e failed (nothing was changed): no such table" in out
    applied = project.query("SELECT name FROM django_migrations WHERE app = 'shop' ORDER BY id")
    assert applied == [["0001_a"], ["0002_b"], ["0003_c"], ["0004_d"], ["0005_e"]]


ENV_FILE_SETTINGS = """
from pathlib import Path as _Path
_values = dict(
    line.split("=", 1)
    for line in (_Path(__file__).resolve().parent.parent / ".env").read_text().splitlines()
    if "=" in line
)  # as python-dotenv's dotenv_values() reads it: into a dict, not os.environ
SECRET_KEY = _values["DJANGO_SECRET_KEY"]
"""


def test_settings_that_read_an_untracked_env_file_roll_back_with_the_old_code(
    real: DjangoProject,
) -> None:
    real.settings_extra += ENV_FILE_SETTINGS
    real.write(".env", "DJANGO_SECRET_KEY=from-the-env-file\n")
    real.write(".envs/.local/.django", "KEPT=1\n")  # cookiecutter-django's, untracked too
    real.write(".gitignore", real.read(".gitignore") + ".env\n.envs/\n")
    main_branch(real)
    assert real.migrail("install").returncode == 0
    sync(real)
    add_user_rows(real)
    helper_branch(real)
    sync(real)
    out = real.git("switch", "main")
    assert "cannot start Django" not in out
    assert "  - shop.0003_fill\n" in out
    assert "migrail: database 'default' matches the working tree (" in out
    assert real.query("SELECT name FROM django_migrations WHERE app = 'shop'") == [["0001_initial"]]
    assert user_rows(real) == USER_ROWS_ADDED
    assert not list((real.root / ".git/migrail/trees").iterdir())


def test_old_code_that_cannot_start_django_says_so_and_names_the_way_out(
    real: DjangoProject,
) -> None:
    main_branch(real)
    assert real.migrail("install").returncode == 0
    sync(real)
    add_user_rows(real)
    helper_branch(real)
    real.write_settings("SECRET_KEY = os.environ['ONLY_ON_HELPER']\n")
    real.commit("helper's settings need a variable")
    assert real.migrail("sync", env={"ONLY_ON_HELPER": "1"}).returncode == 0
    helper = real.git("rev-parse", "HEAD").strip()[:12]

    out = real.git("switch", "main", check=False)
    assert (
        f"migrail: the sync did not finish: the code of commit {helper} (its files under "
        ".git/migrail/trees/, to roll back with) cannot start Django: Django could not start "
        "with settings 'project.settings': 'ONLY_ON_HELPER'; `migrail sync` without --from "
        "rolls back with this checkout's code instead\n"
    ) in out
    assert "Traceback" not in out
    assert user_rows(real) == USER_ROWS_ADDED


def test_a_reverse_given_as_the_refusal_advises_is_the_one_used(project: DjangoProject) -> None:
    """The irreversible migration depends on another orphan; once it has a reverse on its
    branch, the switch rolls back with that code, not with migrail's copy of the applied one."""
    main_branch(project)
    assert project.migrail("install").returncode == 0
    sync(project)
    project.git("switch", "-q", "-c", "feature")
    add_migration(project, "shop", "0002_note", "0001_initial", commit=False)
    bump = "migrations.RunPython(lambda apps, schema_editor: None{}),"
    project.migration(
        "shop", "0003_bump", migration_source([("shop", "0002_note")], bump.format(""))
    )
    project.write("shop/migrations/max_migration.txt", "0003_bump\n")
    project.commit("note, bump")
    sync(project)
    out = project.git("switch", "main", check=False)
    assert "shop.0003_bump: Raw Python operation (operation 1) is not reversible" in out
    project.git("switch", "-q", "feature")
    project.migration(
        "shop",
        "0003_bump",
        migration_source([("shop", "0002_note")], bump.format(", migrations.RunPython.noop")),
    )
    project.commit("bump: a reverse")
    status = project.migrail("status")
    assert "changed since it was applied" not in status.stdout  # the same forwards: no edit
    assert status.returncode == 0, status.stdout

    out = project.git("switch", "main")
    assert "not reversible" not in out
    assert re.search(
        r"  - unapplying shop.0003_bump \(\S+s\)\n  - unapplying shop.0002_note \(", out
    )
    applied = project.query("SELECT name FROM django_migrations WHERE app = 'shop'")
    assert applied == [["0001_initial"]]


def test_settings_split_since_the_old_commit_start_with_its_own_module(
    real: DjangoProject,
) -> None:
    """DJANGO_SETTINGS_MODULE names `project.settings.local`, which the branch left (made before
    the settings became a package) lacks: its rollback starts with its own manage.py's."""
    main_branch(real)
    assert real.migrail("install").returncode == 0
    sync(real)
    add_user_rows(real)
    real.git("switch", "-q", "-c", "later")
    settings = real.read("project/settings.py")
    real.git("rm", "-q", "project/settings.py")
    real.write("project/settings/__init__.py", "from project.settings.base import *  # noqa\n")
    real.write("project/settings/base.py", settings)
    real.write("project/settings/local.py", "from project.settings.base import *  # noqa\n")
    real.commit("settings as a package")
    helper_branch(real)  # from main, before the split
    sync(real)

    env = run_env({**real.env, "DJANGO_SETTINGS_MODULE": "project.settings.local"})
    proc = subprocess.run(
        ["git", "switch", "later"], cwd=real.root, env=env, capture_output=True, text=True
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "cannot start Django" not in out
    assert "  - shop.0003_fill\n" in out
    assert real.query("SELECT name FROM django_migrations WHERE app = 'shop'") == [["0001_initial"]]
    assert user_rows(real) == USER_ROWS_ADDED


def commit_with_link(p: DjangoProject, base: str, path: str, target: Path) -> str:
    """A commit on top of `base` whose `path` is a link to `target`; the work tree untouched."""
    index = p.root / ".git/link-test-index"
    env = {"GIT_INDEX_FILE": str(index)}
    blob = p.git("hash-object", "-w", "--stdin", stdin=str(target)).strip()
    for args in (
        ["read-tree", base],
        ["rm", "-r", "-q", "--cached", path],
        ["update-index", "--add", "--cacheinfo", f"120000,{blob},{path}"],
    ):
        subprocess.run(["git", *args], cwd=p.root, env=run_env(env), check=True)
    tree = (
        subprocess.run(
            ["git", "write-tree"], cwd=p.root, env=run_env(env), check=True, capture_output=True
        )
        .stdout.decode()
        .strip()
    )
    index.unlink()
    return p.git("commit-tree", tree, "-p", base, "-m", "linked").strip()


def test_untracked_settings_never_go_through_a_link_out_of_the_old_tree(
    tmp_path: Path, real: DjangoProject
) -> None:
    """An old commit whose settings package is a link elsewhere: `sync --from` it rolls back
    without writing the untracked settings module (secrets) through that link."""
    real.write(".gitignore", real.read(".gitignore") + "project/local_settings.py\n")
    real.write(
        "project/local_settings.py",
        "from project.settings import *  # noqa: F403\nSECRET = 'hunter2'\n",
    )
    real.git("config", "migrail.settings", "project.local_settings")
    main_branch(real)
    sync(real)
    helper_branch(real)
    sync(real)
    outside = tmp_path / "outside"
    subprocess.run(["cp", "-r", str(real.root / "project"), str(outside)], check=True)
    (outside / "local_settings.py").unlink()
    old = commit_with_link(real, "helper", "project", outside)
    real.git("switch", "-q", "main")  # no hooks installed: the database stays at helper's
    proc = real.migrail("sync", "--from", old)
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (outside / "local_settings.py").exists()
    assert sorted(p.name for p in outside.iterdir()) == sorted(
        p.name for p in (real.root / "project").iterdir() if p.name != "local_settings.py"
    )


INTERRUPTING = """\
import os
import signal
import time


def forwards(apps, schema_editor):
    pass


def backwards(apps, schema_editor):
    if os.environ.get("PRESS_CTRL_C"):  # as the terminal sends it: to the process group
        os.killpg(0, signal.SIGINT)
        time.sleep(5)
"""


def test_ctrl_c_during_a_rollback_says_what_finishes_it(real: DjangoProject) -> None:
    """Ctrl-C while the old code unapplies: no traceback from either process, the hook says
    the sync did not finish and the command that finishes it, which does."""
    main_branch(real)
    assert real.migrail("install").returncode == 0
    sync(real)
    real.git("switch", "-q", "-c", "slow", "main")
    real.write("shop/interrupting.py", INTERRUPTING)
    real.migration(
        "shop",
        "0002_slow",
        migration_source(
            [("shop", "0001_initial")],
            "migrations.RunPython(forwards, backwards),",
            header="from shop.interrupting import forwards, backwards\n",
        ),
    )
    real.write("shop/migrations/max_migration.txt", "0002_slow\n")
    real.commit("slow")
    sync(real)
    proc = subprocess.run(
        ["git", "switch", "main"],
        cwd=real.root,
        env=run_env({**real.env, "PRESS_CTRL_C": "1"}),
        capture_output=True,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    slow = real.git("rev-parse", "slow").strip()[:12]
    assert "migrail: interrupted: the sync did not finish\n" in out, out
    assert f"migrail: to finish, run `migrail sync --from {slow}`" in out, out
    shop_rows = "SELECT name FROM django_migrations WHERE app = 'shop' ORDER BY id"
    assert real.query(shop_rows) == [["0001_initial"], ["0002_slow"]]  # its transaction undone
    done = real.migrail("sync", "--from", slow)
    assert done.returncode == 0, done.stdout + done.stderr
    assert real.query(shop_rows) == [["0001_initial"]]

    real.git("switch", "-q", "slow")  # the hooks apply 0002 again; then `migrail switch` away
    proc = subprocess.run(
        [sys.executable, "-m", "migrail", "switch", "main"],
        cwd=real.root,
        env=run_env({**real.env, "PRESS_CTRL_C": "1"}),
        capture_output=True,
        text=True,
        start_new_session=True,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 130, out
    assert "Traceback" not in out, out
    assert "migrail: interrupted: the sync did not finish\n" in out, out
    assert f"migrail: to finish, run `migrail sync --from {slow}`" in out, out
