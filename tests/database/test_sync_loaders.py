"""One sync, one loader per view: the tree's, and the orphans' shared by plan and unapply.

Each run counts the `MigrationLoader` graphs the real `migrail` process builds, and
whether the orphans' restored sources were in it, on a project shaped like a real one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.djangoproject import (
    USER_ROWS_ADDED,
    DjangoProject,
    add_user_rows,
    real_project,
    run_env,
    user_rows,
)
from tests.scenarios import feature_branch, main_branch, sync

COUNTING_MIGRAIL = """\
import atexit, sys
from django.db.migrations.loader import MigrationLoader

built = []
build_graph = MigrationLoader.build_graph


def counting(self):
    from django.conf import settings

    modules = getattr(settings, "MIGRATION_MODULES", None) or {}
    built.append(any(str(m).startswith("_migrail_rollback_") for m in modules.values()))
    return build_graph(self)


MigrationLoader.build_graph = counting
atexit.register(
    lambda: print(f"graphs built: {len(built)}, with orphans: {sum(built)}", file=sys.stderr)
)
from migrail.cli.entry import main

sys.argv[0] = "migrail"
sys.exit(main())
"""


def counted(p: DjangoProject, *args: str) -> tuple[str, str]:
    proc = subprocess.run(
        [sys.executable, "-c", COUNTING_MIGRAIL, *args],
        cwd=p.root,
        env=run_env(p.env),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout, proc.stderr.splitlines()[-1]


def test_a_rollback_builds_each_loader_once(tmp_path: Path) -> None:
    p = real_project(tmp_path / "repo", tmp_path / "packages")
    main_branch(p)
    sync(p)
    add_user_rows(p)
    feature_branch(p)
    sync(p)
    p.git("-c", "core.hooksPath=/dev/null", "switch", "-q", "main")

    out, graphs = counted(p, "sync")
    assert "2 to unapply, 0 to apply" in out
    # The tree's loader (plan), the orphans' (plan and unapply), and the tree's again once
    # the rollback changed what is applied, for `migrate` (run with nothing to apply too, as
    # by hand: its post_migrate handlers) and the sources remembered.
    assert graphs == "graphs built: 3, with orphans: 1"
    assert p.query("SELECT name FROM django_migrations WHERE app IN ('shop', 'billing')") == [
        ["0001_initial"],
        ["0001_initial"],
    ]
    assert user_rows(p) == USER_ROWS_ADDED

    out, graphs = counted(p, "sync")
    assert "0 to unapply, 0 to apply" not in out  # nothing to do: one line says so
    assert "migrail: database 'default' matches the working tree (" in out
    assert graphs == "graphs built: 1, with orphans: 0"

    p.git("-c", "core.hooksPath=/dev/null", "switch", "-q", "feature")
    out, graphs = counted(p, "sync")
    assert "0 to unapply, 2 to apply" in out
    # The tree's loader only: `migrate` runs on it (nothing was unapplied first).
    assert graphs == "graphs built: 1, with orphans: 0"
    assert user_rows(p) == USER_ROWS_ADDED
