from __future__ import annotations

from pathlib import Path

from migrail.sources.pickle_file import load_pickle, store_pickle


def test_a_stored_value_reads_back_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "result.pickle"
    store_pickle(path, {"a": (1, 2)})
    store_pickle(path, {"a": (3, 4)})  # replaced whole
    assert load_pickle(path) == {"a": (3, 4)}
    assert [p.name for p in tmp_path.iterdir()] == ["result.pickle"]
    assert path.stat().st_mode & 0o077 == 0  # as mkstemp makes it: the owner's alone


def test_a_value_that_cannot_be_pickled_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "result.pickle"
    store_pickle(path, [1])
    store_pickle(path, lambda: None)
    assert load_pickle(path) == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["result.pickle"]
