from __future__ import annotations

import os
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


SERVER_ENGINES = {"postgresql", "mariadb"}  # as the tests' parameters and markers name them


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`MIGRAIL_TEST_SERVERS=0` leaves out the tests on PostgreSQL and MariaDB: CI runs them on
    the newest Django only, to stay within its time (SQLite and the rest run on both)."""
    if os.environ.get("MIGRAIL_TEST_SERVERS", "1") != "0":
        return
    kept: list[pytest.Item] = []
    left: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        ids = set(callspec.id.split("-")) if callspec is not None else set()
        marks = {mark.name for mark in item.iter_markers()} & {"postgres", "mariadb"}
        (left if ids & SERVER_ENGINES or marks else kept).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


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
