"""Sync through the ways git moves HEAD: switch, pull, rebase, worktrees, pre-commit, interruption."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.djangoproject import (
    DjangoProject,
    add_field,
    create_model,
    git,
    migration_source,
    run_env,
)
from tests.scenarios import feature_branch, fresh_schema, main_branch, sync

SLOW_REVERSE = """\
import time


def forwards(apps, schema_editor):
    pass


def backwards(apps, schema_editor):
    time.sleep(4)
"""


def set_max(p: DjangoProject, app: str, name: str) -> None:
    p.write(f"{app}/migrations/max_migration.txt", f"{name}\n")


def test_migrail_switch_without_hooks(project: DjangoProject, tmp_path: Path) -> None:
    main_branch(project)
    feature_branch(project)
    sync(project)
    proc = project.migrail("switch", "main")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "- billing.0002_seen" in proc.stdout
    assert project.git("branch", "--show-current").strip() == "main"
    assert project.schema() == fresh_schema(project, str(tmp_path / "fresh.sqlite3"))
    proc = project.migrail("switch", "feature")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "stock" in project.schema()["tables"]["shop_item"]  # type: ignore[index]


def test_git_pull_applies_new_migrations(project: DjangoProject, tmp_path: Path) -> None:
    main_branch(project)
    sync(project)
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(project.root), str(tmp_path / "origin.git")],
        check=True,
    )
    project.git("remote", "add", "origin", str(tmp_path / "origin.git"))
    project.git("fetch", "-q", "origin")
    project.git("branch", "-q", "--set-upstream-to=origin/main")
    colleague = tmp_path / "colleague"
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), str(colleague))
    (colleague / "shop/migrations/0002_stock.py").write_text(
        migration_source([("shop", "0001_initial")], add_field("item", "stock"))
    )
    (colleague / "shop/migrations/max_migration.txt").write_text("0002_stock\n")
    git(colleague, "add", "-A")
    git(colleague, "commit", "-q", "-m", "stock")
    git(colleague, "push", "-q", "origin", "main")
    assert project.migrail("install").returncode == 0
    out = project.git("pull", "--ff-only")
    assert "0 to unapply, 1 to apply\n  + shop.0002_stock" in out
    assert project.schema() == fresh_schema(project, str(tmp_path / "fresh.sqlite3"))


def test_rebase_syncs_once_it_is_done(project: DjangoProject, tmp_path: Path) -> None:
    main_branch(project)
    assert project.migrail("install").returncode == 0
    feature_branch(project)
    sync(project)
    project.git("switch", "-q", "main")
    project.write("README", "main moves on\n")
    project.commit("docs")
    project.git("switch", "-q", "feature")
    out = project.git("rebase", "main")
    assert "unapplying" not in out  # nothing the rebased tree lacks
    assert project.schema() == fresh_schema(project, str(tmp_path / "fresh.sqlite3"))
    assert project.migrail("status").returncode == 0


def test_squashed_migration_across_a_switch(project: DjangoProject, tmp_path: Path) -> None:
    main_branch(project)
    feature_branch(project)
    sync(project)
    assert project.migrail("install").returncode == 0
    project.git("switch", "-q", "-c", "squashed")
    project.migration(
        "shop",
        "0001_squashed_0002_stock",
        migration_source(
            [],
            create_model("Item", "name", "stock"),
            extra="    replaces = [('shop', '0001_initial'), ('shop', '0002_stock')]\n",
        ),
    )
    set_max(project, "shop", "0001_squashed_0002_stock")
    project.commit("squash")
    assert project.migrail("status").returncode == 0  # applied replaced migrations = applied squash
    for old in ("0001_initial", "0002_stock"):
        (project.root / f"shop/migrations/{old}.py").unlink()
    project.git("add", "-A")
    project.migration(
        "billing",
        "0002_seen",
        migration_source(
            [("billing", "0001_initial"), ("shop", "0001_squashed_0002_stock")],
            add_field("invoice", "seen"),
        ),
    )
    project.migration(
        "billing",
        "0001_initial",
        migration_source([("shop", "0001_squashed_0002_stock")], create_model("Invoice")),
    )
    project.commit("drop replaced")
    assert project.migrail("status").returncode == 0
    out = project.git("switch", "main")
    assert "- billing.0002_seen" in out
    assert "- shop.0002_stock" in out
    assert project.schema() == fresh_schema(project, str(tmp_path / "fresh.sqlite3"))


def test_removed_app_is_rolled_back_with_its_own_code(
    project: DjangoProject, tmp_path: Path
) -> None:
    main_branch(project)
    project.git("switch", "-q", "-c", "audit")
    project.add_app("audit")
    project.migration("audit", "0001_initial", migration_source([], create_model("Log")))
    set_max(project, "audit", "0001_initial")
    project.commit("audit")
    sync(project)
    assert project.migrail("install").returncode == 0
    out = project.git("switch", "main")
    assert "1 to unapply with the code of" in out
    assert "  - audit.0001_initial\n      drops table audit_log" in out
    assert project.schema() == fresh_schema(project, str(tmp_path / "fresh.sqlite3"))
    project.git("switch", "-q", "audit")
    assert "audit_log" in project.schema()["tables"]  # type: ignore[operator]
    proc = project.migrail("switch", "main")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert project.schema() == fresh_schema(project, str(tmp_path / "fresh.sqlite3"))


def test_an_app_removed_in_place_is_named_and_rolled_back_from_a_commit_with_it(
    project: DjangoProject, tmp_path: Path
) -> None:
    main_branch(project)
    project.add_app("audit")
    project.migration("audit", "0001_initial", migration_source([], create_model("Log")))
    set_max(project, "audit", "0001_initial")
    with_audit = project.commit("audit")
    sync(project)
    # Removed and committed on the same branch: no checkout tells migrail it was there.
    shutil.rmtree(project.root / "audit")
    project.apps.remove("audit")
    project.write_settings()
    project.commit("remove audit")
    proc = project.migrail("status")
    assert (proc.returncode, proc.stdout) == (
        0,
        "migrail: settings project.settings, project directory .\n"
        "migrail: database 'default' (sqlite) matches the working tree\n"
        "  note: app 'audit' has applied migrations but is not installed; left alone (if your "
        "project removed it, `migrail sync --from REV` with a commit that has it rolls it "
        "back)\n",
    )
    out = sync(project, "--from", with_audit)
    assert "  - audit.0001_initial\n      drops table audit_log" in out
    assert project.schema() == fresh_schema(project, str(tmp_path / "fresh.sqlite3"))


def test_hooks_do_not_sync_in_ci_unless_configured(project: DjangoProject) -> None:
    main_branch(project)
    assert project.migrail("install").returncode == 0
    feature_branch(project)
    proc = subprocess.run(
        ["git", "switch", "main"],
        cwd=project.root,
        env=run_env({"CI": "true"}),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0
    assert "migrail" not in proc.stdout + proc.stderr
    assert not (project.root / "db.sqlite3").exists()


def slow_feature(p: DjangoProject) -> None:
    main_branch(p)
    p.git("switch", "-q", "-c", "feature")
    p.migration(
        "shop",
        "0002_stock",
        migration_source([("shop", "0001_initial")], add_field("item", "stock")),
    )
    p.migration(
        "shop",
        "0003_slow",
        migration_source(
            [("shop", "0002_stock")],
            "migrations.RunPython(forwards, backwards),",
            header=SLOW_REVERSE,
        ),
    )
    p.migration(
        "shop", "0004_size", migration_source([("shop", "0003_slow")], add_field("item", "size"))
    )
    set_max(p, "shop", "0004_size")
    p.commit("feature")


def test_sync_killed_mid_rollback_resumes(db_project: tuple[DjangoProject, str]) -> None:
    project, fresh_name = db_project
    slow_feature(project)
    sync(project)
    project.git("switch", "-q", "main")
    proc = subprocess.Popen(
        [sys.executable, "-m", "migrail", "sync"],
        cwd=project.root,
        env=run_env({"PYTHONUNBUFFERED": "1"}),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    seen = ""
    while "unapplying shop.0003_slow" not in seen:  # its line stays open while it runs
        char = proc.stdout.read(1)
        assert char, seen
        seen += char
    time.sleep(1)  # inside 0003_slow's reverse
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    out = sync(project)
    assert "unapplying" in out
    assert project.schema() == fresh_schema(project, fresh_name)


def test_two_worktrees_sharing_a_database_take_turns(
    project: DjangoProject, tmp_path: Path
) -> None:
    slow_feature(project)
    sync(project)
    project.git("switch", "-q", "main")
    project.git("worktree", "add", "-q", str(tmp_path / "wt"), "feature")
    main_sync = subprocess.Popen(
        [sys.executable, "-m", "migrail", "sync"],
        cwd=project.root,
        env=run_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    feature_sync = subprocess.run(
        [sys.executable, "-m", "migrail", "sync"],
        cwd=tmp_path / "wt",
        env=run_env(),
        capture_output=True,
        text=True,
    )
    main_out, _ = main_sync.communicate()
    assert main_sync.returncode == 0, main_out
    assert feature_sync.returncode == 0, feature_sync.stdout + feature_sync.stderr
    assert "waiting for another sync of database 'default'" in feature_sync.stdout
    assert "  + shop.0004_size" in feature_sync.stdout
    project.git("switch", "-q", "--detach", "feature")
    assert project.schema() == fresh_schema(project, str(tmp_path / "fresh.sqlite3"))


def test_pre_commit_framework_post_checkout(project: DjangoProject, tmp_path: Path) -> None:
    project.use_this_repository_in_pre_commit("migrail-sync")
    main_branch(project)
    feature_branch(project)
    sync(project)
    env = project.install_pre_commit(tmp_path / "pre-commit-home", "post-checkout")
    proc = subprocess.run(
        ["git", "switch", "main"], cwd=project.root, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "migrail sync (database follows the branch)" in proc.stderr
    assert project.schema() == fresh_schema(project, str(tmp_path / "fresh.sqlite3"))


def test_pre_commit_framework_post_commit(project: DjangoProject, tmp_path: Path) -> None:
    """migrail-sync at pre-commit's post-commit stage: a cherry-pick applies what it brings,
    as the installed post-commit script does; a plain commit of a new migration applies
    nothing (committing is not migrating)."""
    project.use_this_repository_in_pre_commit("migrail-sync")
    main_branch(project)
    feature_branch(project)
    picked = project.git("rev-parse", "HEAD").strip()
    project.git("switch", "-q", "main")
    sync(project)
    env = project.install_pre_commit(tmp_path / "pre-commit-home", "post-commit")
    proc = subprocess.run(
        ["git", "cherry-pick", picked], cwd=project.root, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    applied = "SELECT app, name FROM django_migrations WHERE name LIKE '0002%' ORDER BY app"
    assert project.query(applied) == [["billing", "0002_seen"], ["shop", "0002_stock"]]
    project.migration(
        "shop", "0003_size", migration_source([("shop", "0002_stock")], add_field("item", "size"))
    )
    project.write("shop/migrations/max_migration.txt", "0003_size\n")
    project.git("add", "-A")
    proc = subprocess.run(
        ["git", "commit", "-m", "size"], cwd=project.root, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ["shop", "0003_size"] not in project.query("SELECT app, name FROM django_migrations")


def test_no_migration_change_never_imports_the_settings(
    project: DjangoProject, tmp_path: Path
) -> None:
    """The no-change decision comes before Django: settings that cannot import are never touched."""
    main_branch(project)
    project.git("switch", "-q", "-c", "docs")
    project.write("README", "docs only\n")
    project.commit("docs")
    project.write_settings("raise RuntimeError('settings imported')\n")
    project.git("update-index", "--assume-unchanged", "project/settings.py")
    assert project.migrail("install").returncode == 0
    out = project.git("switch", "main")
    assert "settings imported" not in out
    env = {
        "PRE_COMMIT_FROM_REF": project.git("rev-parse", "docs").strip(),
        "PRE_COMMIT_TO_REF": project.git("rev-parse", "main").strip(),
        "PRE_COMMIT_CHECKOUT_TYPE": "1",
    }
    proc = project.migrail("hook", "pre-commit-sync", env=env)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    project.migration(
        "shop",
        "0002_stock",
        migration_source([("shop", "0001_initial")], add_field("item", "stock")),
    )
    set_max(project, "shop", "0002_stock")
    env["PRE_COMMIT_TO_REF"] = project.commit("stock")
    proc = project.migrail("hook", "pre-commit-sync", env=env)
    assert proc.returncode == 1  # now it must sync, and says why it cannot
    assert "settings imported" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_file_checkout_and_clone_do_nothing(project: DjangoProject, tmp_path: Path) -> None:
    main_branch(project)
    feature_branch(project)
    sync(project)
    assert project.migrail("install").returncode == 0
    before = project.schema()
    out = project.git("checkout", "main", "--", "shop/migrations")  # a file checkout
    assert "migrail" not in out
    assert project.schema() == before
    project.git("checkout", "feature", "--", "shop/migrations")
    # origin's HEAD on main while the database (shared: its path is absolute) stays on feature,
    # so a clone whose post-checkout synced would roll feature's migrations back.
    project.git("-c", "core.hooksPath=/dev/null", "switch", "-q", "main")
    clone = tmp_path / "clone"
    proc = subprocess.run(
        [
            "git",
            "clone",
            "-q",
            "--template",
            str(project.root / ".git"),
            str(project.root),
            str(clone),
        ],
        env=run_env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert (clone / ".git/hooks/post-checkout").read_text() == (
        project.root / ".git/hooks/post-checkout"
    ).read_text()
    assert "migrail" not in proc.stdout + proc.stderr  # post-checkout of a clone: all-zero old HEAD
    assert project.schema() == before


def test_only_the_last_backups_are_kept(project: DjangoProject) -> None:
    project.write("pyproject.toml", "[tool.migrail]\nbackups_kept = 2\n")
    main_branch(project)
    feature_branch(project)
    said = []
    for _ in range(3):
        project.git("switch", "-q", "feature")
        sync(project)
        project.git("switch", "-q", "main")
        said.append(sync(project))
    backups = project.root / ".git/migrail/backups"
    assert len(list(backups.glob("*.sqlite3"))) == 2
    first = re.search(r"`migrail restore (\S+)` brings it back", said[0])
    assert first is not None
    removed = [line for line in said[2].splitlines() if line.startswith("migrail: removed")]
    assert len(removed) == 1, said[2]
    assert re.fullmatch(
        rf"migrail: removed backup {re.escape(first[1])} \(branch 'feature', "
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\): 2 are kept per database \(`backups_kept`\)",
        removed[0],
    )
    assert "migrail: removed" not in said[0] + said[1]


ROUTER = """\
class BillingRouter:
    def allow_migrate(self, db, app_label, **hints):
        if app_label == "billing":
            return db == "ledger"
        return db == "default"
"""


def test_several_databases_each_follow_the_branch_through_the_routers(
    project: DjangoProject,
) -> None:
    project.write("project/routers.py", ROUTER)
    main_branch(project)
    project.write_settings(
        f"DATABASES['ledger'] = {{'ENGINE': 'django.db.backends.sqlite3', "
        f"'NAME': {str(project.root / 'ledger.sqlite3')!r}}}\n"
        "DATABASE_ROUTERS = ['project.routers.BillingRouter']\n"
    )
    project.commit("two databases")
    assert project.migrail("install").returncode == 0
    sync(project)
    feature_branch(project)
    out = sync(project)
    assert "database 'ledger' (sqlite): 0 to unapply, 2 to apply" in out
    out = project.git("switch", "main")
    assert "- billing.0002_seen" in out
    ledger = project.python(
        "import django, json; django.setup()\n"
        "from django.db import connections\n"
        "with connections['ledger'].cursor() as c:\n"
        "    print(json.dumps([r.name for r in connections['ledger'].introspection"
        ".get_table_description(c, 'billing_invoice')]))"
    )
    assert ledger.returncode == 0, ledger.stderr
    assert "seen" not in ledger.stdout
    assert "billing_invoice" not in project.schema()["tables"]  # type: ignore[operator]


REPLICA_ROUTER = """\
class ReplicaRouter:
    def db_for_read(self, model, **hints):
        return "replica"

    def allow_migrate(self, db, app_label, **hints):
        return db == "default"
"""


def test_a_remote_alias_the_routers_never_migrate_is_left_alone(project: DjangoProject) -> None:
    """A read replica on another host: `migrate --database replica` does nothing there, so
    neither does sync, and it is not refused for being remote."""
    project.write("project/routers.py", REPLICA_ROUTER)
    main_branch(project)
    project.write_settings(
        "DATABASES['replica'] = {'ENGINE': 'django.db.backends.postgresql', 'NAME': 'app', "
        "'HOST': 'replica.invalid'}\n"
        "DATABASE_ROUTERS = ['project.routers.ReplicaRouter']\n"
    )
    project.commit("a replica")
    assert project.migrail("install").returncode == 0
    sync(project)
    feature_branch(project)
    sync(project)
    out = project.git("switch", "main")
    assert "- shop.0002_stock" in out
    assert "replica" not in out
    proc = project.migrail("status")
    assert (proc.returncode, "replica" in proc.stdout + proc.stderr) == (0, False)


def test_an_orphan_that_is_a_link_in_history_is_read_through_it(project: DjangoProject) -> None:
    # The commit's blob of a link is the target's name; the source is the file it leads to.
    main_branch(project)
    before = project.git("rev-parse", "HEAD").strip()
    project.write(
        "shared/stock.py",
        migration_source([("shop", "0001_initial")], add_field("item", "stock")),
    )
    (project.root / "shop/migrations/0002_stock.py").symlink_to("../../shared/stock.py")
    set_max(project, "shop", "0002_stock")
    project.commit("stock, as a link")
    sync(project)
    project.git("switch", "-q", "-c", "other", before)
    for cached in (project.root / ".git/migrail/sources").rglob("*.py"):
        cached.unlink()
    proc = project.migrail("sync")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 to unapply" in proc.stdout
    assert "drops column stock of shop.item" in proc.stdout
    assert ["shop", "0002_stock"] not in project.schema()["migrations"]  # type: ignore[operator]


def test_an_orphan_that_only_a_merge_commit_added_is_found_in_history(
    project: DjangoProject,
) -> None:
    # `migrail rebase` renames files while a merge waits, so the new names first appear in
    # the merge commit itself; git log shows no diff for merges unless asked to.
    main_branch(project)
    before = project.git("rev-parse", "HEAD").strip()
    project.git("switch", "-q", "-c", "side")
    project.write("README", "side\n")
    project.commit("side")
    project.git("switch", "-q", "main")
    project.git("merge", "--no-ff", "--no-commit", "side")
    project.migration(
        "shop",
        "0002_stock",
        migration_source([("shop", "0001_initial")], add_field("item", "stock")),
    )
    set_max(project, "shop", "0002_stock")
    project.commit("merge side, with a migration")
    sync(project)
    project.git("reset", "-q", "--hard", before)  # the merge is gone but for the reflog
    project.git("branch", "-q", "-D", "side")
    cache = project.root / ".git/migrail/sources"
    for cached in cache.rglob("*.py"):
        cached.unlink()
    proc = project.migrail("sync")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 to unapply" in proc.stdout
    assert "drops column stock of shop.item" in proc.stdout
    assert ["shop", "0002_stock"] not in project.schema()["migrations"]  # type: ignore[operator]
