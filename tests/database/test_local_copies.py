"""Copies of untracked local files into an old commit's tree: new files, 0600, never
through a link (the old tree is the commit's, links included)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from migrail.sync.local_copies import copy_private, real_directory_in


def test_a_copy_is_private_and_never_replaces_or_follows(tmp_path: Path) -> None:
    os.umask(0o022)
    source = tmp_path / "local.py"
    source.write_text("SECRET = 1\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    assert copy_private(source, tree / "local.py")
    assert stat.S_IMODE((tree / "local.py").stat().st_mode) == 0o600
    (tree / "kept.py").write_text("the commit's\n")
    assert not copy_private(source, tree / "kept.py")
    assert (tree / "kept.py").read_text() == "the commit's\n"
    elsewhere = tmp_path / "elsewhere.py"
    (tree / "dangling.py").symlink_to(elsewhere)
    assert not copy_private(source, tree / "dangling.py")
    assert not elsewhere.exists()
    (tmp_path / "link.py").symlink_to(source)
    assert not copy_private(tmp_path / "link.py", tree / "from_link.py")


def test_a_directory_reached_through_a_link_is_not_the_trees(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "config").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tree / "linked").symlink_to(tmp_path / "outside")
    (tree / "inner").symlink_to("config")
    assert real_directory_in(tree, tree)
    assert real_directory_in(tree, tree / "config")
    assert not real_directory_in(tree, tree / "linked")
    assert not real_directory_in(tree, tree / "inner")  # a link, even one that stays inside
    assert not real_directory_in(tree, tmp_path / "outside")
