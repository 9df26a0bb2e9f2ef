"""`migrail demo`: a throwaway repository that shows migrail's main job on SQLite.

It builds a small Django project in a temporary directory, installs the
hooks, and then uses plain git: a branch switch rolls the database back and
forward, and a commit that forks the graph is stopped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from migrail.errors import EXIT_CLEAN, MigrailError

MANAGE = """\
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
"""
SETTINGS = """\
SECRET_KEY = "demo"
DEBUG = True
USE_TZ = True
INSTALLED_APPS = ["shop"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
"""
MIGRATION = """\
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [{deps}]

    operations = [
        {operation},
    ]
"""
CREATE = (
    'migrations.CreateModel(name="Item", fields=[("id", models.AutoField(primary_key=True)), '
    '("name", models.CharField(max_length=50))])'
)


def models(*fields: str) -> str:
    columns = "".join(f"    {f} = models.IntegerField(default=0)\n" for f in fields)
    return (
        "from django.db import models\n\n\nclass Item(models.Model):\n"
        f"    name = models.CharField(max_length=50)\n{columns}"
    )


def add_field(name: str) -> str:
    return (
        f'migrations.AddField(model_name="item", name="{name}", '
        "field=models.IntegerField(default=0))"
    )


def run(keep: bool = False) -> int:
    root = Path(tempfile.mkdtemp(prefix="migrail-demo-"))
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "migrail demo",
        "GIT_AUTHOR_EMAIL": "demo@example.com",
        "GIT_COMMITTER_NAME": "migrail demo",
        "GIT_COMMITTER_EMAIL": "demo@example.com",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("MIGRAIL_SKIP", None)
    env.pop("CI", None)

    def step(title: str, *command: str, ok: tuple[int, ...] = (0,)) -> str:
        """Show the command as a user types it; run migrail with this Python."""
        comment = f"    # {title}" if title else ""
        print(f"\n$ {' '.join(command)}{comment}", flush=True)
        argv = [sys.executable, "-m", *command] if command[0] == "migrail" else list(command)
        proc = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True)
        output = (proc.stdout + proc.stderr).rstrip()
        if output:
            print(output, flush=True)
        if proc.returncode not in ok:
            raise MigrailError(f"demo step failed: {' '.join(command)} exited {proc.returncode}")
        return output

    def write(path: str, text: str) -> None:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)

    def migration(name: str, parent: str | None, operation: str) -> None:
        deps = f'("shop", "{parent}")' if parent else ""
        write(f"shop/migrations/{name}.py", MIGRATION.format(deps=deps, operation=operation))

    try:
        print(f"migrail demo in {root}")
        write("manage.py", MANAGE)
        write("demo/__init__.py", "")
        write("demo/settings.py", SETTINGS)
        write("shop/__init__.py", "")
        write("shop/migrations/__init__.py", "")
        write(".gitignore", "db.sqlite3\n__pycache__/\n")
        write("shop/models.py", models())
        migration("0001_initial", None, CREATE)
        write("shop/migrations/max_migration.txt", "0001_initial\n")
        step("a new repository", "git", "init", "-q", "-b", "main")
        step("the hooks", "migrail", "install")
        step("", "git", "add", "-A")
        step("main has one migration", "git", "commit", "-q", "-m", "shop")
        step("create the database", "migrail", "sync", "--no-backup")
        step("a feature branch", "git", "switch", "-q", "-c", "feature")
        migration("0002_price", "0001_initial", add_field("price"))
        write("shop/models.py", models("price"))
        write("shop/migrations/max_migration.txt", "0002_price\n")
        step("", "git", "add", "-A")
        step("feature adds a column", "git", "commit", "-q", "-m", "price")
        step("apply it", "migrail", "sync")
        step("back to main: the hook rolls the column back", "git", "switch", "main")
        step("", "migrail", "status")
        step("and to feature again: applied once more", "git", "switch", "feature")
        step("main moves on", "git", "switch", "-q", "main")
        migration("0002_stock", "0001_initial", add_field("stock"))
        write("shop/models.py", models("stock"))
        step("", "git", "add", "shop/migrations/0002_stock.py", "shop/models.py")
        step(
            "a commit that forgets max_migration.txt is stopped",
            "git",
            "commit",
            "-m",
            "stock",
            ok=(1,),
        )
        step("--fix writes it", "migrail", "check", "--fix", ok=(1,))
        step("", "git", "add", "-A")
        step("now it commits", "git", "commit", "-q", "-m", "stock")
        step("back on feature (the database follows)", "git", "switch", "feature")
        step(
            "merging main conflicts on max_migration.txt, not at deploy time",
            "git",
            "merge",
            "main",
            ok=(1,),
        )
        write("shop/models.py", models("price", "stock"))
        step("resolve the models.py conflict as usual", "git", "add", "shop/models.py")
        step("the graph is forked", "migrail", "check", ok=(1,))
        step(
            "feature's 0002_price is applied here, so it cannot just be renamed",
            "migrail",
            "rebase",
            ok=(1,),
        )
        step("roll it back first, then renumber it after main's", "migrail", "rebase", "--unapply")
        step("", "git", "commit", "-q", "--no-edit")
        step("apply it under its new name", "migrail", "sync")
        step("one leaf again: a clean check prints nothing", "migrail", "check")
        step("and the database matches the tree", "migrail", "status")
        print("\nmigrail demo finished.")
    finally:
        if keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return EXIT_CLEAN
