"""Which databases migrail may touch: decided from settings and environment, before connecting.

The host is the one the driver (and the engine's client programs, which take the backup)
will really use, not only `HOST`; each engine says where they go (`Engine.destinations`),
the engine told by the ENGINE's backend (PostGIS is PostgreSQL): libpq reads `OPTIONS`
(a `conninfo` string included), service files, `PGHOST`/`PGHOSTADDR`; the MySQL drivers
and programs read `OPTIONS` (which override `HOST`) and option files. When migrail cannot
tell where a connection would go (an option it does not understand, a file the client
would reject), the database counts as not local.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from migrail.engines import engine_named_in
from migrail.engines.base import Destination
from migrail.errors import EXIT_FINDINGS, MigrailError


class UnsafeDatabase(MigrailError):
    """Refused before connecting: not local, or production settings. Nothing was changed."""

    exit_status = EXIT_FINDINGS


def destinations(
    settings_dict: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> list[Destination]:
    """Every place the driver could connect to; SQLite files have none."""
    env = os.environ if environ is None else environ
    engine = engine_named_in(settings_dict)
    if engine is not None:
        return engine.destinations(settings_dict, env)
    host = str(settings_dict.get("HOST") or "")
    if settings_dict.get("OPTIONS"):  # which could name any host
        return [Destination(None, "OPTIONS of a backend migrail does not know")]
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
