from __future__ import annotations

from migrail.graph.parser import Dependency, ParsedMigration, ParseProblem, parse_migration

HEAD = b"from django.conf import settings\nfrom django.db import migrations\n\n"


def parse(body: str) -> ParsedMigration:
    parsed = parse_migration(HEAD + body.encode())
    assert isinstance(parsed, ParsedMigration), parsed
    return parsed


def problem(data: bytes) -> ParseProblem:
    parsed = parse_migration(data)
    assert isinstance(parsed, ParseProblem), parsed
    return parsed


def test_reads_dependencies_tuples_lists_and_swappable() -> None:
    parsed = parse(
        "class Migration(migrations.Migration):\n"
        "    dependencies = (\n"
        "        ('shop', '0001_initial'),\n"
        "        migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n"
        "        ('billing', '__first__'),\n"
        "    )\n"
        "    replaces = [('shop', '0001_a')]\n"
        "    run_before = [('other', '0002_b')]\n"
        "    initial = True\n"
        "    atomic = False\n"
    )
    assert parsed.dependencies == (
        Dependency("shop", "0001_initial", 6),
        Dependency("", "__first__", 7, swappable_setting="AUTH_USER_MODEL"),
        Dependency("billing", "__first__", 8),
    )
    assert [(d.app, d.name) for d in parsed.replaces] == [("shop", "0001_a")]
    assert [(d.app, d.name) for d in parsed.run_before] == [("other", "0002_b")]
    assert parsed.initial is True
    assert parsed.atomic is False


def test_subclass_of_project_base_class_is_a_migration() -> None:
    parsed = parse(
        "from myproject.db import BaseMigration\n"
        "class Migration(BaseMigration):\n"
        "    dependencies = [('shop', '0001_initial')]\n"
    )
    assert [(d.app, d.name) for d in parsed.dependencies] == [("shop", "0001_initial")]


def test_syntax_error_names_the_line() -> None:
    found = problem(HEAD + b"class Migration(migrations.Migration):\n    dependencies = [\n")
    assert (found.kind, found.line) == ("syntax", 5)
    assert found.message.startswith("has a syntax error: ")


def test_conflict_markers_name_the_line() -> None:
    found = problem(HEAD + b"<<<<<<< HEAD\nx = 1\n=======\nx = 2\n>>>>>>> feature\n")
    assert (found.kind, found.line, found.message) == (
        "conflict-markers",
        4,
        "has unresolved git conflict markers",
    )


def test_binary_and_non_utf8() -> None:
    assert problem(b"\x00\x01\x02").kind == "binary"
    found = problem(b"x = 1\ny = '\xff'\n")
    assert (found.kind, found.line, found.message) == (
        "encoding",
        2,
        "is not valid utf-8 (byte 11)",
    )


def test_coding_cookie_is_honoured() -> None:
    data = "# -*- coding: latin-1 -*-\nclass Migration(object):\n    x = 'é'\n".encode("latin-1")
    assert isinstance(parse_migration(data), ParsedMigration)


def test_no_migration_class_and_south() -> None:
    assert problem(b"x = 1\n").kind == "no-migration-class"
    south = b"from south.v2 import SchemaMigration\nclass Migration(SchemaMigration):\n    pass\n"
    assert problem(south).kind == "not-django"


def test_computed_dependencies_are_reported_not_guessed() -> None:
    found = problem(
        HEAD + b"BASE = []\nclass Migration(migrations.Migration):\n    dependencies = BASE + []\n"
    )
    assert (found.kind, found.line, found.message) == (
        "not-static",
        6,
        "has a `dependencies` value migrail cannot read statically",
    )
    found = problem(
        HEAD + b"class Migration(migrations.Migration):\n    dependencies = [('a', NAME)]\n"
    )
    assert (found.kind, found.line) == ("not-static", 5)


def test_bad_bytes_python_tolerates_are_read_as_python_reads_them() -> None:
    # CPython does not decode comments on the first lines: Django loads this file.
    parsed = parse_migration(
        b"# caf\xe9\n" + HEAD + b"class Migration(migrations.Migration):\n    pass\n"
    )
    assert isinstance(parsed, ParsedMigration), parsed


def test_list_entries_are_not_read_as_dependencies() -> None:
    # Django's loader uses each entry as a dict key: a list there is a TypeError.
    found = problem(
        HEAD + b"class Migration(migrations.Migration):\n    dependencies = [['a', 'b']]\n"
    )
    assert (found.kind, found.line, found.message) == (
        "not-static",
        5,
        "has a `dependencies` entry migrail cannot read statically",
    )


def test_an_imported_base_hides_the_dependencies() -> None:
    found = problem(
        HEAD
        + b"from myproject.db import BaseMigration\nclass Migration(BaseMigration):\n    pass\n"
    )
    assert (found.kind, found.line, found.message) == (
        "not-static",
        5,
        "has `dependencies` inherited from `BaseMigration` migrail cannot read statically",
    )


def test_a_conflict_inside_a_string_is_conflict_markers_though_it_parses() -> None:
    """Two branches edited one RunSQL: the file still compiles, and would run the markers."""
    found = problem(
        HEAD + b"class Migration(migrations.Migration):\n"
        b"    operations = [\n"
        b'        migrations.RunSQL("""\n'
        b"CREATE INDEX i ON t\n"
        b"<<<<<<< HEAD\n"
        b"(created);\n"
        b"=======\n"
        b"(created DESC);\n"
        b">>>>>>> other\n"
        b'"""),\n'
        b"    ]\n"
    )
    assert (found.kind, found.line) == ("conflict-markers", 8)


def test_a_line_of_seven_equals_signs_in_a_string_is_not_a_conflict() -> None:
    parsed = parse(
        'class Migration(migrations.Migration):\n    """Prices\n=======\n"""\n    initial = True\n'
    )
    assert parsed.initial is True


def test_a_comma_missing_between_dependencies_is_named() -> None:
    found = problem(
        HEAD + b"class Migration(migrations.Migration):\n"
        b"    dependencies = [\n"
        b"        ('shop', '0001_initial')\n"
        b"        ('billing', '0001_initial'),\n"
        b"    ]\n"
    )
    assert (found.kind, found.line, found.message) == (
        "not-static",
        6,
        "calls one `dependencies` entry with the next: a comma is missing between them "
        "(Django's import fails with a TypeError)",
    )
