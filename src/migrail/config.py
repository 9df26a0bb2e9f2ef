"""`[tool.migrail]` in the repository's `pyproject.toml`."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrail.errors import MigrailError


@dataclass(frozen=True)
class Config:
    settings: str | None = None
    project_dir: str = "."
    databases: tuple[str, ...] = ()
    include_apps: tuple[str, ...] = ()
    exclude_apps: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    swappable: dict[str, str] = field(default_factory=lambda: {"AUTH_USER_MODEL": "auth.User"})
    backups_kept: int = 5
    allow_remote_databases: bool = False
    allow_debug_false: bool = False
    sync_in_ci: bool = False
    snapshots: bool = False
    snapshots_kept: int = 10

    def wants_app(self, label: str) -> bool:
        if self.include_apps and label not in self.include_apps:
            return False
        return label not in self.exclude_apps


_TYPES: dict[str, type] = {
    "settings": str,
    "project_dir": str,
    "databases": list,
    "include_apps": list,
    "exclude_apps": list,
    "labels": dict,
    "swappable": dict,
    "backups_kept": int,
    "allow_remote_databases": bool,
    "allow_debug_false": bool,
    "sync_in_ci": bool,
    "snapshots": bool,
    "snapshots_kept": int,
}


def load_config(root: Path) -> Config:
    path = root / "pyproject.toml"
    if not path.is_file():
        return Config()
    text = path.read_bytes().decode("utf-8", errors="replace")
    if "tool.migrail" not in text:
        return Config()  # the TOML parser costs more than the rest of a warm check
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise MigrailError(f"{path}: cannot read [tool.migrail]: {err}") from err
    table: dict[str, Any] = data.get("tool", {}).get("migrail", {})
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        expected = _TYPES.get(name)
        if expected is None:
            raise MigrailError(f"{path}: unknown key {key!r} in [tool.migrail]")
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise MigrailError(f"{path}: [tool.migrail] {key} must be a {expected.__name__}")
        values[name] = tuple(value) if isinstance(value, list) else value
    if "swappable" in values:
        values["swappable"] = {"AUTH_USER_MODEL": "auth.User", **values["swappable"]}
    return Config(**values)
