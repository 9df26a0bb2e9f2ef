"""What a settings import read, and whether it would read the same now (in-process)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from migrail.sync.settings_inputs import (
    SettingsInputs,
    fingerprint,
    last_recorded,
    recording,
)


@pytest.fixture
def on_path(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in [n for n in sys.modules if n.startswith("fake_settings")]:
        del sys.modules[name]


def imported(name: str) -> SettingsInputs:
    with recording():
        importlib.import_module(name)
    inputs = last_recorded()
    assert inputs is not None
    return inputs


def test_the_modules_and_files_a_settings_import_reads_are_its_inputs(on_path: Path) -> None:
    (on_path / ".env").write_text("NAME=one\n")
    (on_path / "fake_settings_env.py").write_text(
        "from pathlib import Path\n"
        "NAME = (Path(__file__).parent / '.env').read_text()\n"
        "import fake_settings_helper\n"
    )
    (on_path / "fake_settings_helper.py").write_text("VALUE = 1\n")
    inputs = imported("fake_settings_env")
    assert {
        str(on_path / ".env"),
        str(on_path / "fake_settings_env.py"),
        str(on_path / "fake_settings_helper.py"),
    } <= inputs.files
    assert not any(path.endswith(".pyc") for path in inputs.files)

    before = fingerprint(inputs, inputs.environment, on_path, "extra")
    assert fingerprint(inputs, inputs.environment, on_path, "extra") == before
    (on_path / ".env").write_text("NAME=two\n")
    assert fingerprint(inputs, inputs.environment, on_path, "extra") != before
    (on_path / ".env").write_text("NAME=one\n")
    (on_path / "fake_settings_helper.py").write_text("VALUE = 2\n")
    assert fingerprint(inputs, inputs.environment, on_path, "extra") != before


def test_the_environment_counts_but_what_git_and_shells_change_does_not(on_path: Path) -> None:
    (on_path / "fake_settings_plain.py").write_text("NAME = 'x'\n")
    inputs = imported("fake_settings_plain")
    environment = {"DATABASE_URL": "sqlite:///a", "PATH": "/bin"}
    before = fingerprint(inputs, environment, on_path, "extra")
    moved = {
        **environment,
        "GIT_INDEX_FILE": "x",
        "OLDPWD": "/tmp",
        "DJANGO_SETTINGS_MODULE": "y",
        "PATH": "/usr/lib/git-core:/bin",  # git's hooks run with its exec path first
    }
    assert fingerprint(inputs, moved, on_path, "extra") == before
    other = {**environment, "DATABASE_URL": "sqlite:///b"}
    assert fingerprint(inputs, other, on_path, "extra") != before
    assert fingerprint(inputs, environment, on_path, "other extra") != before


def test_a_settings_import_that_runs_a_program_cannot_be_told(on_path: Path) -> None:
    (on_path / "fake_settings_git.py").write_text(
        "import subprocess, sys\n"
        "BRANCH = subprocess.run([sys.executable, '-c', 'print(1)'], capture_output=True).stdout\n"
    )
    with recording():
        importlib.import_module("fake_settings_git")
    assert last_recorded() is None


def test_a_record_reads_back_and_a_foreign_one_is_refused() -> None:
    inputs = SettingsInputs({"/a/settings.py"}, {"/a"}, {"/a/conf.d/*.py"})
    assert SettingsInputs.from_json(inputs.as_json()) == inputs
    with pytest.raises(ValueError, match="files is not a list of paths"):
        SettingsInputs.from_json({"files": "not a list", "listed": [], "globbed": []})
