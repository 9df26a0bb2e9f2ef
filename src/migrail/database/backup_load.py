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

from migrail.database.backup import Backup
from migrail.database.engines import UnknownEngine, engine_for
from migrail.errors import MigrailError


def load_backup(backup: Backup, settings: Mapping[str, Any]) -> None:
    try:
        engine = engine_for(backup.vendor)
    except UnknownEngine as err:
        raise MigrailError(f"migrail cannot restore a {backup.vendor} backup") from err
    engine.load(backup, settings)
