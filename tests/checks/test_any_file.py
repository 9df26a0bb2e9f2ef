"""No file makes `migrail check` fail with a traceback: each bad one is a finding on that file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.djangoproject import DjangoProject, add_field, migration_source

NON_TEXT_CODECS = ["rot13", "hex", "base64", "zlib", "bz2", "uu", "quopri"]
UNDECODABLE = ["undefined", "punycode"]
DEEP = {
    "sum": "x = " + "1+" * 100_000 + "1\n",
    "attributes": "x = a" + ".b" * 100_000 + "\n",
    "calls": "x = f" + "()" * 100_000 + "\n",
    "unary": "x = " + "-" * 100_000 + "1\n",
}


def shop_with(p: DjangoProject, name: str, data: bytes) -> None:
    """A linear shop app, a forked billing app, and one bad file in shop."""
    p.linear_app("shop", "0002_price")
    p.linear_app("billing")
    p.migration(
        "billing", "0002_a", migration_source([("billing", "0001_initial")], add_field("item", "a"))
    )
    p.migration(
        "billing", "0003_b", migration_source([("billing", "0001_initial")], add_field("item", "b"))
    )
    (p.root / f"shop/migrations/{name}.py").write_bytes(data)


def check(p: DjangoProject) -> tuple[int, list[tuple[str, str, str]]]:
    proc = p.migrail("check", "--format", "json")
    assert "Traceback" not in proc.stderr, proc.stderr
    found = json.loads(proc.stdout)["findings"]
    return proc.returncode, [(f["code"], f["path"], f["message"]) for f in found]


def bad_file_and_fork(code: str, message: str) -> list[tuple[str, str, str]]:
    return [
        (
            "E001",
            "billing/migrations/max_migration.txt",
            "app 'billing' has 2 leaf migrations: 0002_a, 0003_b",
        ),
        (code, "shop/migrations/0003_bad.py", f"0003_bad {message}"),
    ]


@pytest.mark.parametrize("codec", NON_TEXT_CODECS)
def test_coding_cookie_naming_a_non_text_codec(project: DjangoProject, codec: str) -> None:
    shop_with(project, "0003_bad", f"# coding: {codec}\n{migration_source()}".encode())
    assert check(project) == (
        1,
        bad_file_and_fork("E008", f"declares the encoding {codec}, which is not a text encoding"),
    )


@pytest.mark.parametrize("codec", UNDECODABLE)
def test_coding_cookie_naming_a_codec_that_cannot_decode_it(
    project: DjangoProject, codec: str
) -> None:
    shop_with(project, "0003_bad", f"# -*- coding: {codec} -*-\n{migration_source()}".encode())
    assert check(project) == (
        1,
        bad_file_and_fork("E008", f"declares the encoding {codec}, which cannot decode it"),
    )


@pytest.mark.parametrize("shape", sorted(DEEP))
def test_nesting_python_cannot_compile(project: DjangoProject, shape: str) -> None:
    shop_with(project, "0003_bad", (migration_source() + DEEP[shape]).encode())
    assert check(project) == (
        1,
        bad_file_and_fork("E010", "is nested too deeply to read statically"),
    )


def test_one_bad_file_among_hundreds_in_the_parallel_cold_check(project: DjangoProject) -> None:
    project.linear_app("shop", max_migration=False)
    parent = "0001_initial"
    for number in range(2, 502):
        name = f"{number:04d}_step"
        project.migration("shop", name, migration_source([("shop", parent)]))
        parent = name
    project.write("shop/migrations/max_migration.txt", f"{parent}\n")
    project.migration("shop", "9999_bad", migration_source([("shop", "0299_step")]) + DEEP["sum"])
    project.commit()
    assert check(project) == (
        1,
        [
            (
                "E010",
                "shop/migrations/9999_bad.py",
                "9999_bad is nested too deeply to read statically",
            )
        ],
    )


def test_a_file_too_large_to_read_statically(project: DjangoProject) -> None:
    filler = "    # " + "x" * 1000 + "\n"
    shop_with(project, "0003_bad", (migration_source() + filler * 5000).encode())
    assert check(project) == (
        1,
        bad_file_and_fork("E010", "is 4.8 MB, larger than the 4 MB migrail reads statically"),
    )


def test_a_huge_migration_leaves_a_small_parse_cache(project: DjangoProject) -> None:
    project.linear_app("shop", "0002_price")
    operation = "        migrations.RunPython(migrations.RunPython.noop),\n"
    source = migration_source([("shop", "0002_price")]).replace(
        "    operations = [\n", "    operations = [\n" + operation * 10_000
    )
    project.migration("shop", "0003_data", source)
    project.write("shop/migrations/max_migration.txt", "0003_data\n")
    project.commit()
    assert check(project) == (0, [])
    cache = Path(project.git("rev-parse", "--git-common-dir").strip())
    size = (project.root / cache / "migrail/parse-cache.pickle").stat().st_size
    assert size < 20_000


def test_pythons_warnings_about_a_file_are_not_printed(project: DjangoProject) -> None:
    # An invalid escape is a SyntaxWarning from Python 3.12 (a DeprecationWarning before,
    # shown here with PYTHONWARNINGS=default as 3.12 shows its successor).
    project.linear_app("shop", "0002_price")
    project.write(
        "shop/migrations/0002_price.py",
        project.read("shop/migrations/0002_price.py") + "\nPATTERN = '\\d+'\n",
    )
    proc = project.migrail("check", env={"PYTHONWARNINGS": "default"})
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
