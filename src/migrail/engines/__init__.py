"""Engine rules in one place, one module per engine, as Django's `db/backends/<engine>/`.

`engine_for(vendor)` picks by Django's `connection.vendor` ("sqlite", "postgresql",
"mysql" — MariaDB included); `engine_named_in(settings_dict)` by the ENGINE path, for
what is decided before Django opens a connection. An engine's module is imported when
it is first asked for: a switch on SQLite loads no server engine's rules.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from migrail.engines.base import Engine, UnknownEngine

GENERIC = Engine()  # the rules for a backend migrail does not know
_MODULES = {  # vendor: (module, class)
    "sqlite": ("migrail.engines.sqlite", "SqliteEngine"),
    "postgresql": ("migrail.engines.postgresql", "PostgresqlEngine"),
    "mysql": ("migrail.engines.mysql", "MysqlEngine"),
}
_LOADED: dict[str, Engine] = {}
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
    engine = find_engine(vendor)
    if engine is None:
        raise UnknownEngine(vendor)
    return engine


def find_engine(vendor: str) -> Engine | None:
    """The engine for `vendor`, or None for a backend migrail does not know."""
    engine = _LOADED.get(vendor)
    if engine is None and vendor in _MODULES:
        module, name = _MODULES[vendor]
        engine = _LOADED[vendor] = getattr(importlib.import_module(module), name)()
    return engine


def all_engines() -> list[Engine]:
    """Every engine migrail knows (each module imported)."""
    return [engine_for(vendor) for vendor in _MODULES]


def rules_for(vendor: str) -> Engine:
    """The engine for `vendor`; for a backend migrail does not know, the base `Engine`: no
    server lock, no bounded lock wait, a plain row probe, constraint checks left alone."""
    return find_engine(vendor) or GENERIC


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
        if any(engine.is_lock_timeout_error(err) for engine in all_engines()):
            return True
        err = err.__cause__ or err.__context__
    return False


__all__ = [
    "Engine",
    "UnknownEngine",
    "all_engines",
    "backend_vendor",
    "engine_for",
    "engine_named_in",
    "engine_of",
    "find_engine",
    "is_lock_timeout",
    "rules_for",
    "stores_in_file",
]
