"""The scripts `migrail install` writes, driven by real git: ordinary git always goes through.

Each hook is run by git itself (push to a bare remote, commit, amend, rebase, merge, switch),
with migrail both in the installing environment and on PATH, as a developer has it. The
projects are shaped like real ones: Django's contrib apps with a user and a session, and a
third-party app installed outside the work tree with a row, which no sync may touch.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from migrail.commands.install import render_script
from tests.djangoproject import (
    USER_ROWS_ADDED,
    DjangoProject,
    add_field,
    add_user_rows,
    create_model,
    migration_source,
    migration_with_helper,
    real_project,
    run_env,
    user_rows,
)
from tests.scenarios import main_branch, sync

# A hook that was there before migrail: it records its arguments and input, and exits with
# the number in the file `exit-status` beside it (0 when the file is absent).
RECORDING_HOOK = """\
#!/bin/sh
here=$(dirname "$0")
printf '%s\\n' "$*" >> "$here/{name}.args"
cat >> "$here/{name}.stdin"
exit "$(cat "$here/exit-status" 2>/dev/null || echo 0)"
"""


@pytest.fixture
def project(tmp_path: Path) -> DjangoProject:
    """Contrib apps and a third-party app outside the work tree (on the hooks' PYTHONPATH)."""
    return real_project(tmp_path / "repo", tmp_path / "packages")


def git(p: DjangoProject, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Exit status and everything git and its hooks printed."""
    proc = subprocess.run(
        ["git", *args],
        cwd=p.root,
        env=run_env({**p.env, **(env or {})}),
        capture_output=True,
        text=True,
    )
    return proc.returncode, proc.stdout + proc.stderr


def sync_with_user_rows(p: DjangoProject) -> None:
    """Sync, then add the rows no later sync may lose: a user, a session, a third-party row."""
    sync(p)
    add_user_rows(p)


def said_by_migrail(out: str) -> list[str]:
    return [line for line in out.splitlines() if "migrail" in line or "Traceback" in line]


def hooks(p: DjangoProject) -> Path:
    return p.root / ".git/hooks"


def install(p: DjangoProject) -> None:
    proc = p.migrail("install")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def keep_earlier_hook(p: DjangoProject, name: str, exit_status: int = 0) -> None:
    """Put a recording hook in place before `migrail install` chains it."""
    hooks(p).mkdir(parents=True, exist_ok=True)
    (hooks(p) / name).write_text(RECORDING_HOOK.format(name=name))
    (hooks(p) / name).chmod(0o755)
    set_earlier_exit(p, exit_status)


def set_earlier_exit(p: DjangoProject, exit_status: int) -> None:
    (hooks(p) / "exit-status").write_text(f"{exit_status}\n")


def recorded(p: DjangoProject, name: str, what: str) -> str:
    path = hooks(p) / f"{name}.{what}"
    return path.read_text() if path.exists() else ""


def add(p: DjangoProject, app: str, name: str, parent: str, *, max_migration: bool = True) -> None:
    model = "item" if app == "shop" else "invoice"
    p.migration(app, name, migration_source([(app, parent)], add_field(model, name[5:])))
    if max_migration:
        p.write(f"{app}/migrations/max_migration.txt", f"{name}\n")


def remote(p: DjangoProject, tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    p.git("remote", "add", "origin", str(bare))
    p.git("push", "-q", "origin", "main")
    return bare


def tip(p: DjangoProject, bare: Path, branch: str = "main") -> str:
    out = p.git("ls-remote", str(bare), f"refs/heads/{branch}")
    return out.split()[0] if out else ""


def applied(p: DjangoProject) -> list[list[object]]:
    return p.query("SELECT app, name FROM django_migrations ORDER BY app, name")


def columns(p: DjangoProject, table: str) -> list[str]:
    tables = p.schema()["tables"]
    assert isinstance(tables, dict)
    found: list[str] = tables[table]
    return found


def test_a_clean_push_goes_through_and_the_hook_says_nothing(
    project: DjangoProject, tmp_path: Path
) -> None:
    main_branch(project)
    bare = remote(project, tmp_path)
    install(project)
    add(project, "shop", "0002_price", "0001_initial")
    head = project.commit("price")
    status, out = git(project, "push", "origin", "main")
    assert status == 0, out
    assert said_by_migrail(out) == []
    assert tip(project, bare) == head


def test_a_push_of_a_forked_graph_is_blocked_with_the_repair_command(
    project: DjangoProject, tmp_path: Path
) -> None:
    main_branch(project)
    bare = remote(project, tmp_path)
    before = tip(project, bare)
    add(project, "shop", "0002_price", "0001_initial")
    add(project, "shop", "0002_stock", "0001_initial", max_migration=False)
    project.commit("fork")  # committed before the hooks were installed
    install(project)
    status, out = git(project, "push", "origin", "main")
    assert status != 0
    assert "E001 app 'shop' has 2 leaf migrations: 0002_price, 0002_stock" in out
    assert "run `migrail rebase shop`" in out
    assert "migrail: push of refs/heads/main stopped" in out
    assert "not found" not in out
    assert tip(project, bare) == before


def test_a_tag_or_branch_of_a_commit_the_remote_has_is_let_through(
    project: DjangoProject, tmp_path: Path
) -> None:
    """A release tagged before migrail was adopted (no max_migration.txt: E002) is on the
    remote already; pushing its tag or a branch of it adds nothing to check. A new forked
    commit on top of it is still stopped."""
    project.add_app("shop")
    project.migration("shop", "0001_initial", migration_source([], create_model("Item")))
    old = project.commit("before migrail")
    project.write("shop/migrations/max_migration.txt", "0001_initial\n")
    project.commit("adopt migrail")
    bare = remote(project, tmp_path)
    install(project)
    project.git("tag", "v1.0", old)
    project.git("branch", "release-1.0", old)
    for ref in ("v1.0", "release-1.0"):
        status, out = git(project, "push", "origin", ref)
        assert status == 0, out
        assert said_by_migrail(out) == []
    project.git("switch", "-q", "release-1.0")
    add(project, "shop", "0002_a", "0001_initial")
    add(project, "shop", "0002_b", "0001_initial", max_migration=False)
    project.git("add", "-A")
    status, out = git(project, "commit", "-qm", "fork", env={"MIGRAIL_SKIP": "1"})
    assert status == 0, out
    status, out = git(project, "push", "origin", "release-1.0")
    assert status != 0
    assert "migrail: push of refs/heads/release-1.0 stopped" in out
    assert tip(project, bare, "release-1.0") == old


def test_an_earlier_pre_push_hook_gets_the_refs_and_its_refusal_stands(
    project: DjangoProject, tmp_path: Path
) -> None:
    main_branch(project)
    bare = remote(project, tmp_path)
    old_main = tip(project, bare)
    keep_earlier_hook(project, "pre-push")
    install(project)
    project.git("branch", "other")
    add(project, "shop", "0002_price", "0001_initial")
    head = project.commit("price")
    status, out = git(project, "push", "origin", "main", "other")
    assert status == 0, out
    assert said_by_migrail(out) == []
    assert recorded(project, "pre-push", "args") == f"origin {bare}\n"
    assert recorded(project, "pre-push", "stdin") == (
        f"refs/heads/main {head} refs/heads/main {old_main}\n"
        f"refs/heads/other {old_main} refs/heads/other {'0' * 40}\n"
    )
    assert tip(project, bare) == head
    # Its own refusal blocks a push that migrail would let through.
    set_earlier_exit(project, 1)
    add(project, "shop", "0003_size", "0002_price")
    project.commit("size")
    status, out = git(project, "push", "origin", "main")
    assert status != 0
    assert "not found" not in out
    assert tip(project, bare) == head


def test_an_earlier_pre_push_hook_that_passes_leaves_migrail_the_last_word(
    project: DjangoProject, tmp_path: Path
) -> None:
    main_branch(project)
    bare = remote(project, tmp_path)
    before = tip(project, bare)
    add(project, "shop", "0002_price", "0001_initial")
    add(project, "shop", "0002_stock", "0001_initial", max_migration=False)
    head = project.commit("fork")  # committed before the hooks were installed
    keep_earlier_hook(project, "pre-push")
    install(project)
    status, out = git(project, "push", "origin", "main")
    assert status != 0
    assert "migrail: push of refs/heads/main stopped" in out
    assert "not found" not in out
    assert recorded(project, "pre-push", "stdin") == (
        f"refs/heads/main {head} refs/heads/main {before}\n"
    )
    assert tip(project, bare) == before


def test_an_ordinary_commit_goes_through_and_a_forking_one_is_stopped(
    project: DjangoProject,
) -> None:
    main_branch(project)
    install(project)
    add(project, "shop", "0002_price", "0001_initial")
    project.git("add", "-A")
    status, out = git(project, "commit", "-m", "price")
    assert status == 0, out
    assert said_by_migrail(out) == []
    add(project, "shop", "0002_stock", "0001_initial", max_migration=False)
    project.git("add", "-A")
    status, out = git(project, "commit", "-m", "stock")
    assert status == 1
    assert "migrail: pre-commit stopped" in out
    assert project.git("log", "-1", "--format=%s").strip() == "price"


def linked_migration(p: DjangoProject, target: Path, link_text: str | Path) -> None:
    """shop's 0002_price as a symbolic link (`link_text`) to `target`, which holds it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(migration_source([("shop", "0001_initial")], add_field("item", "price")))
    (p.root / "shop/migrations/0002_price.py").symlink_to(link_text)
    p.write("shop/migrations/max_migration.txt", "0002_price\n")


def each_check(p: DjangoProject) -> list[tuple[int, str]]:
    """`migrail check` on the working tree, the index and HEAD."""
    return [
        (proc.returncode, proc.stdout)
        for proc in (p.migrail("check", *args) for args in ((), ("--staged",), ("--rev", "HEAD")))
    ]


def test_a_migration_linked_inside_the_tree_commits_pushes_and_syncs(
    project: DjangoProject, tmp_path: Path
) -> None:
    main_branch(project)
    bare = remote(project, tmp_path)
    install(project)
    sync_with_user_rows(project)
    project.git("switch", "-q", "-c", "feature")
    linked_migration(project, project.root / "shared/price.py", "../../shared/price.py")
    project.git("add", "-A")
    status, out = git(project, "commit", "-m", "price")
    assert status == 0, out
    assert said_by_migrail(out) == []
    head = project.git("rev-parse", "HEAD").strip()
    assert each_check(project) == [(0, "")] * 3
    status, out = git(project, "push", "origin", "feature")
    assert status == 0, out
    assert said_by_migrail(out) == []
    assert tip(project, bare, "feature") == head
    # The database follows the linked migration both ways.
    sync(project)
    assert "price" in columns(project, "shop_item")
    status, out = git(project, "switch", "main")
    assert status == 0, out
    assert "  - unapplying shop.0002_price" in out
    assert "price" not in columns(project, "shop_item")
    status, out = git(project, "switch", "feature")
    assert status == 0, out
    assert "+ shop.0002_price" in out
    assert "price" in columns(project, "shop_item")
    assert user_rows(project) == USER_ROWS_ADDED


def test_a_migration_linked_out_of_the_tree_is_stopped_at_commit_and_at_push(
    project: DjangoProject, tmp_path: Path
) -> None:
    main_branch(project)
    bare = remote(project, tmp_path)
    before = tip(project, bare)
    install(project)
    linked_migration(project, tmp_path / "outside/price.py", tmp_path / "outside/price.py")
    project.git("add", "-A")
    finding = (
        "shop/migrations/0002_price.py:1: E011 0002_price cannot be read: is a symbolic link "
        "that leads outside the work tree; migrail does not follow it"
    )
    hint = "    hint: replace the link with the file itself, or with a link inside the repository"
    report = f"{finding}\n{hint}\nmigrail: 1 error, 0 warnings (2 apps checked)\n"
    status, out = git(project, "commit", "-m", "price")
    assert (status, out) == (
        1,
        f"{report}migrail: pre-commit stopped: fix the findings above (or skip once with "
        "MIGRAIL_SKIP=1)\n",
    )
    assert project.git("log", "-1", "--format=%s").strip() == "main"
    status, out = git(project, "commit", "-m", "price", env={"MIGRAIL_SKIP": "1"})
    assert status == 0, out
    assert each_check(project) == [(1, report)] * 3
    status, out = git(project, "push", "origin", "main")
    assert status != 0
    assert out.startswith(
        f"{report}migrail: push of refs/heads/main stopped: its migration graph has the "
        "findings above\n"
    ), out
    assert tip(project, bare) == before


def test_amend_syncs_once(project: DjangoProject) -> None:
    main_branch(project)
    install(project)
    add(project, "shop", "0002_price", "0001_initial")
    project.commit("price")
    sync_with_user_rows(project)
    (project.root / "shop/migrations/0002_price.py").unlink()
    add(project, "shop", "0002_stock", "0001_initial")
    project.git("add", "-A")
    status, out = git(project, "commit", "--amend", "-m", "stock")
    assert status == 0, out
    assert "not found" not in out
    assert out.count("matches the working tree") == 1, out  # one sync, not two
    assert "1 to unapply with the code of" in out
    assert "  - unapplying shop.0002_price" in out
    assert ["shop", "0002_stock"] in applied(project)
    assert ["shop", "0002_price"] not in applied(project)
    assert "stock" in columns(project, "shop_item")
    assert "price" not in columns(project, "shop_item")
    assert user_rows(project) == USER_ROWS_ADDED


def test_renaming_and_deleting_branches_say_nothing(project: DjangoProject) -> None:
    """`git branch -m` of the checked-out branch runs reference-transaction while HEAD names
    no ref yet: the hook asks git nothing it would complain about."""
    main_branch(project)
    install(project)
    project.git("switch", "-q", "-c", "feature")
    for args in (["branch", "-m", "feature", "renamed"], ["branch", "-m", "main", "trunk"]):
        status, out = git(project, *args)
        assert (status, out) == (0, ""), args
    status, out = git(project, "branch", "-D", "trunk")
    assert status == 0, out
    assert "fatal" not in out, out


def test_an_earlier_post_rewrite_hook_gets_the_rewritten_commits_and_sync_still_runs(
    project: DjangoProject,
) -> None:
    main_branch(project)
    keep_earlier_hook(project, "post-rewrite", exit_status=3)
    install(project)
    add(project, "shop", "0002_price", "0001_initial")
    old = project.commit("price")
    sync_with_user_rows(project)
    add(project, "shop", "0003_size", "0002_price")
    project.git("add", "-A")
    status, out = git(project, "commit", "--amend", "-m", "price and size")
    assert status == 0, out  # git ignores post-rewrite's status
    new = project.git("rev-parse", "HEAD").strip()
    assert recorded(project, "post-rewrite", "args") == "amend\n"
    assert recorded(project, "post-rewrite", "stdin") == f"{old} {new}\n"
    assert "+ shop.0003_size" in out
    assert ["shop", "0003_size"] in applied(project)
    assert user_rows(project) == USER_ROWS_ADDED


def test_rebase_syncs_once_when_it_is_done(project: DjangoProject) -> None:
    """With no manage.py: the settings come from DJANGO_SETTINGS_MODULE, through git's hooks."""
    project.env["DJANGO_SETTINGS_MODULE"] = "project.settings"  # every git and migrail run's
    (project.root / "manage.py").unlink()
    main_branch(project)
    install(project)
    project.git("switch", "-q", "-c", "feature")
    add(project, "shop", "0002_price", "0001_initial")
    project.commit("price")
    sync_with_user_rows(project)
    project.git("switch", "-q", "main")
    add(project, "billing", "0002_paid", "0001_initial")
    project.commit("paid")
    status, out = git(project, "switch", "feature")
    assert status == 0, out
    status, out = git(project, "rebase", "main")
    assert status == 0, out
    assert "not found" not in out
    assert out.count("matches the working tree") == 1, out  # one sync, not two
    assert "0 to unapply, 1 to apply\n  + billing.0002_paid" in out
    assert ["billing", "0002_paid"] in applied(project)
    assert ["shop", "0002_price"] in applied(project)
    assert user_rows(project) == USER_ROWS_ADDED
    assert not (project.root / "manage.py").exists()


def test_an_ordinary_merge_goes_through_and_syncs(project: DjangoProject) -> None:
    """Even when an earlier post-merge hook fails: git's merge is done, so the database follows."""
    main_branch(project)
    keep_earlier_hook(project, "post-merge", exit_status=1)
    install(project)
    project.git("switch", "-q", "-c", "feature")
    add(project, "billing", "0002_paid", "0001_initial")
    project.commit("paid")
    project.git("switch", "-q", "main")
    add(project, "shop", "0002_price", "0001_initial")
    project.commit("price")
    sync_with_user_rows(project)
    status, out = git(project, "merge", "--no-edit", "feature")
    assert status == 0, out
    assert "stopped" not in out
    assert "not found" not in out
    assert len(project.git("log", "-1", "--format=%P").split()) == 2  # a merge commit
    assert "0 to unapply, 1 to apply\n  + billing.0002_paid" in out
    assert ["billing", "0002_paid"] in applied(project)
    assert recorded(project, "post-merge", "args") == "0\n"  # not a squash merge
    assert user_rows(project) == USER_ROWS_ADDED


def test_an_earlier_post_checkout_hook_keeps_its_status_and_the_database_still_follows(
    project: DjangoProject,
) -> None:
    """feature's migration imports a helper module only feature has: leaving feature unapplies
    it with feature's code."""
    main_branch(project)
    project.git("switch", "-q", "-c", "feature")
    migration_with_helper(project, "shop", "0002_price", "0001_initial", "item")
    project.commit("price")
    project.git("switch", "-q", "main")
    sync_with_user_rows(project)
    project.query("INSERT INTO shop_item (name) VALUES (7)")
    keep_earlier_hook(project, "post-checkout", exit_status=3)
    install(project)
    status, out = git(project, "switch", "feature")
    assert status != 0  # the earlier hook failed, and git says so as it did before migrail
    assert "+ shop.0002_price" in out
    assert ["shop", "0002_price"] in applied(project)
    assert project.query("SELECT name, price FROM shop_item") == [[7, 5]]
    set_earlier_exit(project, 0)
    status, out = git(project, "switch", "main")
    assert status == 0, out
    assert "- shop.0002_price" in out
    assert "1 to unapply with the code of" in out
    assert "Traceback" not in out
    assert ["shop", "0002_price"] not in applied(project)
    assert not (project.root / "shop/helpers.py").exists()
    assert project.query("SELECT name FROM shop_item") == [[7]]
    assert user_rows(project) == USER_ROWS_ADDED
    assert recorded(project, "post-checkout", "args").count(" 1\n") == 2


def test_an_environment_without_migrail_is_said_plainly(
    project: DjangoProject, tmp_path: Path
) -> None:
    """The installing environment lost migrail: PATH's migrail runs, and without one, a message."""
    main_branch(project)
    bare_venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare_venv)], check=True)
    for name in ("pre-commit", "post-checkout"):
        (hooks(project) / name).write_text(render_script(name, str(bare_venv / "bin/python")))
        (hooks(project) / name).chmod(0o755)
    no_migrail = {"PATH": "/usr/bin:/bin"}
    project.git("switch", "-q", "-c", "feature")
    add(project, "shop", "0002_price", "0001_initial")
    project.git("add", "-A")
    status, out = git(project, "commit", "-m", "price", env=no_migrail)
    assert status == 1  # a guard that cannot run blocks, and says why
    assert f"migrail: not found (installed from {bare_venv}/bin/python)" in out
    assert "No module named" not in out
    status, out = git(project, "commit", "-m", "price")  # migrail on PATH takes over
    assert status == 0, out
    status, out = git(project, "switch", "main", env=no_migrail)
    assert status == 0, out  # a post-checkout hook never fails the switch for this
    assert f"migrail: not found (installed from {bare_venv}/bin/python)" in out
    assert "No module named" not in out


def test_a_branch_that_only_installs_an_app_from_site_packages_is_synced(
    project: DjangoProject,
) -> None:
    """No migration file differs, but feature's settings add `django.contrib.sites`: the
    switch applies its migrations, as a fresh `migrate` of feature would."""
    main_branch(project)
    install(project)
    sync_with_user_rows(project)
    project.git("switch", "-q", "-c", "feature")
    project.apps.append("django.contrib.sites")
    project.write_settings()
    project.commit("sites")
    project.git("switch", "-q", "main")
    status, out = git(project, "switch", "feature")
    assert status == 0, out
    assert "+ sites.0001_initial" in out
    assert ["sites", "0002_alter_domain_unique"] in applied(project)
    assert user_rows(project) == USER_ROWS_ADDED
    proc = project.migrail("status")
    assert proc.returncode == 0, proc.stdout
