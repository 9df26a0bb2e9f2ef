from __future__ import annotations

import argparse
import sys
from typing import Any, ClassVar

from django.core.management.base import BaseCommand, CommandParser

from migrail.django_app.checks import repairing


class Command(BaseCommand):
    help = (
        "migrail's command line with this project's settings: "
        "check, status, sync, switch, rebase, restore (`manage.py migrail check --help`)."
    )
    requires_system_checks: ClassVar[list[str]] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("arguments", nargs=argparse.REMAINDER)

    def handle(self, *args: Any, **options: Any) -> None:
        from migrail.cli.main import main

        with repairing():
            status = main(options["arguments"] or ["--help"])
        if status:
            sys.exit(status)
