from __future__ import annotations

from django.core.management.commands.makemigrations import Command as MakeMigrations

from migrail.django_app.commands import WritesMaxMigration


class Command(WritesMaxMigration, MakeMigrations):
    """Django's makemigrations, keeping max_migration.txt up to date."""
