"""What the last switch that started Django found: the settings' inputs and the SQLite
databases they named (one record per work tree, under the snapshot catalogue), and the
key a snapshot is exact under (`settings_key`). Read without Django by `return_trip`."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from migrail.errors import MigrailError
from migrail.snapshots import SNAPSHOTS_DIRECTORY
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sources.settings_location import settings_module
from migrail.sync.private_files import private_directory, write_private_json
from migrail.sync.settings_inputs import SettingsInputs, fingerprint, last_recorded

SETTINGS_SEEN = "settings"  # in the catalogue: what a switch with Django found, per work tree


def settings_path(repo: GitRepo) -> Path:
    worktree = hashlib.sha256(str(repo.root).encode()).hexdigest()[:16]
    return repo.migrail_dir / SNAPSHOTS_DIRECTORY / SETTINGS_SEEN / f"{worktree}.json"


def inputs_fingerprint(
    repo: GitRepo, config: Config, inputs: SettingsInputs, environment: Mapping[str, str]
) -> str | None:
    try:
        module, project = settings_module(repo.root, config)
    except MigrailError:
        return None
    return fingerprint(inputs, environment, project, (module, repr(config)))


def _key_inputs(repo: GitRepo) -> SettingsInputs | None:
    """With Django set up: what the settings import read, and the migration directories of
    the installed apps outside the work tree (a package upgrade adds migrations there; inside,
    git says what changed). None when the settings' inputs cannot be told."""
    import importlib.util

    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader

    inputs = last_recorded()
    if inputs is None:
        return None
    root = repo.root.resolve()
    outside = set()
    for app in apps.get_app_configs():
        module, _ = MigrationLoader.migrations_module(app.label)
        try:
            spec = importlib.util.find_spec(module) if module else None
        except (ImportError, ValueError):
            continue
        for location in (spec.submodule_search_locations or []) if spec else []:
            if not Path(location).resolve().is_relative_to(root):
                outside.add(str(Path(location).absolute()))
    return SettingsInputs(
        inputs.files, inputs.listed | outside, inputs.globbed, None, inputs.environment
    )


def settings_key(repo: GitRepo, config: Config) -> str | None:
    """With Django set up: the fingerprint of the settings and of the installed apps'
    migrations outside the work tree, as this process found them (None: not to be told).
    A snapshot holding exactly its commit's migrations is so under this key only."""
    inputs = _key_inputs(repo)
    if inputs is None:
        return None
    return inputs_fingerprint(repo, config, inputs, inputs.environment)


def remember_settings(repo: GitRepo, config: Config, aliases: list[str]) -> None:
    """After a switch that started Django: what its settings import read and the databases
    it named, for the next switch's `return_trip`. Forgotten when it cannot be told."""
    from django.conf import settings
    from django.db import connections

    from migrail.sync.identity import identity_of

    path = settings_path(repo)
    inputs = _key_inputs(repo)
    key = (
        inputs_fingerprint(repo, config, inputs, inputs.environment) if inputs is not None else None
    )
    vendors = {alias: connections[alias].vendor for alias in aliases}
    if inputs is None or key is None or set(vendors.values()) != {"sqlite"}:
        path.unlink(missing_ok=True)
        return
    databases = [
        {
            "alias": alias,
            "identity": identity_of(alias, "sqlite", settings.DATABASES[alias]).as_json(),
            "live": str(settings.DATABASES[alias]["NAME"]),
        }
        for alias in aliases
    ]
    private_directory(path.parent)
    record = {"fingerprint": key, "inputs": inputs.as_json(), "databases": databases}
    write_private_json(path, record)
