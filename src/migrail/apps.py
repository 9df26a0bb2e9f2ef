"""`INSTALLED_APPS += ["migrail"]`: system checks and management commands."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class MigrailConfig(AppConfig):
    name = "migrail"
    verbose_name = "migrail"

    def ready(self) -> None:
        from migrail.django_app.checks import check_migrations

        checks.register(check_migrations, "migrail")
