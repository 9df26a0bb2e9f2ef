from __future__ import annotations

from django.core.management.commands.squashmigrations import Command as SquashMigrations

from migrail.django_app.commands import WritesMaxMigration


class Command(WritesMaxMigration, SquashMigrations):
    """Django's squashmigrations, keeping max_migration.txt up to date."""
