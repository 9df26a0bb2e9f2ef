"""Engine rules in one place, one module per engine, as Django's `db/backends/<engine>/`.

`engine_for(vendor)` picks by Django's `connection.vendor` ("sqlite", "postgresql",
"mysql" — MariaDB included); `engine_named_in(settings_dict)` by the ENGINE path, for
what is decided before Django opens a connection.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from migrail.engines.base import Engine, UnknownEngine
from migrail.engines.mysql import MysqlEngine
from migrail.engines.postgresql import PostgresqlEngine
from migrail.engines.sqlite import SqliteEngine

ENGINES: tuple[Engine, ...] = (SqliteEngine(), PostgresqlEngine(), MysqlEngine())
GENERIC = Engine()  # the rules for a backend migrail does not know
_BY_VENDOR = {engine.vendor: engine for engine in ENGINES}
DJANGO_BACKENDS = {
    "django.db.backends.sqlite3": "sqlite",
    "django.db.backends.postgresql": "postgresql",
    "django.db.backends.mysql": "mysql",
    "django.db.backends.oracle": "oracle",
    "django.contrib.gis.db.backends.spatialite": "sqlite",
    "django.contrib.gis.db.backends.postgis": "postgresql",
    "django.contrib.gis.db.backends.mysql": "mysql",
    "django.contrib.gis.db.backends.oracle": "oracle",
    "django.db.backends.dummy": "",
}


def engine_for(vendor: str) -> Engine:
    """The engine for Django's `connection.vendor`; `UnknownEngine` (a MigrailError) else."""
    try:
        return _BY_VENDOR[vendor]
    except KeyError:
        raise UnknownEngine(vendor) from None


def find_engine(vendor: str) -> Engine | None:
    """The engine for `vendor`, or None for a backend migrail does not know."""
    return _BY_VENDOR.get(vendor)


def rules_for(vendor: str) -> Engine:
    """The engine for `vendor`; for a backend migrail does not know, the base `Engine`: no
    server lock, no bounded lock wait, a plain row probe, constraint checks left alone."""
    return _BY_VENDOR.get(vendor, GENERIC)


def engine_of(connection: Any) -> Engine:
    return engine_for(connection.vendor)


def engine_named_in(settings_dict: Mapping[str, Any]) -> Engine | None:
    """The engine of the backend the settings' ENGINE names (PostGIS is PostgreSQL,
    SpatiaLite SQLite): the `vendor` of its `DatabaseWrapper`, as Django's connection has
    it; None for a backend migrail does not know, or cannot load."""
    return find_engine(backend_vendor(str(settings_dict.get("ENGINE") or "")) or "")


def backend_vendor(path: str) -> str | None:
    """`DatabaseWrapper.vendor` of the backend at `path`; Django's own without importing
    them (GeoDjango's need GDAL), any other's by importing its `base` module."""
    if path in DJANGO_BACKENDS:
        return DJANGO_BACKENDS[path]
    if not path:
        return None
    try:
        wrapper = importlib.import_module(f"{path}.base").DatabaseWrapper
    except Exception:  # a backend that cannot load: Django cannot connect with it either
        return None
    vendor = getattr(wrapper, "vendor", None)
    return vendor if isinstance(vendor, str) else None


def stores_in_file(settings_dict: Mapping[str, Any]) -> bool:
    """Whether the settings name a database kept in a file on this machine (SQLite)."""
    engine = engine_named_in(settings_dict)
    return engine is not None and engine.stores_in_file


def is_lock_timeout(err: BaseException | None) -> bool:
    """Whether `err`, or an error it came of, is a server giving up on another's lock."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if any(engine.is_lock_timeout_error(err) for engine in ENGINES):
            return True
        err = err.__cause__ or err.__context__
    return False


__all__ = [
    "ENGINES",
    "Engine",
    "UnknownEngine",
    "backend_vendor",
    "engine_for",
    "engine_named_in",
    "engine_of",
    "find_engine",
    "is_lock_timeout",
    "rules_for",
    "stores_in_file",
]
