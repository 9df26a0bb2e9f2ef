"""Which database a backup or journal belongs to: engine, name or path, host, port, alias.

Two settings name the same database when engine, name, host and port agree; the
alias is recorded for the listing but a database keeps its identity under any alias.
Every local spelling of the host (`127.0.0.1`, `localhost`, a socket) is one identity,
but messages show the host as the settings spell it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from migrail.engines import find_engine, rules_for
from migrail.sync.safety import destinations


@dataclass(frozen=True)
class DatabaseIdentity:
    vendor: str
    name: str
    host: str
    port: str
    alias: str
    settings_host: str = field(default="", compare=False)  # as the settings spell it

    def same_database(self, other: DatabaseIdentity) -> bool:
        return (self.vendor, self.name, self.host, self.port) == (
            other.vendor,
            other.name,
            other.host,
            other.port,
        )

    @property
    def key(self) -> str:
        """A short name for the database in file names (its snapshots, journals): the same
        under any alias and for every local spelling of the host."""
        where = [self.vendor, self.host or "localhost", self.port, self.name]
        return hashlib.sha256(json.dumps(where).encode()).hexdigest()[:16]

    def labelled(self) -> str:
        """`'default' (postgresql 'app' on 127.0.0.1:5432)`."""
        return f"{self.alias!r} ({self.describe()})"

    def describe(self) -> str:
        """`sqlite /path/db.sqlite3`, `postgresql 'app' on 127.0.0.1:5432`: the settings' host."""
        if _in_file(self.vendor):
            return f"{self.vendor} {self.name}"
        host = self.settings_host or self.host
        if host.startswith(("/", "@")):
            return f"{self.vendor} {self.name!r} on socket {host}"
        return f"{self.vendor} {self.name!r} on {host}" + (f":{self.port}" if self.port else "")

    def as_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DatabaseIdentity:
        keys = ("vendor", "name", "host", "port", "alias", "settings_host")
        return cls(*(str(data.get(key, "")) for key in keys))


def identity_of(alias: str, vendor: str, settings_dict: Mapping[str, Any]) -> DatabaseIdentity:
    """The database the driver connects to: for a server, the name it resolves (a libpq
    service's `dbname` when NAME is empty), as the driver resolves it."""
    name = str(settings_dict.get("NAME") or "")
    if _in_file(vendor):
        return DatabaseIdentity(vendor, str(Path(name).resolve()), "", "", alias)
    name = rules_for(vendor).database_name(settings_dict, os.environ)
    places = destinations(settings_dict)
    spelled = places[0].host if places and places[0].host else ""
    host = spelled
    if not host or host.startswith(("/", "@")) or places[0].is_local:
        host = "localhost"  # every local spelling names this machine's server
    port = str(settings_dict.get("PORT") or "") or rules_for(vendor).default_port
    return DatabaseIdentity(vendor, name, host, port, alias, spelled)


def _in_file(vendor: str) -> bool:
    engine = find_engine(vendor)
    return engine is not None and engine.stores_in_file
