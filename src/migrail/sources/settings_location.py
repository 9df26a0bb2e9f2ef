"""Which settings module the project uses, found as django-admin finds it (no Django import)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from migrail.errors import MigrailError
from migrail.sources.config import Config

SETTINGS_IN_MANAGE_PY = re.compile(r"""DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']""")


HOW_TO_NAME_SETTINGS = (
    "pass --settings MODULE, export DJANGO_SETTINGS_MODULE, "
    "or run `git config migrail.settings MODULE`"
)


def settings_module(root: Path, config: Config) -> tuple[str, Path]:
    """(settings module, project directory put on sys.path), as django-admin resolves them.

    `--settings` (the command line puts it in the environment, as django-admin does),
    then `DJANGO_SETTINGS_MODULE`, then `settings` in the configuration, then the
    default `manage.py` sets. No `manage.py` is needed when one of the others names it.
    """
    project_dir = (root / config.project_dir).resolve()
    from_environment = os.environ.get("DJANGO_SETTINGS_MODULE")
    if from_environment:
        return from_environment, project_dir
    if config.settings:
        return config.settings, project_dir
    manage = project_dir / "manage.py"
    if not manage.is_file():
        raise MigrailError(
            f"no manage.py in {project_dir} to name the settings: {HOW_TO_NAME_SETTINGS}"
        )
    match = SETTINGS_IN_MANAGE_PY.search(manage.read_text(errors="replace"))
    if match is None:
        raise MigrailError(f"{manage}: sets no DJANGO_SETTINGS_MODULE: {HOW_TO_NAME_SETTINGS}")
    return match.group(1), project_dir
