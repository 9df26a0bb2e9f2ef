from __future__ import annotations

import subprocess
import sys

import pytest

from tests.djangoproject import run_env


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "migrail", "demo"],
        env=run_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_demo_shows_rollback_forward_and_a_stopped_fork(
    demo: subprocess.CompletedProcess[str],
) -> None:
    assert demo.returncode == 0, demo.stdout + demo.stderr
    out = demo.stdout
    assert "  - shop.0002_price\n      drops column price of shop.item" in out
    assert "  - unapplying shop.0002_price" in out
    assert "0 to unapply, 1 to apply\n  + shop.0002_price" in out
    assert "migrail: pre-commit stopped" in out
    assert "migrail: wrote shop/migrations/max_migration.txt" in out
    assert "E001 app 'shop' has 2 leaf migrations: 0002_price, 0002_stock" in out
    assert out.rstrip().endswith("migrail demo finished.")


def test_demo_shows_commands_as_a_user_types_them(demo: subprocess.CompletedProcess[str]) -> None:
    proc = demo
    assert proc.returncode == 0, proc.stdout + proc.stderr
    steps = proc.stdout.split("\n$ ")[1:]
    commands = [step.splitlines()[0] for step in steps]
    assert [c for c in commands if not c.startswith(("migrail ", "git "))] == []
    assert "$ migrail check --fix    # --fix writes it\n" in proc.stdout
    assert sys.executable not in proc.stdout
    assert [c for c in commands if c.rstrip().endswith("#")] == []  # no empty comments
    last = steps[-1].split("\nmigrail demo finished.")[0]
    assert last.splitlines()[1:] != [], last  # the last step prints its result
