"""PostgreSQL reached through Django's documented `OPTIONS['service']`, with no NAME: the
service file (in tmp) names the database. The backup sync takes before a rollback is of
that database, not of the one libpq would pick without the service, and restores it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.databases import database_settings
from tests.djangoproject import DjangoProject
from tests.scenarios import feature_branch, main_branch

NO_NAME = "del DATABASES['default']['NAME']\n"  # as written: OPTIONS['service'] alone


@pytest.fixture
def service_project(tmp_path: Path) -> Iterator[tuple[DjangoProject, str]]:
    with database_settings("postgresql", tmp_path) as (settings, _):
        name = settings["NAME"]
        services = tmp_path / "pg_service.conf"
        services.write_text(
            f"# the team's services\n[shop]\n  host=127.0.0.1\n  port=5432\n  user=postgres\n"
            f"  dbname={name}\n"
        )
        database: dict[str, Any] = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "",
            "OPTIONS": {"service": "shop"},
        }
        project = DjangoProject(
            tmp_path / "repo",
            settings_extra=NO_NAME,
            env={"PGSERVICEFILE": str(services), "PGDATABASE": "postgres"},
        )
        project.database = database
        project.write_settings()
        yield project, name


def test_the_backup_is_of_the_services_database_and_restores_it(
    service_project: tuple[DjangoProject, str],
) -> None:
    p, name = service_project
    main_branch(p)
    feature_branch(p)
    assert p.migrail("sync").returncode == 0
    p.query("INSERT INTO shop_item (name, stock) VALUES (1, 42)")
    p.git("switch", "-q", "main")

    proc = p.migrail("sync")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tables = p.schema()["tables"]
    assert isinstance(tables, dict)
    assert tables["shop_item"] == ["id", "name"]
    backups = p.root / ".git/migrail/backups"
    (dump,) = backups.glob("*.dump")
    assert json.loads((backups / f"{dump.name}.json").read_text())["database"]["name"] == name
    listing = subprocess.run(
        ["pg_restore", "--list", str(dump)], capture_output=True, text=True, check=True
    ).stdout
    assert f";     dbname: {name}\n" in listing

    proc = p.migrail("restore", dump.name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert p.query("SELECT name, stock FROM shop_item") == [[1, 42]]
    applied = p.query("SELECT app, name FROM django_migrations WHERE name LIKE '0002%' ORDER BY 1")
    assert applied == [["billing", "0002_seen"], ["shop", "0002_stock"]]
