"""The parser's module boundary: what moved to `static_class` is still named where it was."""

from __future__ import annotations

import pickle

from migrail.graph import parser, static_class
from migrail.graph.parser import Dependency, ParsedMigration, ParseProblem


def test_moved_constants_are_still_importable_from_parser() -> None:
    assert parser.GRAPH_ATTRIBUTES is static_class.GRAPH_ATTRIBUTES
    assert parser.CONSTRUCTORS is static_class.CONSTRUCTORS
    assert all(hasattr(parser, name) for name in parser.__all__)


def test_records_stay_in_parser_so_cached_pickles_still_load() -> None:
    # The parse cache pickles these records: a new module path would orphan every cache.
    for record in (Dependency, ParsedMigration, ParseProblem):
        assert record.__module__ == "migrail.graph.parser"
    parsed = ParsedMigration(
        class_line=4,
        dependencies=(Dependency("shop", "0001_initial", 5),),
        replaces=(),
        run_before=(),
        initial=None,
        atomic=True,
    )
    assert b"migrail.graph.parser" in pickle.dumps(parsed)
    assert pickle.loads(pickle.dumps(parsed)) == parsed
