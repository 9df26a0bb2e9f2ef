"""Put a verified backup back, loading it where a failure cannot hurt.

Each engine loads its own way (`Engine.load`). SQLite: the online backup API writes the
live file in one transaction. PostgreSQL: `pg_restore` into a scratch database, then both
renamed in one transaction. MySQL/MariaDB: the dump loaded into a scratch schema, then
every table moved in one `RENAME TABLE`. A load that fails drops the scratch copy and
leaves the database as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from migrail.engines import UnknownEngine, engine_for
from migrail.engines.base import DatabaseInUse
from migrail.errors import MigrailError
from migrail.sync.backup import Backup
from migrail.sync.identity import identity_of


def load_backup(backup: Backup, settings: Mapping[str, Any]) -> None:
    try:
        engine = engine_for(backup.vendor)
    except UnknownEngine as err:
        raise MigrailError(f"migrail cannot restore a {backup.vendor} backup") from err
    try:
        engine.load(backup, settings)
    except DatabaseInUse as err:
        live = identity_of(backup.database.alias, backup.vendor, settings).describe()
        raise MigrailError(
            f"cannot restore {backup.name}: {live} is in use by another session "
            "(a running server or shell?); stop it and try again; nothing was changed"
        ) from err.__cause__
