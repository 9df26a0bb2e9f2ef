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
