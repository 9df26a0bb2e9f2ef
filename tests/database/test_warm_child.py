"""The old code's child started early: it stands in for the child started late, or execs it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from migrail.sync import warm_child
from migrail.sync.warm_child import COLD, Warm, WarmChild


class Execed(Exception):
    pass


def test_a_module_the_old_tree_would_import_instead_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "json" in sys.modules
    assert not warm_child._shadowed({"json", "json.decoder"})
    (tmp_path / "json.py").write_text("")  # the old commit's own json, first on its path
    monkeypatch.syspath_prepend(str(tmp_path))
    assert warm_child._shadowed({"json", "json.decoder"})
    assert not warm_child._shadowed({"migrail"})  # imported before the path moves, as always


def test_a_start_up_variable_changed_since_execs_the_child_as_it_started_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def execve(path: str, argv: list[str], env: dict[str, str]) -> None:
        calls.append((path, argv, env))
        raise Execed

    monkeypatch.setattr("os.execve", execve)
    monkeypatch.setattr(sys, "argv", ["-c", "3"])
    monkeypatch.chdir(tmp_path)
    warm = Warm.__new__(Warm)
    warm.started_with = {"PYTHONPATH": "/a", "HOME": "/root"}
    warm.cwd_entry, warm.usable, warm.preloaded = False, True, set()
    env = {"PYTHONPATH": "/a:/b", "HOME": "/root", "DJANGO_SETTINGS_MODULE": "project.settings"}
    project = tmp_path / "project"
    project.mkdir()
    with pytest.raises(Execed):
        warm.enter("/spec", str(project), env)
    assert calls == [(sys.executable, [sys.executable, "-c", COLD, "/spec"], env)]
    assert Path.cwd() == project
    assert sys.argv == ["-c", "/spec"]


def test_a_child_not_needed_is_stopped_and_reaped(tmp_path: Path) -> None:
    tree = tmp_path / "trees/1-abc"
    tree.mkdir(parents=True)
    child = WarmChild(tree)
    assert child.process is not None
    child.discard()
    assert child.process.returncode is not None
