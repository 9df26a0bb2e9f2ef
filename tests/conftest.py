from __future__ import annotations

from pathlib import Path

import pytest

from tests.djangoproject import DjangoProject


@pytest.fixture
def project(tmp_path: Path) -> DjangoProject:
    return DjangoProject(tmp_path / "repo")
