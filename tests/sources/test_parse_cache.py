"""The parse cache keeps what was parsed, by blob id, across runs; a bad file is as none."""

from __future__ import annotations

import pickle
from pathlib import Path

from migrail.graph.parser import Dependency, ParsedMigration, ParseProblem
from migrail.sources.parse_cache import FORMAT, MAX_CHUNKS, ParseCache, Parsed


def parsed(number: int) -> ParsedMigration:
    dependency = Dependency("shop", f"{number - 1:04d}_step", 5)
    return ParsedMigration(4, (dependency,), (), (), None, True)


def test_chunks_pickled_elsewhere_and_entries_put_here_are_all_saved(tmp_path: Path) -> None:
    path = tmp_path / "cache.pickle"
    cache = ParseCache(path)
    children: dict[str, Parsed] = {
        "a": parsed(1),
        "b": ParseProblem("syntax", 2, "has a syntax error"),
    }
    cache.add_pickled(pickle.dumps(children), children)
    cache.put("c", parsed(3))
    cache.save()

    again = ParseCache(path)
    assert {blob: again.get(blob) for blob in "abc"} == {**children, "c": parsed(3)}
    again.put("d", parsed(4))
    again.save()
    stored = pickle.loads(path.read_bytes())
    assert stored[0] == FORMAT
    assert len(stored[1]) == 3  # the two chunks as they were, and one for "d"


def test_many_chunks_are_saved_as_one(tmp_path: Path) -> None:
    path = tmp_path / "cache.pickle"
    for number in range(MAX_CHUNKS + 1):
        cache = ParseCache(path)
        cache.put(str(number), parsed(number))
        cache.save()
    cache = ParseCache(path)
    assert all(cache.get(str(number)) == parsed(number) for number in range(MAX_CHUNKS + 1))
    assert len(pickle.loads(path.read_bytes())[1]) < MAX_CHUNKS


def test_a_corrupt_chunk_is_as_no_cache(tmp_path: Path) -> None:
    path = tmp_path / "cache.pickle"
    path.write_bytes(pickle.dumps((FORMAT, [pickle.dumps({"a": parsed(1)}), b"not a pickle"])))
    assert "a" not in ParseCache(path)
    path.write_bytes(pickle.dumps((FORMAT, [pickle.dumps(["a list"])])))
    assert ParseCache(path).get("a") is None
