"""Django configured once in the test process, for the fast in-process tests (as Django's own
`tests/migrations/test_executor.py` drives `MigrationExecutor`): contenttypes and auth with
their signal handlers, and small fixture apps, on an in-memory SQLite database."""

from __future__ import annotations

import django
from django.conf import settings

FIXTURE_APPS = [
    "tests.fixture_apps.shop",
    "tests.fixture_apps.broken",
    "tests.fixture_apps.library",
]


def configure_django() -> None:
    if settings.configured:
        return
    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", *FIXTURE_APPS],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        USE_TZ=True,
    )
    django.setup()


def empty_database() -> None:
    """Drop every table of the in-memory database: Django keeps an in-memory SQLite open
    across `connection.close()`, so a test starts from nothing only if it is emptied."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("PRAGMA foreign_keys = OFF")
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"DROP TABLE {connection.ops.quote_name(table)}")
        cursor.execute("PRAGMA foreign_keys = ON")
