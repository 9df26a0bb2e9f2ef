"""A migration edited after it was applied (an amend) is named, never silently "in step"."""

from __future__ import annotations

from pathlib import Path

from tests.djangoproject import (
    USER_ROWS_ADDED,
    add_field,
    add_user_rows,
    migration_source,
    real_project,
    user_rows,
)
from tests.scenarios import feature_branch, main_branch, sync

NOTE = (
    "shop.0002_stock changed since it was applied, and `migrate` does not re-run it: "
    "`migrail sync --redo-edited` unapplies the applied version and applies this one"
)


def test_an_amended_migration_is_named_until_it_is_applied_again(tmp_path: Path) -> None:
    p = real_project(tmp_path / "repo", tmp_path / "packages")
    main_branch(p)
    assert p.migrail("install").returncode == 0
    feature_branch(p)
    sync(p)
    add_user_rows(p)

    # Reformatting is not a change.
    stock = p.root / "shop/migrations/0002_stock.py"
    stock.write_text("# formatted\n" + stock.read_text().replace("    ", "        "))
    out = p.git("commit", "-qa", "--amend", "--no-edit")
    assert "changed since it was applied" not in out
    assert p.migrail("status").returncode == 0

    # A field added to the applied migration in place: post-rewrite syncs and says so.
    stock.write_text(
        migration_source(
            [("shop", "0001_initial")], add_field("item", "stock") + add_field("item", "price")
        )
    )
    out = p.git("commit", "-qa", "--amend", "--no-edit")
    assert f"  note: {NOTE}\n" in out
    assert (
        "migrail: database 'default' matches the working tree, but for the changed migrations "
        "named above"
    ) in out
    proc = p.migrail("status")
    assert proc.returncode == 1
    assert proc.stdout.endswith(f"  {NOTE}\n")
    assert "price" not in str(p.schema()["tables"])

    # The way out it gives works, and then all is in step.
    out = sync(p, "--redo-edited")
    assert "2 to unapply, 2 to apply\n  - billing.0002_seen\n" in out
    assert "changed since" not in out
    assert "price" in str(p.schema()["tables"])
    assert p.migrail("status").returncode == 0
    assert user_rows(p) == USER_ROWS_ADDED
