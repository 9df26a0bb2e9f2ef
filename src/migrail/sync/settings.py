"""Find the project's Django settings and set Django up in this process, as manage.py would."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Any

from migrail.engines import stores_in_file
from migrail.errors import MigrailError
from migrail.sources.config import Config
from migrail.sources.settings_location import settings_module
from migrail.sync.errors import syntax_error_text
from migrail.sync.settings_inputs import recording

_caller: dict[str, str | None] = {}


def caller_settings_module() -> str | None:
    """`DJANGO_SETTINGS_MODULE` as the caller set it, before migrail resolved its own."""
    return _caller.get("settings", os.environ.get("DJANGO_SETTINGS_MODULE"))


def project_directory() -> Path:
    """The project directory the settings were imported from (put on sys.path)."""
    return Path(_caller.get("project_dir") or Path.cwd())


def _use(root: Path, config: Config) -> str:
    _caller.setdefault("settings", os.environ.get("DJANGO_SETTINGS_MODULE"))
    module, project_dir = settings_module(root, config)
    _caller["project_dir"] = str(project_dir)
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    return module


def configure_settings(root: Path, config: Config) -> None:
    """Import the settings module only, not the apps: enough to open a database connection.

    Used where the apps may not import (mid-merge, with conflict markers in a models.py).
    """
    module = _use(root, config)
    os.environ["DJANGO_SETTINGS_MODULE"] = module
    try:
        from django.conf import settings

        anchor_sqlite_names(settings.DATABASES, project_directory())
    except SyntaxError as err:
        raise MigrailError(
            f"cannot import the settings {module!r}: {syntax_error_text(err)}"
        ) from err
    except Exception as err:
        raise MigrailError(f"cannot import the settings {module!r}: {err}") from err


def setup_django(root: Path, config: Config) -> None:
    """Set Django up as manage.py would, unless it already is (`manage.py migrail …`)."""
    from django.apps import apps

    if apps.ready:
        return
    start_django(_use(root, config))


def start_django(module: str, databases: dict[str, Any] | None = None) -> None:
    """`django.setup()` with `module`; `databases` replaces its DATABASES (older code)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = module
    # With the server down, Django warns (source line and all) before the error that
    # migrail turns into one line.
    warnings.filterwarnings(
        "ignore", message="Normally Django will use a connection to the 'postgres' database"
    )
    try:
        import django
        from django.conf import settings

        if databases is not None:
            settings.DATABASES  # noqa: B018 - imports the module before the override
            settings.DATABASES = databases
        else:
            with recording():  # what a return trip checks without Django (snapshots)
                settings.DATABASES  # noqa: B018 - imports the module
            anchor_sqlite_names(settings.DATABASES, project_directory())
        django.setup()
    except ImportError as err:
        line = importing_line(err)
        where = [line] if line else []
        if isinstance(err, ModuleNotFoundError):
            # Often: migrail installed in an environment of its own, whose Python lacks
            # the project's packages (and may have another Django).
            where.append(
                f"migrail runs with {sys.executable}: if manage.py runs with another Python, "
                "install migrail there and run `migrail install` again from it"
            )
        said = f" ({'; '.join(where)})" if where else ""
        raise MigrailError(
            f"cannot import the settings {module!r} or an installed app: {err}{said}"
        ) from err
    except SyntaxError as err:
        raise MigrailError(
            f"Django could not start with settings {module!r}: {syntax_error_text(err)}"
        ) from err
    except Exception as err:
        raise MigrailError(f"Django could not start with settings {module!r}: {err}") from err


def importing_line(err: ImportError) -> str | None:
    """`src/config/settings/local.py, line 3`: the project's line whose import failed (the
    last frame outside Python's standard library, Django and migrail), else None."""
    import sysconfig
    import traceback

    import django

    stdlib = sysconfig.get_paths()["stdlib"]
    skipped = (str(Path(django.__file__).parent), str(Path(__file__).parents[1]), stdlib, "<")
    frames = [
        frame
        for frame in traceback.extract_tb(err.__traceback__)
        if not frame.filename.startswith(skipped) and Path(frame.filename).is_file()
    ]
    if not frames:
        return None
    path = Path(frames[-1].filename)
    try:
        shown = str(path.relative_to(Path.cwd()))
    except ValueError:
        shown = str(path)
    return f"{shown}, line {frames[-1].lineno}"


def anchor_sqlite_names(databases: dict[str, Any], project_dir: Path) -> None:
    """A relative SQLite NAME is opened from the project directory, as `manage.py` run there
    opens it, not from wherever migrail was started (`cd shop; migrail status`)."""
    for settings_dict in databases.values():
        name = settings_dict.get("NAME")
        if (
            stores_in_file(settings_dict)
            and isinstance(name, (str, os.PathLike))
            and str(name) not in ("", ":memory:")
            and not str(name).startswith("file:")
            and not Path(name).is_absolute()
        ):
            anchored = project_dir.absolute() / name
            settings_dict["NAME"] = anchored if isinstance(name, os.PathLike) else str(anchored)


def require_sqlite_files(root: Path, config: Config, command: str, database: str | None) -> None:
    """A read-only command never creates a database: a missing SQLite file is said, exit 2."""
    from django.conf import settings

    setup_django(root, config)
    for alias in database_aliases(config, database):
        settings_dict = settings.DATABASES[alias]
        name = str(settings_dict.get("NAME") or "")
        if (
            stores_in_file(settings_dict)
            and name not in ("", ":memory:")
            and not name.startswith("file:")
            and not Path(name).exists()
        ):
            raise MigrailError(
                f"database {alias!r}: the SQLite file {name} does not exist; "
                f"`migrail {command}` creates nothing (`migrail sync` creates and migrates it)"
            )


def database_aliases(config: Config, database: str | None = None) -> list[str]:
    """The aliases to work on: the one asked for, else `databases` in [tool.migrail], else all."""
    from django.conf import settings

    # Django fills an empty DATABASES with a "dummy" default once a connection is asked for.
    defined = [
        alias
        for alias, options in settings.DATABASES.items()
        if options.get("ENGINE") != "django.db.backends.dummy"
    ]
    aliases = [database] if database else list(config.databases) or _migrated(defined)
    if not aliases:
        raise MigrailError(
            f"the settings {settings.SETTINGS_MODULE!r} define no DATABASES, so there is "
            "nothing to sync; name the settings module you run with: DJANGO_SETTINGS_MODULE, "
            "--settings, or `git config migrail.settings MODULE`"
        )
    for alias in aliases:
        if alias not in settings.DATABASES:
            raise MigrailError(f"no database {alias!r} in settings.DATABASES")
    return aliases


def _migrated(aliases: list[str]) -> list[str]:
    """Of all aliases, those the routers let `migrate` touch (a read replica's or an analytics
    database's router allows no app there): `migrate --database ALIAS` would do nothing on the
    others, so sync neither looks at them nor refuses them for being remote."""
    from django.apps import apps
    from django.db import router

    if not apps.ready or len(aliases) < 2:
        return aliases
    labels = [app.label for app in apps.get_app_configs()]

    def allowed(alias: str) -> bool:
        try:
            return any(router.allow_migrate(alias, label) for label in labels)
        except Exception:  # a router that wants hints migrate would give: keep the alias
            return True

    return [alias for alias in aliases if allowed(alias)] or aliases
