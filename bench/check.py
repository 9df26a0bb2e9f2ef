"""Time `migrail check` on a generated 200-app x 50-migration repository.

Run: python bench/check.py [--apps 200] [--migrations 50] [--runs 5] [--before OLD_VENV/bin/python]
Prints a table: median wall time of each command, the median CPU time (user + system, the
command's processes together: steadier than wall time on a shared machine) and the ratio to
migrail's warm check. With --before, the cold check of that installation is timed too, each of
its runs next to one of this installation's, so that the two see the same load.
"""

from __future__ import annotations

import argparse
import ast
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def generate(root: Path, apps: int, migrations: int) -> None:
    labels = [f"app{i:03d}" for i in range(apps)]
    (root / "project").mkdir(parents=True)
    (root / "project/__init__.py").write_text("")
    (root / "project/settings.py").write_text(
        "SECRET_KEY = 'bench'\nDEBUG = True\nUSE_TZ = True\n"
        "DEFAULT_AUTO_FIELD = 'django.db.models.AutoField'\n"
        f"INSTALLED_APPS = ['django_linear_migrations', *{labels!r}]\n"
        f"DATABASES = {{'default': {{'ENGINE': 'django.db.backends.sqlite3', "
        f"'NAME': {str(root / 'db.sqlite3')!r}}}}}\n"
    )
    (root / "manage.py").write_text(
        "import os, sys\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'project.settings')\n"
        "from django.core.management import execute_from_command_line\n"
        "execute_from_command_line(sys.argv)\n"
    )
    for label in labels:
        package = root / label / "migrations"
        package.mkdir(parents=True)
        (root / label / "__init__.py").write_text("")
        (package / "__init__.py").write_text("")
        fields = "".join(
            f"    f{n} = models.IntegerField(default=0)\n" for n in range(1, migrations)
        )
        (root / label / "models.py").write_text(
            f"from django.db import models\n\n\nclass Item(models.Model):\n{fields or '    pass'}\n"
        )
        previous = None
        for n in range(migrations):
            name = "0001_initial" if n == 0 else f"{n + 1:04d}_item_f{n}"
            deps = f"[({label!r}, {previous!r})]" if previous else "[]"
            if n == 0:
                operation = (
                    "migrations.CreateModel(name='Item', fields=[('id', "
                    "models.AutoField(auto_created=True, primary_key=True, serialize=False, "
                    "verbose_name='ID'))])"
                )
            else:
                operation = (
                    f"migrations.AddField(model_name='item', name='f{n}', "
                    "field=models.IntegerField(default=0))"
                )
            (package / f"{name}.py").write_text(
                "from django.db import migrations, models\n\n\n"
                "class Migration(migrations.Migration):\n"
                f"    dependencies = {deps}\n\n"
                f"    operations = [\n        {operation},\n    ]\n"
            )
            previous = name
        (package / "max_migration.txt").write_text(f"{previous}\n")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "bench"], cwd=root, check=True, env=GIT_ENV)


def timed(
    command: list[str], cwd: Path, runs: int, before: Callable[[], None] = lambda: None
) -> float:
    """Median wall seconds of `command` (bench/check_base.py times with it too)."""
    return timed_cpu(command, cwd, runs, before)[0]


def timed_cpu(
    command: list[str], cwd: Path, runs: int, before: Callable[[], None] = lambda: None
) -> tuple[float, float]:
    """Median wall and CPU seconds of `command`."""
    return timed_together({"": command}, cwd, runs, before)[""]


def timed_together(
    commands: dict[str, list[str]],
    cwd: Path,
    runs: int,
    before: Callable[[], None] = lambda: None,
) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of each command, their runs interleaved."""
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            before()
            used = _children_cpu()
            start = time.perf_counter()
            proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
            walls[name].append(time.perf_counter() - start)
            cpus[name].append(_children_cpu() - used)
            if proc.returncode not in (0, 1):
                sys.exit(f"{' '.join(command)} failed:\n{proc.stderr}")
    return {
        name: (statistics.median(walls[name]), statistics.median(cpus[name])) for name in commands
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def byte_compile(python: str) -> None:
    """Write the installation's bytecode, as pip does when it installs migrail: an editable
    install run with PYTHONDONTWRITEBYTECODE set would otherwise compile every module it
    imports again on every run."""
    code = (
        "import compileall, migrail, os; "
        "compileall.compile_dir(os.path.dirname(migrail.__file__), quiet=1)"
    )
    subprocess.run([python, "-c", code], check=True)


def parse_all(root: Path) -> None:
    for path in root.glob("*/migrations/0*.py"):
        ast.parse(path.read_bytes())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--migrations", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", help="python of another installation: its cold check too")
    parser.add_argument(
        "--no-compile", action="store_true", help="leave the installations' bytecode as it is"
    )
    args = parser.parse_args()
    python = sys.executable
    if not args.no_compile:
        for installation in filter(None, [python, args.before]):
            byte_compile(installation)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root, args.apps, args.migrations)
        cache = subprocess.run(
            ["git", "rev-parse", "--git-common-dir"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        migrail_dir = root / cache / "migrail"

        def drop_cache() -> None:
            shutil.rmtree(migrail_dir, ignore_errors=True)

        start = time.perf_counter()
        cpu = time.process_time()
        parse_all(root)
        rows = [
            (
                "ast.parse of every migration (in-process)",
                (time.perf_counter() - start, time.process_time() - cpu),
            )
        ]
        cold = {"cold": [python, "-m", "migrail", "check"]}
        if args.before:
            cold["before"] = [args.before, "-m", "migrail", "check"]
        colds = timed_together(cold, root, args.runs, drop_cache)
        rows.append(("migrail check, cold (no parse cache)", colds["cold"]))
        if args.before:
            rows.append(("migrail check, cold, --before", colds["before"]))
        warm = timed_cpu([python, "-m", "migrail", "check"], root, args.runs)
        rows.append(("migrail check, warm", warm))
        slow_runs = max(1, args.runs // 2)
        rows.append(
            (
                "manage.py check (django-linear-migrations)",
                timed_cpu([python, "manage.py", "check"], root, slow_runs),
            )
        )
        rows.append(
            (
                "manage.py makemigrations --check --dry-run",
                timed_cpu(
                    [python, "manage.py", "makemigrations", "--check", "--dry-run"], root, slow_runs
                ),
            )
        )
    files = args.apps * args.migrations
    print(
        f"{args.apps} apps x {args.migrations} migrations = {files} files; "
        f"median of {args.runs} runs; load average {os.getloadavg()[0]:.1f} at the end\n"
    )
    if args.before:
        print(f"--before: {args.before}")
    print("bytecode: as found\n" if args.no_compile else "bytecode: compiled first\n")
    print(f"| {'command':<46} | {'seconds':>8} | {'cpu s':>6} | {'x migrail warm':>14} |")
    print(f"|{'-' * 48}|{'-' * 9}:|{'-' * 7}:|{'-' * 15}:|")
    for name, (seconds, cpu_seconds) in rows:
        print(f"| {name:<46} | {seconds:8.3f} | {cpu_seconds:6.2f} | {seconds / warm[0]:14.1f} |")


if __name__ == "__main__":
    main()
