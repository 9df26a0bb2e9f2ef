"""`INSTALLED_APPS += ["migrail"]`: system checks and management commands."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate


class MigrailConfig(AppConfig):
    name = "migrail"
    verbose_name = "migrail"

    def ready(self) -> None:
        from migrail.django_app.applied_sources import remember_after_migrate
        from migrail.django_app.checks import check_migrations

        checks.register(check_migrations, "migrail")
        post_migrate.connect(remember_after_migrate, dispatch_uid="migrail.applied_sources")
