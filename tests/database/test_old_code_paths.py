"""Where the old commit's child imports from: every root inside the work tree, moved."""

from __future__ import annotations

import sys
import types
from pathlib import Path

from migrail.sync.old_code_paths import old_tree_path, point_editable_finders


def tree(tmp_path: Path) -> tuple[Path, Path]:
    live = tmp_path / "repo"
    old = live / ".git/migrail/trees/abc"
    for directory in ("src", "project", "lib"):
        (live / directory).mkdir(parents=True)
    for directory in ("src", "project"):  # the old commit has no lib/
        (old / directory).mkdir(parents=True)
    return live, old


def test_entries_inside_the_work_tree_move_to_the_old_tree_and_stay_after_it(
    tmp_path: Path,
) -> None:
    live, old = tree(tmp_path)
    site = str(tmp_path / "venv/site-packages")
    path = old_tree_path(
        [str(old / "project"), str(live / "project"), site, str(live / "src"), str(live / "lib")],
        live,
        old,
    )
    assert path == [
        str(old / "project"),
        str(old / "src"),
        str(live / "project"),
        str(live / "src"),
        str(live / "lib"),  # the old commit lacks it: the live one stays, after the old tree
        site,
    ]


def test_editable_finders_map_packages_into_the_old_tree(tmp_path: Path) -> None:
    live, old = tree(tmp_path)
    (old / "src/shop").mkdir()
    finder = types.ModuleType("__editable___shopproject_0_1_finder")
    finder.MAPPING = {  # type: ignore[attr-defined]
        "shop": str(live / "src/shop"),
        "other": str(tmp_path / "elsewhere/other"),
    }
    sys.modules[finder.__name__] = finder
    try:
        assert point_editable_finders(live, old) == ["shop"]
    finally:
        del sys.modules[finder.__name__]
    assert {
        "shop": str(old / "src/shop"),
        "other": str(tmp_path / "elsewhere/other"),
    } == finder.MAPPING
