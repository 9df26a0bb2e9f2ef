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
    "or run `git config migrail.settings MODULE`; if manage.py is in a subdirectory, "
    "`git config migrail.projectDir DIR`"
)


def settings_module(root: Path, config: Config) -> tuple[str, Path]:
    """(settings module, project directory put on sys.path), as django-admin resolves them.

    `--settings` (the command line puts it in the environment, as django-admin does),
    then `DJANGO_SETTINGS_MODULE`, then `settings` in the configuration, then the
    default `manage.py` sets. No `manage.py` is needed when one of the others names it.
    """
    project_dir = project_directory_of(root, config)
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


def project_directory_of(root: Path, config: Config) -> Path:
    """Where manage.py runs: `project_dir`, else the root, else the one nested manage.py's."""
    project_dir = (root / config.project_dir).resolve()
    if config.project_dir in (".", "") and not (project_dir / "manage.py").is_file():
        return _nested_manage_py(project_dir) or project_dir
    return project_dir


def _nested_manage_py(root: Path) -> Path | None:
    """The directory of the one `manage.py` one or two levels down (`backend/manage.py` in a
    monorepo), looked for only when the root has none; several: the user must choose."""
    found = sorted(
        path.parent
        for pattern in ("*/manage.py", "*/*/manage.py")
        for path in root.glob(pattern)
        if path.is_file()
        and not path.is_symlink()
        and not any(
            part.startswith(".") or part in ("node_modules", "site-packages")
            for part in path.relative_to(root).parts
        )
    )
    if len(found) > 1:
        names = ", ".join(str((d / "manage.py").relative_to(root)) for d in found)
        raise MigrailError(
            f"several manage.py files ({names}): name the project directory with "
            "`git config migrail.projectDir DIR` (or project_dir in [tool.migrail])"
        )
    return found[0] if found else None
