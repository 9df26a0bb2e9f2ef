"""Where libpq connects, worked out as libpq does it (`conninfo_add_defaults`): the
parameters the driver passes (Django's settings, `OPTIONS`, a `conninfo`/`dsn` string read
by libpq's own parser), then the service file's, then the environment's, each filling only
what is still unset; a service file read line by line as libpq reads it.

Pure: settings and an environment in, parameters out. `Unresolvable` says why migrail
cannot tell (a service it cannot find, a file libpq would reject, an option it does not
understand), which the safety rule counts as not local.
"""

from __future__ import annotations

import getpass
import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrail.errors import MigrailError

KEYWORDS = frozenset(
    {
        "application_name", "channel_binding", "client_encoding", "connect_timeout", "dbname",
        "fallback_application_name", "gssdelegation", "gssencmode", "gsslib", "host",
        "hostaddr", "keepalives", "keepalives_count", "keepalives_idle", "keepalives_interval",
        "krbsrvname", "load_balance_hosts", "max_protocol_version", "min_protocol_version",
        "oauth_client_id", "oauth_client_secret", "oauth_issuer", "oauth_scope", "options",
        "passfile", "password", "port", "replication", "require_auth", "requirepeer",
        "requiressl", "scram_client_key", "scram_server_key", "service", "servicefile",
        "ssl_max_protocol_version", "ssl_min_protocol_version", "sslcert", "sslcertmode",
        "sslcompression", "sslcrl", "sslcrldir", "sslkey", "sslkeylogfile", "sslmode",
        "sslnegotiation", "sslpassword", "sslrootcert", "sslsni", "target_session_attrs",
        "tcp_user_timeout", "user",
    }
)  # fmt: skip
# OPTIONS that Django or the driver consume before libpq sees the rest.
NOT_FOR_LIBPQ = frozenset(
    {
        "isolation_level", "server_side_binding", "assume_role", "pool", "cursor_factory",
        "prepare_threshold", "context", "autocommit", "row_factory", "connection_factory",
        "async", "async_",
    }
)  # fmt: skip
CONNECTION_STRINGS = ("conninfo", "dsn")  # the driver's positional connection string
# The environment variables libpq reads for what says where and which database.
ENVIRONMENT = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
}

PARSERS = (("psycopg.conninfo", "conninfo_to_dict"), ("psycopg2.extensions", "parse_dsn"))
Parser = Callable[[str], Mapping[str, Any]]


class Unresolvable(MigrailError):
    """migrail cannot tell where libpq would connect; `str()` names what it could not read."""


@dataclass
class Parameters:
    """libpq's parameters, each with where it came from (`OPTIONS['host']`, `PGHOST`)."""

    values: dict[str, str] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)

    def fill(self, key: str, value: Any, origin: str) -> None:
        """Set `key` unless it is set already (an empty value counts as unset)."""
        if value in (None, "") or self.values.get(key):
            return
        self.values[key] = str(value)
        self.origins[key] = origin

    def get(self, key: str) -> str:
        return self.values.get(key, "")


def driver_parameters(settings: Mapping[str, Any], *, strict: bool = True) -> Parameters:
    """What Django's backend hands the driver, and the driver to libpq: HOST, PORT, USER,
    PASSWORD over OPTIONS, OPTIONS over NAME, all of them over the connection string. An
    OPTIONS key that is no libpq parameter is `Unresolvable` (`strict`) or left out."""
    options = dict(settings.get("OPTIONS") or {})
    given = Parameters()
    for key, origin in (("HOST", "host"), ("PORT", "port"), ("USER", "user")):
        given.fill(origin, settings.get(key), key)
    given.fill("password", settings.get("PASSWORD"), "PASSWORD")
    if settings.get("NAME") is None and "NAME" in settings:
        options.pop("service", None)  # Django connects to 'postgres', without the service
        given.fill("dbname", "postgres", "NAME")
    for key, value in options.items():
        if key in CONNECTION_STRINGS or key in NOT_FOR_LIBPQ:
            continue
        if key not in KEYWORDS and strict:
            raise Unresolvable(f"OPTIONS[{key!r}], which migrail does not understand")
        if key not in KEYWORDS:
            continue
        given.fill(key, value, f"OPTIONS[{key!r}]")
    given.fill("dbname", settings.get("NAME"), "NAME")
    for key in CONNECTION_STRINGS:
        if options.get(key):
            for name, value in parse_conninfo(str(options[key]), f"OPTIONS[{key!r}]").items():
                given.fill(name, value, f"OPTIONS[{key!r}]")
    return given


def parse_conninfo(text: str, origin: str) -> dict[str, str]:
    """A `key=value` or `postgresql://` string, read by libpq's own parser (the driver's)."""
    parse = _driver_parser()
    if parse is None:
        raise Unresolvable(f"{origin}, with no PostgreSQL driver to read it")
    try:
        parsed = parse(text)
    except Exception as err:
        raise Unresolvable(f"{origin}, which libpq cannot read ({err})") from None
    return {str(key): str(value) for key, value in parsed.items() if value is not None}


def _driver_parser() -> Parser | None:
    """libpq's `PQconninfoParse` as psycopg (`conninfo_to_dict`) or psycopg2 (`parse_dsn`)
    expose it."""
    for module, name in (
        ("psycopg.conninfo", "conninfo_to_dict"),
        ("psycopg2.extensions", "parse_dsn"),
    ):
        try:
            parser: Callable[[str], Mapping[str, Any]] = getattr(
                importlib.import_module(module), name
            )
        except ImportError:
            continue
        return parser
    return None


def resolve(settings: Mapping[str, Any], env: Mapping[str, str]) -> Parameters:
    """Every parameter libpq will use: the driver's, then the service's, then the
    environment's. `Unresolvable` when migrail cannot tell."""
    params = driver_parameters(settings)
    service = params.get("service") or env.get("PGSERVICE", "")
    if service:
        origin = params.origins.get("service", "PGSERVICE")
        found = find_service(service, params.get("servicefile"), env)
        if found is None:
            raise Unresolvable(f"{origin} {service!r}, found in no service file")
        path, values = found
        for key, value in values.items():
            params.fill(key, value, f"service {service!r} in {path}")
    for key, variable in ENVIRONMENT.items():
        params.fill(key, env.get(variable), variable)
    return params


def database_name(params: Parameters, env: Mapping[str, str]) -> str:
    """The database libpq names when none is given: the user's, the login's by default."""
    return params.get("dbname") or params.get("user") or env.get("USER") or _login()


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no passwd entry
        return ""


def service_files(servicefile: str, env: Mapping[str, str]) -> list[Path]:
    """Where libpq looks for a service, in its order: the user's file, then the system's."""
    if servicefile or env.get("PGSERVICEFILE"):
        files = [Path(servicefile or env["PGSERVICEFILE"])]
    else:
        home = env.get("HOME") or os.path.expanduser("~")
        files = [Path(home) / ".pg_service.conf"]
    if env.get("PGSYSCONFDIR"):
        files.append(Path(env["PGSYSCONFDIR"]) / "pg_service.conf")
    return files


def find_service(
    name: str, servicefile: str, env: Mapping[str, str]
) -> tuple[Path, dict[str, str]] | None:
    """The service's parameters from the first file that has it, as libpq finds them."""
    for path in service_files(servicefile, env):
        try:
            text = path.read_text(errors="replace")
        except FileNotFoundError:
            continue
        except OSError as err:
            raise Unresolvable(
                f"service file {path}, which cannot be read ({err.strerror or err})"
            ) from None
        values = read_service(text, name, path)
        if values is not None:
            return path, values
    return None


def read_service(text: str, name: str, path: Path) -> dict[str, str] | None:
    """One service of a service file, read as libpq's `parseServiceFile` reads it: blanks
    around a line dropped, `#` comments, the first section of that name only (and the first
    value of each key in it), `key=value` taken literally; a line libpq rejects is
    `Unresolvable`. None when the file has no such section."""
    values: dict[str, str] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            if values is not None:
                break  # the first section of that name is the one
            if line[1 : len(name) + 2] == f"{name}]":
                values = {}
            continue
        if values is None:
            continue
        key, equals, value = line.partition("=")
        if not equals or key not in KEYWORDS or key in ("service", "servicefile"):
            raise Unresolvable(f"service file {path}, line {number}, which libpq rejects")
        values.setdefault(key, value)
    return values
