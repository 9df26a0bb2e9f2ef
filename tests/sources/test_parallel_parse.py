"""A cold check's parallel parse gives what parsing each file here gives, in order."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from migrail.graph.parser import ParseProblem, parse_migration
from migrail.sources import parallel_parse
from migrail.sources.parse_cache import ParseCache

MIGRATION = """\
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shop", "{parent}")]
    operations = []
"""


@pytest.mark.skipif(sys.platform != "linux" or (os.cpu_count() or 1) < 2, reason="one core")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_the_parallel_parse_equals_parsing_each_file_in_order(tmp_path: Path) -> None:
    paths = []
    for number in range(parallel_parse.THRESHOLD + 7):
        path = f"shop/migrations/{number:04d}_step.py"
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(MIGRATION.format(parent=f"{number - 1:04d}_step"))
        paths.append(path)
    (tmp_path / paths[5]).write_text("class Migration(:\n")  # a syntax error
    (tmp_path / paths[9]).unlink()  # unreadable

    parsed = parallel_parse.parse_files(tmp_path, paths)

    assert len(parsed) == len(paths)
    for path, result in zip(paths, parsed, strict=True):
        if path == paths[9]:
            assert isinstance(result, ParseProblem)
            assert result.kind == "unreadable"
        else:
            assert result == parse_migration((tmp_path / path).read_bytes()), path


def steps(root: Path, count: int) -> dict[str, str]:
    """shop's migrations 0001_step… on disk, each with a made-up blob id: path -> blob."""
    files = {}
    for number in range(1, count + 1):
        path = f"shop/migrations/{number:04d}_step.py"
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(MIGRATION.format(parent=f"{number - 1:04d}_step"))
        files[path] = f"blob{number}"
    return files


@pytest.mark.skipif(sys.platform != "linux" or (os.cpu_count() or 1) < 2, reason="one core")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_parsing_ahead_caches_a_file_only_under_the_blob_the_work_tree_still_holds(
    tmp_path: Path,
) -> None:
    files = steps(tmp_path, 5)
    (tmp_path / "shop/migrations/0005_step.py").unlink()
    ahead = parallel_parse.ParsingAhead(tmp_path, files)
    cache = ParseCache(None)
    modified = {**files, "shop/migrations/0002_step.py": "blob of the file on disk"}

    ahead.fill(cache, modified)

    for number in (1, 3, 4):
        path = f"shop/migrations/{number:04d}_step.py"
        assert cache.get(f"blob{number}") == parse_migration((tmp_path / path).read_bytes())
    assert cache.get("blob2") is None  # modified: parsed again from what was read of it
    assert cache.get("blob5") is None  # unreadable: told as such by the usual path


@pytest.mark.skipif(sys.platform != "linux" or (os.cpu_count() or 1) < 2, reason="one core")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_parsing_ahead_discarded_leaves_no_child(tmp_path: Path) -> None:
    path = "shop/migrations/0001_initial.py"
    (tmp_path / path).parent.mkdir(parents=True)
    (tmp_path / path).write_text(MIGRATION.format(parent="none"))
    ahead = parallel_parse.ParsingAhead(tmp_path, {path: "blob"})
    pids = [pid for pid, _ in ahead._children]

    ahead.discard()

    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped: no longer this process's child


@pytest.mark.skipif(sys.platform != "linux" or (os.cpu_count() or 1) < 2, reason="one core")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_parsing_ahead_with_nothing_changed_saves_what_the_children_pickled(
    tmp_path: Path,
) -> None:
    files = steps(tmp_path, 4)
    cache = ParseCache(tmp_path / "cache.pickle")

    parallel_parse.ParsingAhead(tmp_path, files).fill(cache, dict(files))
    cache.save()

    again = ParseCache(tmp_path / "cache.pickle")
    for path, blob in files.items():
        assert again.get(blob) == parse_migration((tmp_path / path).read_bytes())
