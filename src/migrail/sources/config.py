"""Configuration: `[tool.migrail]` in `pyproject.toml`, overridden per clone by
`git config migrail.<key>`.

Git config keys are case-insensitive (git lowercases them), so `migrail.allowDebugFalse`
and `migrail.allow_debug_false` name the same key. One `git config --get-regexp` call
reads them all.
"""

from __future__ import annotations

import subprocess
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
    snapshot_terminate_sessions: bool = False
    snapshot_prefix: str = ""  # before every database name migrail makes (snapshots, worktrees)
    worktree_databases: bool = False
    # The keys set in pyproject.toml or git config, sorted: the repr is part of the check's
    # cached-result fingerprint, which a set's order (by string hash) would change every run.
    chosen: tuple[str, ...] = ()

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
    "snapshot_terminate_sessions": bool,
    "snapshot_prefix": str,
    "worktree_databases": bool,
}


def load_config(root: Path, git_root: Path | None = None) -> Config:
    """`root`'s pyproject.toml, then the git config of `git_root` (default: `root`) on top."""
    values = {**_pyproject_values(root), **_git_config_values(git_root or root)}
    if "snapshot_prefix" in values:  # it starts database and file names: [A-Za-z0-9_] only
        from migrail.worktree_names import safe_prefix

        values["snapshot_prefix"] = safe_prefix(values["snapshot_prefix"])
    if "swappable" in values:
        values["swappable"] = {"AUTH_USER_MODEL": "auth.User", **values["swappable"]}
    return Config(**values, chosen=tuple(sorted(values)))


def _pyproject_values(root: Path) -> dict[str, Any]:
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    text = path.read_bytes().decode("utf-8", errors="replace")
    if "tool.migrail" not in text:
        return {}  # the TOML parser costs more than the rest of a warm check
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
    return values


_GIT_NAMES = {name.replace("_", ""): name for name in _TYPES}
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0", ""}


def _git_config_values(root: Path) -> dict[str, Any]:
    """`git config migrail.<key>` values, the last one of a key winning as git's own rule has it."""
    try:
        proc = subprocess.run(
            ["git", "config", "--null", "--get-regexp", r"^migrail\."],
            cwd=root,
            capture_output=True,
            check=False,
        )
    except OSError:
        return {}
    values: dict[str, Any] = {}
    for record in proc.stdout.decode("utf-8", errors="replace").split("\0"):
        if not record:
            continue
        key, _, raw = record.partition("\n")
        variable = key.split(".", 1)[1]
        name = _GIT_NAMES.get(variable.replace("_", "").replace("-", "").lower())
        expected = _TYPES.get(name or "")
        where = f"git config {key}"
        if name is None or expected is None:
            raise MigrailError(f"{where}: unknown migrail key")
        if expected is dict:
            raise MigrailError(f"{where}: {name} is a table; set it in [tool.migrail]")
        values[name] = _git_value(where, raw.strip(), expected)
    return values


def _git_value(where: str, raw: str, expected: type) -> Any:
    if expected is bool:
        if raw.lower() not in _TRUE | _FALSE:
            raise MigrailError(f"{where}: expected true or false, not {raw!r}")
        return raw.lower() in _TRUE
    if expected is int:
        try:
            return int(raw)
        except ValueError:
            raise MigrailError(f"{where}: expected a whole number, not {raw!r}") from None
    if expected is list:
        return tuple(item for item in raw.replace(",", " ").split() if item)
    return raw
