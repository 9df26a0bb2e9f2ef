"""Find the project's Django settings and set Django up in this process, as manage.py would."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from migrail.config import Config
from migrail.errors import MigrailError

SETTINGS_IN_MANAGE_PY = re.compile(r"""DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']""")


def settings_module(root: Path, config: Config) -> tuple[str, Path]:
    """(settings module, project directory holding manage.py)."""
    project_dir = (root / config.project_dir).resolve()
    if config.settings:
        return config.settings, project_dir
    manage = project_dir / "manage.py"
    if not manage.is_file():
        raise MigrailError(
            f"no manage.py in {project_dir}: set `settings` (and `project_dir`) in [tool.migrail]"
        )
    match = SETTINGS_IN_MANAGE_PY.search(manage.read_text(errors="replace"))
    if match is None:
        raise MigrailError(
            f"{manage}: cannot find DJANGO_SETTINGS_MODULE; set `settings` in [tool.migrail]"
        )
    return match.group(1), project_dir


def configure_settings(root: Path, config: Config) -> None:
    """Import the settings module only, not the apps: enough to open a database connection.

    Used where the apps may not import (mid-merge, with conflict markers in a models.py).
    """
    module, project_dir = settings_module(root, config)
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    os.environ["DJANGO_SETTINGS_MODULE"] = module
    try:
        from django.conf import settings

        settings.DATABASES  # noqa: B018 - touching a setting imports the module
    except Exception as err:
        raise MigrailError(f"cannot import the settings {module!r}: {err}") from err


def setup_django(root: Path, config: Config) -> None:
    """Set Django up as manage.py would, unless it already is (`manage.py migrail …`)."""
    from django.apps import apps

    if apps.ready:
        return
    module, project_dir = settings_module(root, config)
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    os.environ["DJANGO_SETTINGS_MODULE"] = module
    try:
        import django

        django.setup()
    except ImportError as err:
        raise MigrailError(
            f"cannot import the settings {module!r} or an installed app: {err}"
        ) from err
    except Exception as err:
        raise MigrailError(f"Django could not start with settings {module!r}: {err}") from err


def database_aliases(config: Config, database: str | None = None) -> list[str]:
    """The aliases to work on: the one asked for, else `databases` in [tool.migrail], else all."""
    from django.conf import settings

    aliases = [database] if database else list(config.databases) or list(settings.DATABASES)
    for alias in aliases:
        if alias not in settings.DATABASES:
            raise MigrailError(f"no database {alias!r} in settings.DATABASES")
    return aliases
