"""Where output goes: text findings and what --fix wrote on stdout (as ruff and flake8 print
theirs), JSON and GitHub annotations alone on stdout; through a git hook, which sends both
streams to one place, a "stopped" line comes after the findings it refers to."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.djangoproject import DjangoProject, add_field, migration_source, run_env

E001 = "shop/migrations/max_migration.txt:1: E001 app 'shop' has 2 leaf migrations"


def shop(p: DjangoProject, *, forked: bool = False) -> None:
    p.linear_app("shop", "0002_price")
    if forked:
        p.migration("shop", "0002_stock", migration_source([("shop", "0001_initial")]))


def buffered_env() -> dict[str, str]:
    """A user's environment: Python's stdout block-buffered when it is not a terminal."""
    env = run_env()
    env.pop("PYTHONUNBUFFERED", None)
    return env


def git_as_a_log_sees_it(p: DjangoProject, *args: str) -> tuple[int, list[str]]:
    """git's stdout and stderr through one pipe, as a CI log or a GUI client gets them."""
    proc = subprocess.run(
        ["git", *args],
        cwd=p.root,
        env=buffered_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc.returncode, proc.stdout.splitlines()


def test_findings_and_what_fix_wrote_go_with_the_report(project: DjangoProject) -> None:
    shop(project, forked=True)
    proc = project.migrail("check")
    assert proc.returncode == 1
    assert proc.stderr == ""
    assert E001 in proc.stdout
    (project.root / "shop/migrations/0002_stock.py").unlink()
    project.write("shop/migrations/max_migration.txt", "0001_initial\n")
    proc = project.migrail("check", "--fix")
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1,
        "migrail: wrote shop/migrations/max_migration.txt\n",
        "",
    )
    # Beside JSON or GitHub annotations it goes to stderr, so stdout stays parseable.
    project.write("shop/migrations/max_migration.txt", "0001_initial\n")
    proc = project.migrail("check", "--fix", "--format", "json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["findings"] == []
    assert proc.stderr == "migrail: wrote shop/migrations/max_migration.txt\n"
    project.write("shop/migrations/max_migration.txt", "0001_initial\n")
    proc = project.migrail("check", "--fix", "--format", "github")
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1,
        "",
        "migrail: wrote shop/migrations/max_migration.txt\n",
    )


def test_a_stopped_commit_says_so_after_its_findings(project: DjangoProject) -> None:
    shop(project)
    project.commit("shop")
    assert project.migrail("install").returncode == 0
    project.migration(
        "shop", "0002_stock", migration_source([("shop", "0001_initial")], add_field("item", "s"))
    )
    project.git("add", "-A")
    status, lines = git_as_a_log_sees_it(project, "commit", "-m", "stock")
    assert status == 1
    assert lines[-1] == (
        "migrail: pre-commit stopped: fix the findings above (or skip once with MIGRAIL_SKIP=1)"
    )
    assert any(line.startswith(E001) for line in lines[:-1])


def test_a_stopped_push_says_so_after_its_findings(project: DjangoProject, tmp_path: Path) -> None:
    shop(project, forked=True)
    project.commit("fork")  # before the hooks were installed
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "remote.git")], check=True)
    project.git("remote", "add", "origin", str(tmp_path / "remote.git"))
    assert project.migrail("install").returncode == 0
    status, out = git_as_a_log_sees_it(project, "push", "origin", "main")
    assert status == 1
    lines = [line for line in out if line.startswith(("migrail", "shop"))]
    assert lines[-1] == (
        "migrail: push of refs/heads/main stopped: its migration graph has the findings above"
    )
    assert any(line.startswith(E001) for line in lines[:-1])


def test_a_reader_that_leaves_early_gets_no_traceback(project: DjangoProject) -> None:
    project.linear_app("shop")
    for n in range(2, 1200):  # a finding each, far more than a pipe holds
        project.write(f"shop/migrations/{n:04}_not_a_migration_{n}.py", "x = 1\n")
    project.commit("shop")
    proc = subprocess.run(
        f"{sys.executable} -m migrail check --format github | head -1",
        shell=True,
        cwd=project.root,
        env=run_env(),
        capture_output=True,
        text=True,
    )
    assert proc.stdout.startswith("::error ")
    assert "Traceback" not in proc.stderr
    assert "BrokenPipeError" not in proc.stderr


def test_version_goes_to_stdout(tmp_path: Path) -> None:
    from importlib.metadata import version

    proc = subprocess.run(
        [sys.executable, "-m", "migrail", "--version"],
        cwd=tmp_path,
        env=run_env(),
        capture_output=True,
        text=True,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        0,
        f"migrail {version('django-migrail')}\n",
        "",
    )
