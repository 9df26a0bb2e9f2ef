"""The local-only rule holds whatever the driver reads: OPTIONS, libpq's environment and
service files, MySQL option files (each case in process: tests/engines/). Refused before
any connection: the hosts are under `.invalid`, so a connection attempt would show as a
resolver error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from migrail.sync.safety import is_local
from tests.djangoproject import DjangoProject, create_model, migration_source

POSTGRESQL = "django.db.backends.postgresql"
MYSQL = "django.db.backends.mysql"
ADVICE = (
    "; migrail syncs local databases only "
    "(set `allow_remote_databases = true` in [tool.migrail] to allow it)\n"
)


def shop(project: DjangoProject, database: dict[str, Any]) -> None:
    project.database = database
    project.add_app("shop")
    project.migration("shop", "0001_initial", migration_source([], create_model("Item")))
    project.commit("main")


def refused(project: DjangoProject, where: str, env: dict[str, str] | None = None) -> None:
    for command in (["sync"], ["sync", "--dry-run"], ["status"], ["restore", "x.dump"]):
        proc = project.migrail(*command, env=env)
        assert proc.stderr == f"migrail: error: database 'default' {where}{ADVICE}", command
        assert proc.returncode == 1, command
        assert proc.stdout == ""


@pytest.mark.parametrize("engine", [POSTGRESQL, MYSQL])
def test_host_in_options_is_refused(project: DjangoProject, engine: str) -> None:
    shop(project, {"ENGINE": engine, "NAME": "app", "HOST": "", "OPTIONS": {"host": "db.invalid"}})
    refused(project, "is on 'db.invalid' (from OPTIONS['host']), not this machine")


def test_a_conninfo_naming_another_host_is_refused(project: DjangoProject) -> None:
    conninfo = "host=db.invalid port=5432 sslmode=require"
    shop(project, {"ENGINE": POSTGRESQL, "NAME": "app", "OPTIONS": {"conninfo": conninfo}})
    refused(project, "is on 'db.invalid' (from OPTIONS['conninfo']), not this machine")


def test_pghost_in_the_environment_is_refused(project: DjangoProject) -> None:
    shop(project, {"ENGINE": POSTGRESQL, "NAME": "app", "HOST": ""})
    refused(project, "is on 'db.invalid' (from PGHOST), not this machine", {"PGHOST": "db.invalid"})


def test_pg_service_file_host_is_refused(project: DjangoProject, tmp_path: Path) -> None:
    services = tmp_path / "services.conf"
    services.write_text("[app]\nhost=db.invalid\ndbname=app\n")
    shop(project, {"ENGINE": POSTGRESQL, "NAME": "app", "OPTIONS": {"service": "app"}})
    refused(
        project,
        f"is on 'db.invalid' (from service 'app' in {services}), not this machine",
        {"PGSERVICEFILE": str(services)},
    )


def test_unknown_pg_service_is_refused(project: DjangoProject, tmp_path: Path) -> None:
    shop(project, {"ENGINE": POSTGRESQL, "NAME": "app", "HOST": ""})
    refused(
        project,
        "is on a host migrail cannot tell from PGSERVICE 'elsewhere', found in no service file",
        {"PGSERVICE": "elsewhere", "PGSERVICEFILE": str(tmp_path / "none.conf")},
    )


def test_mysql_option_file_host_is_refused(project: DjangoProject, tmp_path: Path) -> None:
    option_file = tmp_path / "my.cnf"
    option_file.write_text("[client]\nhost = db.invalid\nuser = app\n")
    shop(
        project,
        {"ENGINE": MYSQL, "NAME": "app", "OPTIONS": {"read_default_file": str(option_file)}},
    )
    refused(project, f"is on 'db.invalid' (from {option_file} [client]), not this machine")


def test_missing_mysql_option_file_is_refused(project: DjangoProject, tmp_path: Path) -> None:
    missing = tmp_path / "gone.cnf"
    shop(project, {"ENGINE": MYSQL, "NAME": "app", "OPTIONS": {"read_default_file": str(missing)}})
    refused(
        project,
        f"is on a host migrail cannot tell from option file {missing}, which does not exist",
    )


@pytest.mark.parametrize(
    ("settings", "environ", "local"),
    [
        ({"ENGINE": POSTGRESQL, "HOST": "127.0.0.1"}, {"PGHOST": "db.invalid"}, True),
        ({"ENGINE": POSTGRESQL, "HOST": ""}, {"PGHOST": "/var/run/postgresql"}, True),
        ({"ENGINE": POSTGRESQL, "HOST": ""}, {"PGHOST": "localhost,db.invalid"}, False),
        ({"ENGINE": POSTGRESQL, "HOST": "localhost"}, {"PGHOSTADDR": "10.1.2.3"}, False),
        ({"ENGINE": POSTGRESQL, "OPTIONS": {"hostaddr": "127.0.0.1"}}, {}, True),
        ({"ENGINE": MYSQL, "HOST": "127.0.0.1", "OPTIONS": {"host": "10.1.2.3"}}, {}, False),
        ({"ENGINE": MYSQL, "HOST": "", "OPTIONS": {"unix_socket": "/run/mysqld.sock"}}, {}, True),
        ({"ENGINE": MYSQL, "OPTIONS": {"read_default_file": "/nonexistent/my.cnf"}}, {}, False),
        ({"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}, {"PGHOST": "x"}, True),
    ],
)
def test_what_counts_as_local(
    settings: dict[str, Any], environ: dict[str, str], local: bool
) -> None:
    assert is_local(settings, environ) is local
