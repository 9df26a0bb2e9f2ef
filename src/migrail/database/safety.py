"""Which databases migrail may touch: decided from settings and environment, before connecting.

The host is the one the driver will really use, not only `HOST`: libpq reads
`OPTIONS`, `PGHOST`/`PGHOSTADDR` and service files; the MySQL drivers read
`OPTIONS` (which override `HOST`), option files and `MYSQL_HOST`. When migrail
cannot tell where a connection would go, the database counts as not local.
"""

from __future__ import annotations

import configparser
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrail.errors import EXIT_FINDINGS, MigrailError

LOCAL_HOSTS = frozenset({"", "localhost", "localhost.localdomain"})


@dataclass(frozen=True)
class Destination:
    """Where the driver would connect: a host (or None when unknown) and where that came from."""

    host: str | None
    origin: str

    @property
    def is_local(self) -> bool:
        return self.host is not None and all(
            _is_local_host(part.strip()) for part in self.host.split(",")
        )


class UnsafeDatabase(MigrailError):
    """Refused before connecting: not local, or production settings. Nothing was changed."""

    exit_status = EXIT_FINDINGS


def destinations(
    settings_dict: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> list[Destination]:
    """Every place the driver could connect to; SQLite files have none."""
    env = os.environ if environ is None else environ
    engine = str(settings_dict.get("ENGINE", ""))
    options: Mapping[str, Any] = settings_dict.get("OPTIONS") or {}
    if "sqlite" in engine:
        return []
    if "postgresql" in engine:
        return _postgresql(settings_dict, options, env)
    if "mysql" in engine:
        return _mysql(settings_dict, options, env)
    host = str(settings_dict.get("HOST") or "")
    return [Destination(host if host else None, "HOST")]


def is_local(settings_dict: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> bool:
    """SQLite files, loopback addresses, `localhost` and Unix sockets count as local."""
    return all(d.is_local for d in destinations(settings_dict, environ))


def refusal(
    alias: str,
    settings_dict: Mapping[str, Any],
    *,
    debug: bool,
    allow_remote: bool,
    allow_debug_false: bool,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """Why migrail must not touch this database, or None."""
    if not allow_remote:
        for place in destinations(settings_dict, environ):
            if place.is_local:
                continue
            if place.host is None:
                where = f"is on a host migrail cannot tell from {place.origin}"
            else:
                via = "" if place.origin == "HOST" else f" (from {place.origin})"
                where = f"is on {place.host!r}{via}, not this machine"
            return (
                f"database {alias!r} {where}; migrail syncs local databases only "
                "(set `allow_remote_databases = true` in [tool.migrail] to allow it)"
            )
    if not debug and not allow_debug_false:
        return (
            "settings have DEBUG = False, which looks like production; migrail refuses "
            "(set `allow_debug_false = true` in [tool.migrail] to allow it)"
        )
    return None


def _is_local_host(host: str) -> bool:
    if host in LOCAL_HOSTS or host.startswith(("/", "@")):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _postgresql(
    settings_dict: Mapping[str, Any], options: Mapping[str, Any], env: Mapping[str, str]
) -> list[Destination]:
    """libpq: explicit parameters, then the service file's, then the environment's."""
    service: Mapping[str, str] = {}
    service_name = options.get("service") or env.get("PGSERVICE")
    if service_name:
        found = _pg_service(str(service_name), env)
        if found is None:
            origin = "service" if options.get("service") else "PGSERVICE"
            return [Destination(None, f"{origin} {service_name!r}")]
        service = found
    places = []
    if settings_dict.get("HOST"):
        places.append(Destination(str(settings_dict["HOST"]), "HOST"))
    elif options.get("host"):
        places.append(Destination(str(options["host"]), "OPTIONS['host']"))
    elif service.get("host"):
        places.append(Destination(service["host"], f"service {service_name!r}"))
    else:
        places.append(Destination(env.get("PGHOST", ""), "PGHOST"))
    if options.get("hostaddr"):
        places.append(Destination(str(options["hostaddr"]), "OPTIONS['hostaddr']"))
    elif service.get("hostaddr"):
        places.append(Destination(service["hostaddr"], f"service {service_name!r}"))
    elif env.get("PGHOSTADDR"):
        places.append(Destination(env["PGHOSTADDR"], "PGHOSTADDR"))
    return places


def _pg_service(name: str, env: Mapping[str, str]) -> dict[str, str] | None:
    """The named section of the first service file that has it, as libpq looks them up."""
    files = []
    if env.get("PGSERVICEFILE"):
        files.append(Path(env["PGSERVICEFILE"]))
    else:
        files.append(Path(env.get("HOME", "~")).expanduser() / ".pg_service.conf")
    if env.get("PGSYSCONFDIR"):
        files.append(Path(env["PGSYSCONFDIR"]) / "pg_service.conf")
    for path in files:
        section = _ini_section(path, name)
        if section is not None:
            return section
    return None


def _mysql(
    settings_dict: Mapping[str, Any], options: Mapping[str, Any], env: Mapping[str, str]
) -> list[Destination]:
    """Django passes OPTIONS after HOST, so OPTIONS win; option files fill in what is unset."""
    if options.get("host"):
        return [Destination(str(options["host"]), "OPTIONS['host']")]
    if settings_dict.get("HOST"):
        return [Destination(str(settings_dict["HOST"]), "HOST")]
    if options.get("unix_socket"):
        return [Destination(str(options["unix_socket"]), "OPTIONS['unix_socket']")]
    default_file = options.get("read_default_file")
    if default_file:
        path = Path(str(default_file)).expanduser()
        if not path.is_file():
            return [Destination(None, f"OPTIONS['read_default_file'] {str(path)!r}")]
        group = str(options.get("read_default_group") or "client")
        merged: dict[str, str] = {}
        for section in ("client", group):
            merged.update(_ini_section(path, section) or {})
        if "!include" in path.read_text(errors="replace"):
            return [Destination(None, f"OPTIONS['read_default_file'] {str(path)!r}")]
        for key in ("host", "socket"):
            if merged.get(key):
                return [Destination(merged[key], f"{path}")]
    return [Destination(env.get("MYSQL_HOST", ""), "MYSQL_HOST")]


def _ini_section(path: Path, name: str) -> dict[str, str] | None:
    parser = configparser.ConfigParser(allow_no_value=True, strict=False, interpolation=None)
    try:
        parser.read_string(path.read_text(errors="replace"))
    except (OSError, configparser.Error):
        return None
    if not parser.has_section(name):
        return None
    return {key: (value or "").strip().strip("\"'") for key, value in parser.items(name)}
