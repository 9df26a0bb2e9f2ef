"""How old a backup offered as a way out is, as a person reads it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from migrail.sync.effects import Effect
from migrail.sync.plan import SyncPlan, describe_plan
from migrail.sync.rollback import age

NOW = datetime(2026, 12, 7, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("created", "said"),
    [
        ("2026-12-07T11:59:30Z", "just now"),
        ("2026-12-07T11:58:00Z", "2 minutes ago"),
        ("2026-12-07T11:00:00Z", "1 hour ago"),
        ("2026-12-04T11:00:00Z", "3 days ago"),
        ("not a time", "not a time"),
    ],
)
def test_age(created: str, said: str) -> None:
    assert age(created, NOW) == said


def test_a_migration_unapplied_and_applied_again_shows_each_ways_effects() -> None:
    """`sync --redo-edited`: the edited migration goes and comes back; applying it creates
    the table its unapplying drops, and the plan says only the latter."""
    key = ("shop", "0008_coupon")
    plan = SyncPlan("default", "sqlite", [key], [key], [key], {})
    plan.effects[key] = [Effect("drops table shop_coupon", "shop_coupon")]
    assert describe_plan(plan).splitlines() == [
        "migrail: database 'default' (sqlite): 1 to unapply, 1 to apply",
        "  - shop.0008_coupon",
        "      drops table shop_coupon",
        "  + shop.0008_coupon",
    ]


def test_after_the_old_codes_rollback_the_plan_says_what_comes_then() -> None:
    """The old code's child printed `2 to unapply with the code of …`; the plan that follows
    is not `0 to unapply, 2 to apply`, which reads as if nothing had been unapplied."""
    keys = [("shop", "0002_b"), ("shop", "0003_b")]
    plan = SyncPlan("default", "sqlite", [], [], keys, {})
    assert describe_plan(plan, then=True).splitlines() == [
        "migrail: database 'default' (sqlite): then 2 to apply with this checkout's code",
        "  + shop.0002_b",
        "  + shop.0003_b",
    ]
    assert describe_plan(plan).splitlines()[0].endswith(": 0 to unapply, 2 to apply")
