"""Time `migrail check --base main` against a plain `migrail check` on a 10,000-migration
repository (200 apps x 50): a pull request adding one migration to one app while main moved
on with a migration in another.

Run: python bench/check_base.py [--apps 200] [--migrations 50] [--runs 5]
Prints a table: median wall time of each command and its ratio to the plain warm check.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from check import GIT_ENV, generate, timed


def add_migration(root: Path, label: str, name: str, parent: str) -> None:
    package = root / label / "migrations"
    (package / f"{name}.py").write_text(
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        f"    dependencies = [({label!r}, {parent!r})]\n\n"
        f"    operations = [\n        migrations.AddField(model_name='item', name={name!r}, "
        "field=models.IntegerField(default=0)),\n    ]\n"
    )
    (package / "max_migration.txt").write_text(f"{name}\n")


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, env=GIT_ENV, capture_output=True)


def pull_request(root: Path, migrations: int) -> None:
    """main gains app001's next migration after `feature` added app000's."""
    last = f"{migrations:04d}_item_f{migrations - 1}"
    git(root, "switch", "-q", "-c", "feature")
    add_migration(root, "app000", f"{migrations + 1:04d}_feature", last)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "feature")
    git(root, "switch", "-q", "main")
    add_migration(root, "app001", f"{migrations + 1:04d}_main", last)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "main moved")
    git(root, "switch", "-q", "feature")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--migrations", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    check = [sys.executable, "-m", "migrail", "check"]
    base = [*check, "--base", "main"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root, args.apps, args.migrations)
        pull_request(root, args.migrations)
        migrail_dir = root / ".git" / "migrail"

        def no_cache() -> None:
            shutil.rmtree(migrail_dir, ignore_errors=True)

        def no_base_result() -> None:
            (migrail_dir / "check-base-result.pickle").unlink(missing_ok=True)

        rows = [
            ("migrail check, cold (a fresh CI clone)", timed(check, root, args.runs, no_cache)),
            ("migrail check --base main, cold", timed(base, root, args.runs, no_cache)),
            (
                "migrail check --base main, parses cached, merge not",
                timed(base, root, args.runs, no_base_result),
            ),
            ("migrail check, warm", timed(check, root, args.runs)),
            ("migrail check --base main, warm", timed(base, root, args.runs)),
        ]
        proc = subprocess.run(base, cwd=root, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr  # the bench checks a clean merge
    warm = rows[3][1]
    files = args.apps * args.migrations
    print(f"{files} migrations ({args.apps} apps x {args.migrations}); median of {args.runs}\n")
    print(f"| {'command':<52} | {'seconds':>8} | {'x plain warm':>12} |")
    print(f"|{'-' * 54}|{'-' * 10}|{'-' * 14}|")
    for name, seconds in rows:
        print(f"| {name:<52} | {seconds:8.3f} | {seconds / warm:12.1f} |")


if __name__ == "__main__":
    main()
