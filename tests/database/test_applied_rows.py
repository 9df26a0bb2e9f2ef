"""`applied_rows`: the rows of `django_migrations` in the order applied, over sqlite3 (as a
return trip reads them) and Django's connection alike."""

from __future__ import annotations

import sqlite3

from migrail.sync.applied_rows import leaves_of, sqlite_applied_rows


def test_rows_in_the_order_applied_and_each_apps_last() -> None:
    connection = sqlite3.connect(":memory:")
    assert sqlite_applied_rows(connection) == []  # no table: nothing applied
    connection.execute("CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app, name)")
    rows = [("shop", "0001_initial"), ("auth", "0001_initial"), ("shop", "0002_b")]
    # Applied out of name order (a merge): the order is the ids', not the names'.
    rows.append(("shop", "0002_a"))
    connection.executemany("INSERT INTO django_migrations (app, name) VALUES (?, ?)", rows)
    assert sqlite_applied_rows(connection) == rows
    assert leaves_of(rows) == {"shop": "0002_a", "auth": "0001_initial"}
