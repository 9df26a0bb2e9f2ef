from __future__ import annotations

import subprocess
import sys

from tests.djangoproject import run_env


def test_demo_shows_rollback_forward_and_a_stopped_fork() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "migrail", "demo"],
        env=run_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "  - shop.0002_price\n      drops column price of shop.item" in out
    assert "  - unapplying shop.0002_price" in out
    assert "0 to unapply, 1 to apply\n  + shop.0002_price" in out
    assert "migrail: pre-commit stopped" in out
    assert "migrail: wrote shop/migrations/max_migration.txt" in out
    assert "E001 app 'shop' has 2 leaf migrations: 0002_price, 0002_stock" in out
    assert out.rstrip().endswith("migrail demo finished.")
