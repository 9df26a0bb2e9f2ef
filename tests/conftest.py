from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import database_settings
from tests.djangoproject import DjangoProject, real_project


def pytest_configure(config: pytest.Config) -> None:
    """migrail's modules compiled once, as a wheel install has them: with an editable install
    and `PYTHONDONTWRITEBYTECODE` set (as this machine's shells set it), every Python the tests
    start (each hook, each `migrail`, each old code's child) compiled them all again."""
    import compileall

    import migrail

    compileall.compile_dir(str(Path(migrail.__file__).parent), quiet=1)


@pytest.fixture
def project(tmp_path: Path) -> DjangoProject:
    return DjangoProject(tmp_path / "repo")


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def db_project(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[DjangoProject, str]]:
    """A project on each real database, with the NAME of a second, empty one for comparisons."""
    with database_settings(request.param, tmp_path) as (settings, fresh_name):
        yield DjangoProject(tmp_path / "repo", database=settings), fresh_name


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def real_db_project(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[DjangoProject, str]]:
    """`real_project()` (contrib apps with rows, a third-party app) on each real database,
    with the NAME of a second, empty one for comparisons."""
    with database_settings(request.param, tmp_path) as (settings, fresh_name):
        yield real_project(tmp_path / "repo", tmp_path / "packages", settings), fresh_name
