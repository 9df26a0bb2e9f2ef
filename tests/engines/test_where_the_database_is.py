"""Where the driver, and the client programs that take the backup, would connect: decided
in process from settings, files written as users write them, and an environment. Hosts
"elsewhere" are addresses only: nothing here connects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from migrail.engines import engine_named_in
from migrail.sync.safety import destinations, is_local, refusal

POSTGRESQL = "django.db.backends.postgresql"
POSTGIS = "django.contrib.gis.db.backends.postgis"
MYSQL = "django.db.backends.mysql"
GIS_MYSQL = "django.contrib.gis.db.backends.mysql"


def pg(**options: Any) -> dict[str, Any]:
    return {"ENGINE": POSTGRESQL, "NAME": "app", "HOST": "", "OPTIONS": options}


def my(**options: Any) -> dict[str, Any]:
    return {"ENGINE": MYSQL, "NAME": "app", "HOST": "", "OPTIONS": options}


def why(settings: dict[str, Any], env: dict[str, str]) -> str | None:
    return refusal(
        "default", settings, debug=True, allow_remote=False, allow_debug_false=False, environ=env
    )


@pytest.mark.parametrize(
    "host",
    ["0.0.0.0", "127.1", "::ffff:127.0.0.1", "LOCALHOST", "[::1]", "127.0.0.2", "0x7f.1", "::"],
)
def test_every_spelling_of_this_machine_is_local(host: str) -> None:
    assert is_local({**pg(), "HOST": host}, {})
    assert is_local({**my(), "HOST": host}, {})


@pytest.mark.parametrize("host", ["128.0.0.1", "db.example", "10.0.0.1", "::ffff:10.0.0.1"])
def test_other_addresses_are_not(host: str) -> None:
    assert not is_local({**pg(), "HOST": host}, {})


# -- PostgreSQL ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "conninfo",
    [
        "host=db.example dbname=app",
        "postgresql://app@db.example:5432/app",
        "dbname=app hostaddr=10.1.2.3",
        "postgresql:///app?host=db.example",
    ],
)
def test_a_conninfo_naming_another_host_is_not_local(conninfo: str) -> None:
    assert not is_local(pg(conninfo=conninfo), {})
    assert not is_local(pg(dsn=conninfo), {})  # psycopg2's name for it


def test_a_conninfo_on_this_machine_is_local_and_host_overrides_it() -> None:
    assert is_local(pg(conninfo="host=127.0.0.1 port=5432 sslmode=disable"), {})
    assert is_local({**pg(conninfo="host=db.example"), "HOST": "localhost"}, {})
    assert not is_local({**pg(conninfo="hostaddr=10.1.2.3"), "HOST": "localhost"}, {})


def test_a_conninfo_libpq_cannot_read_is_not_local() -> None:
    reason = why(pg(conninfo="host"), {})
    assert reason is not None
    assert reason.startswith(
        "database 'default' is on a host migrail cannot tell from OPTIONS['conninfo'], "
        "which libpq cannot read"
    )


def test_an_option_migrail_does_not_understand_is_not_local() -> None:
    assert why(pg(target="db.example"), {}) == (
        "database 'default' is on a host migrail cannot tell from OPTIONS['target'], which "
        "migrail does not understand; migrail syncs local databases only "
        "(set `allow_remote_databases = true` in [tool.migrail] to allow it)"
    )
    understood = pg(
        sslmode="require", isolation_level=1, server_side_binding=True, options="-c x=1"
    )
    assert is_local(understood, {})


def services(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "pg_service.conf"
    path.write_text(text)
    return {"PGSERVICEFILE": str(path)}


def test_an_indented_host_in_a_service_file_counts(tmp_path: Path) -> None:
    env = services(tmp_path, "[app]\n  dbname=app\n  host=db.example\n")
    assert why(pg(service="app"), env) == (
        "database 'default' is on 'db.example' (from service 'app' in "
        f"{tmp_path / 'pg_service.conf'}), not this machine; migrail syncs local databases "
        "only (set `allow_remote_databases = true` in [tool.migrail] to allow it)"
    )


@pytest.mark.parametrize(
    ("text", "local"),
    [
        ("[app]\nhost=db.example\n[app]\nhost=localhost\n", False),  # the first section
        ("[app]\nhost=localhost\n[app]\nhost=db.example\n", True),
        ("[app]\nhost=db.example\nhost=localhost\n", False),  # the first value
        ("[app]\nhost=localhost\nhost=db.example\n", True),
        ("# a comment\n[other]\nhost=db.example\n[app]\ndbname=app\n", True),
        ("[app]\nhost = localhost\n", False),  # libpq rejects the line: cannot tell
        ("[app]\nhost=localhost\nservice=other\n", False),  # nested: rejected
        ('[app]\nhost="localhost"\n', False),  # libpq keeps the quotes: a host named so
    ],
)
def test_a_service_file_is_read_as_libpq_reads_it(tmp_path: Path, text: str, local: bool) -> None:
    assert is_local(pg(service="app"), services(tmp_path, text)) is local


def test_a_default_section_is_a_service_like_any_other(tmp_path: Path) -> None:
    env = services(tmp_path, "[DEFAULT]\nhost=localhost\n[app]\ndbname=app\n")
    assert not is_local(pg(service="app"), {**env, "PGHOST": "db.example"})
    assert is_local(pg(service="app"), env)


def test_service_values_fill_only_what_settings_leave_unset(tmp_path: Path) -> None:
    env = services(tmp_path, "[app]\nhost=db.example\nhostaddr=10.1.2.3\n")
    assert not is_local({**pg(service="app"), "HOST": "localhost"}, env)  # hostaddr
    env = services(tmp_path, "[app]\nhost=db.example\n")
    assert is_local({**pg(service="app"), "HOST": "localhost"}, env)


def test_the_service_is_looked_up_where_libpq_looks(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home/.pg_service.conf").write_text("[app]\nhost=db.example\n")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/pg_service.conf").write_text("[app]\nhost=localhost\n[sys]\nhost=db.example\n")
    env = {"HOME": str(tmp_path / "home"), "PGSYSCONFDIR": str(tmp_path / "etc")}
    assert not is_local(pg(service="app"), env)  # the user's file first
    assert not is_local(pg(service="sys"), env)  # then the system's
    assert not is_local(pg(), {**env, "PGSERVICE": "sys"})
    assert not is_local(pg(service="missing"), env)


def test_postgis_is_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = {**pg(), "ENGINE": POSTGIS, "HOST": "localhost"}
    engine = engine_named_in(settings)
    assert engine is not None
    assert engine.vendor == "postgresql"
    assert not is_local(settings, {"PGHOSTADDR": "10.1.2.3"})
    assert is_local(settings, {"PGHOSTADDR": "127.0.0.1"})


def test_a_name_the_programs_would_read_as_a_connection_string_is_not_local() -> None:
    assert not is_local({**pg(), "NAME": "host=db.example dbname=app"}, {})
    assert not is_local({**pg(), "NAME": "postgresql://db.example/app"}, {})


# -- MySQL and MariaDB ---------------------------------------------------------------


def option_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "my.cnf"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "text",
    [
        "[client-server]\nhost = db.example\n",
        "[client-mariadb]\nhost=db.example\n",
        "[client]\nuser = app\n  host = db.example\n",  # indented: still host
        "[client]\nloose-host = 'db.example'\n",
        "[CLIENT]\nhost=db.example # the shared server\n",
        "[mysqldump]\nhost=db.example\n",  # the backup's program reads it
        "[mariadb-client]\nhost=db.example\n",
        "[client]\nhost=localhost\n[client]\nhost=db.example\n",
        "[client]\nhost=db.example\nhost=localhost\n",  # each client takes one of them
        "[myapp]\nhost=db.example\n",  # read_default_group
    ],
)
def test_every_host_an_option_file_gives_a_client_counts(tmp_path: Path, text: str) -> None:
    path = option_file(tmp_path, text)
    assert not is_local(my(read_default_file=path, read_default_group="myapp"), {})


@pytest.mark.parametrize(
    "text",
    [
        "[client]\nhost=localhost\nsocket=/run/mysqld/mysqld.sock\n",
        "[mysqld]\nbind-address=0.0.0.0\nhost=db.example\n",  # the server's group
        "# [client]\n# host=db.example\n[client]\nuser=app\n",
        "[client]\nhost = 127.0.0.1  # the local server\n",
    ],
)
def test_option_files_on_this_machine_are_local(tmp_path: Path, text: str) -> None:
    assert is_local(my(read_default_file=option_file(tmp_path, text)), {})


def test_included_option_files_are_read(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d/remote.cnf").write_text("[client]\nhost=db.example\n")
    (tmp_path / "conf.d/ignored.txt").write_text("[client]\nhost=db.example\n")
    path = option_file(tmp_path, f"[client]\nuser=app\n!includedir {tmp_path / 'conf.d'}\n")
    reason = why(my(read_default_file=path), {})
    assert reason is not None
    assert f"is on 'db.example' (from {tmp_path / 'conf.d/remote.cnf'} [client])" in reason
    (tmp_path / "conf.d/remote.cnf").unlink()
    assert is_local(my(read_default_file=path), {})
    path = option_file(tmp_path, f"!include {tmp_path / 'gone.cnf'}\n")
    assert not is_local(my(read_default_file=path), {})


def test_a_group_alone_reads_the_default_files(tmp_path: Path) -> None:
    (tmp_path / ".my.cnf").write_text("[client]\nhost=db.example\n")
    env = {"HOME": str(tmp_path)}
    assert not is_local(my(read_default_group="myapp"), env)
    assert is_local(my(), env)  # without either, neither the driver nor the programs read it


def test_host_and_options_host_win_over_option_files(tmp_path: Path) -> None:
    path = option_file(tmp_path, "[client]\nhost=db.example\n")
    assert is_local({**my(read_default_file=path), "HOST": "127.0.0.1"}, {})
    assert is_local(my(read_default_file=path, host="localhost"), {})
    assert not is_local({**my(host="db.example"), "HOST": "127.0.0.1"}, {})


def test_mysql_host_in_the_environment_is_ignored_as_the_drivers_ignore_it() -> None:
    assert is_local(my(), {"MYSQL_HOST": "db.example"})


def test_a_mysql_option_migrail_does_not_understand_is_not_local() -> None:
    assert not is_local(my(named_host="db.example"), {})
    assert is_local(my(charset="utf8mb4", init_command="SET x=1", ssl={"ca": "/ca.pem"}), {})


def test_geodjango_mysql_is_mysql(tmp_path: Path) -> None:
    path = option_file(tmp_path, "[client-server]\nhost=db.example\n")
    assert not is_local({**my(read_default_file=path), "ENGINE": GIS_MYSQL}, {})


# -- any backend -----------------------------------------------------------------------


def test_a_backend_is_known_by_what_it_is_not_by_its_name() -> None:
    postgis = engine_named_in({"ENGINE": POSTGIS})
    assert postgis is not None
    assert postgis.vendor == "postgresql"
    spatialite = engine_named_in({"ENGINE": "django.contrib.gis.db.backends.spatialite"})
    assert spatialite is not None
    assert spatialite.stores_in_file
    assert engine_named_in({"ENGINE": "myproject.backends.not_postgresql"}) is None


def test_an_unknown_backend_with_options_is_not_local() -> None:
    settings = {"ENGINE": "vendor.backend", "HOST": "localhost", "OPTIONS": {"server": "x"}}
    assert [d.host for d in destinations(settings, {})] == [None]
    assert is_local({**settings, "OPTIONS": {}}, {})


@pytest.mark.parametrize("group", ["mysqld", "mysqld-10.11", "mariadb", "mariadb-11.4", "server"])
def test_the_servers_groups_are_not_read(tmp_path: Path, group: str) -> None:
    path = option_file(tmp_path, f"[{group}]\nhost=db.example\n")
    assert is_local(my(read_default_file=path), {})


# -- the client programs get what the driver gets ----------------------------------------


def test_pg_programs_get_a_conninfos_parameters_and_the_password_apart() -> None:
    from migrail.engines import engine_for

    settings = {
        **pg(conninfo="host=127.0.0.1 port=5433 password=s3cret application_name=x"),
        "NAME": "shop",
        "USER": "app",
    }
    command, env = engine_for("postgresql").client_command("pg_dump", settings, ["-Fc"])
    assert command == [
        *["pg_dump", "-U", "app", "-d"],
        "dbname='shop' host='127.0.0.1' port='5433' application_name='x'",
        "-Fc",
    ]
    assert env == {"PGPASSWORD": "s3cret"}
    command, _ = engine_for("postgresql").client_command(
        "psql", {**settings, "OPTIONS": {"hostaddr": "127.0.0.1"}}, database="postgres"
    )
    assert command == ["psql", "-U", "app", "-d", "dbname='postgres' hostaddr='127.0.0.1'"]


def test_pg_programs_keep_the_database_asked_for_over_a_conninfos() -> None:
    from migrail.engines import engine_for

    settings = {**pg(conninfo="dbname=other sslmode=require"), "NAME": "shop"}
    command, _ = engine_for("postgresql").client_command("pg_restore", settings, database="tmp")
    assert command == ["pg_restore", "-d", "dbname='tmp' sslmode='require'"]


def test_pg_programs_leave_out_what_is_no_libpq_parameter() -> None:
    """Reached only with `allow_remote_databases = true`: the backup still runs."""
    from migrail.engines import engine_for

    settings = {**pg(target="x", isolation_level=1), "NAME": "shop"}
    command, _ = engine_for("postgresql").client_command("psql", settings)
    assert command == ["psql", "-d", "shop"]
