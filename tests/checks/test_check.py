"""`migrail check` on real git repositories: every code, every format, every bad input."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.djangoproject import DjangoProject, add_field, create_model, migration_source, run_env


def shop(p: DjangoProject, *, max_migration: str | None = "0002_price\n") -> None:
    p.linear_app("shop", "0002_price", max_migration=False)
    if max_migration is not None:
        p.write("shop/migrations/max_migration.txt", max_migration)


def findings(p: DjangoProject, *args: str) -> tuple[int, list[dict[str, object]]]:
    proc = p.migrail("check", "--format", "json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)["findings"]


def test_clean_project_exits_0_and_prints_nothing(project: DjangoProject) -> None:
    shop(project)
    project.commit()
    proc = project.migrail("check")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_json_shape(project: DjangoProject) -> None:
    shop(project)
    proc = project.migrail("check", "--format", "json")
    assert json.loads(proc.stdout) == {
        "apps": {
            "shop": {
                "path": "shop/migrations",
                "leaves": ["0002_price"],
                "max_migration": "0002_price",
            }
        },
        "findings": [],
    }


def test_fork_names_app_and_every_leaf(project: DjangoProject) -> None:
    shop(project)
    project.migration(
        "shop",
        "0002_stock",
        migration_source([("shop", "0001_initial")], add_field("item", "stock")),
    )
    proc = project.migrail("check")
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[2:4] == [
        "shop/migrations/max_migration.txt:1: E001 app 'shop' has 2 leaf migrations: 0002_price, 0002_stock",
        "    hint: run `migrail rebase shop` to move this branch's migrations after the other side's,"
        " or `python manage.py makemigrations --merge shop`",
    ]
    assert proc.stdout.splitlines()[0] == (
        "shop/migrations/0002_stock.py:1: W001 shop migrations share the number 0002: 0002_price, 0002_stock"
    )
    assert proc.stdout.splitlines()[-1] == "migrail: 1 error, 1 warning (1 app checked)"


def test_missing_stale_and_malformed_max_migration(project: DjangoProject) -> None:
    shop(project, max_migration=None)
    assert findings(project)[1][0]["message"] == (
        "max_migration.txt of shop does not exist (latest migration: 0002_price)"
    )
    project.write("shop/migrations/max_migration.txt", "0001_initial\n")
    found = findings(project)[1]
    assert (found[0]["code"], found[0]["message"]) == (
        "E003",
        "max_migration.txt of shop names 0001_initial, but the latest migration is 0002_price",
    )
    project.write("shop/migrations/max_migration.txt", "0009_gone\n")
    assert findings(project)[1][0]["message"] == (
        "max_migration.txt of shop names 0009_gone, which does not exist, but the latest migration is 0002_price"
    )
    project.write("shop/migrations/max_migration.txt", "0001_initial\n0002_price\n")
    found = findings(project)[1]
    assert (found[0]["code"], found[0]["line"], found[0]["message"]) == (
        "E005",
        2,
        "max_migration.txt of shop contains multiple lines",
    )
    project.write("shop/migrations/max_migration.txt", "\n")
    assert findings(project)[1][0]["message"] == "max_migration.txt of shop is empty"


@pytest.mark.parametrize("style", ["merge", "diff3", "zdiff3"])
def test_conflict_markers_from_a_real_merge_name_both_sides(
    project: DjangoProject, style: str
) -> None:
    shop(project)
    project.commit("base")
    project.git("switch", "-q", "-c", "feature")
    project.migration(
        "shop", "0003_stock", migration_source([("shop", "0002_price")], add_field("item", "stock"))
    )
    project.write("shop/migrations/max_migration.txt", "0003_stock\n")
    project.commit("stock")
    project.git("switch", "-q", "main")
    project.migration(
        "shop", "0003_size", migration_source([("shop", "0002_price")], add_field("item", "size"))
    )
    project.write("shop/migrations/max_migration.txt", "0003_size\n")
    project.commit("size")
    project.git("-c", f"merge.conflictStyle={style}", "merge", "feature", check=False)
    code, found = findings(project)
    assert code == 1
    assert [(f["code"], f["message"]) for f in found if f["code"] == "E004"] == [
        (
            "E004",
            "max_migration.txt of shop has git conflict markers: ours 0003_size, theirs 0003_stock",
        )
    ]
    assert [f["code"] for f in found] == ["W001", "E001", "E004"]


def test_dangling_dependency_and_cycle(project: DjangoProject) -> None:
    shop(project)
    project.migration(
        "shop", "0003_x", migration_source([("shop", "0002_price"), ("shop", "0002_gone")])
    )
    project.write("shop/migrations/max_migration.txt", "0003_x\n")
    found = findings(project)[1]
    assert [(f["code"], f["line"], f["message"]) for f in found] == [
        ("E006", 7, "0003_x depends on shop.0002_gone, which does not exist")
    ]
    project.migration(
        "shop", "0001_initial", migration_source([("shop", "0003_x")], create_model("Item"))
    )
    found = findings(project)[1]
    assert [(f["code"], f["message"]) for f in found if f["code"] == "E007"] == [
        (
            "E007",
            "migrations depend on each other in a cycle: shop.0001_initial, shop.0002_price, shop.0003_x",
        )
    ]


def test_a_misspelt_dependency_splits_the_chain_and_the_fork_says_so(
    project: DjangoProject,
) -> None:
    """The leaf a typo leaves behind is no branch to rebase: the fork's hint points at the
    dependency."""
    shop(project)
    project.migration("shop", "0003_x", migration_source([("shop", "0002_pricf")]))
    project.write("shop/migrations/max_migration.txt", "0003_x\n")
    found = findings(project)[1]
    assert [(f["code"], f["hint"]) for f in found] == [
        ("E006", "restore that migration, or point the dependency at one that exists"),
        ("E001", "fix the dependency on shop.0002_pricf first (E006): the chain splits there"),
    ]


def test_dependency_on_third_party_app_is_not_reported(project: DjangoProject) -> None:
    shop(project)
    project.migration(
        "shop", "0003_x", migration_source([("shop", "0002_price"), ("auth", "0012_foo")])
    )
    project.write("shop/migrations/max_migration.txt", "0003_x\n")
    assert findings(project) == (0, [])


def test_unreadable_migrations(project: DjangoProject) -> None:
    shop(project)
    project.migration(
        "shop", "0003_syntax", "from django.db import migrations\nclass Migration(:\n"
    )
    project.migration("shop", "0004_noclass", "x = 1\n")
    (project.root / "shop/migrations/0005_binary.py").write_bytes(b"\x89PNG\x00\x00")
    (project.root / "shop/migrations/0006_latin.py").write_bytes(b"x = 'caf\xe9'\n")
    project.migration(
        "shop",
        "0007_dynamic",
        migration_source().replace("dependencies = [", "dependencies = X + ["),
    )
    os.symlink("0008_loop.py", project.root / "shop/migrations/0008_loop.py")
    code, found = findings(project)
    assert code == 1
    assert [(f["code"], f["path"], f["line"], f["message"]) for f in found] == [
        (
            "E008",
            "shop/migrations/0003_syntax.py",
            2,
            "0003_syntax has a syntax error: invalid syntax",
        ),
        ("E009", "shop/migrations/0004_noclass.py", 1, "0004_noclass has no Migration class"),
        (
            "E011",
            "shop/migrations/0005_binary.py",
            1,
            "0005_binary is a binary file, not Python source",
        ),
        ("E011", "shop/migrations/0006_latin.py", 1, "0006_latin is not valid utf-8 (byte 8)"),
        (
            "E010",
            "shop/migrations/0007_dynamic.py",
            5,
            "0007_dynamic has a `dependencies` value migrail cannot read statically",
        ),
        (
            "E011",
            "shop/migrations/0008_loop.py",
            1,
            "0008_loop cannot be read: Too many levels of symbolic links",
        ),
    ]


def test_conflict_markers_in_a_migration_file(project: DjangoProject) -> None:
    shop(project)
    project.migration(
        "shop", "0002_price", "x = 1\n<<<<<<< HEAD\ny = 2\n=======\ny = 3\n>>>>>>> other\n"
    )
    found = findings(project)[1]
    assert [(f["code"], f["line"], f["message"]) for f in found] == [
        ("E004", 2, "0002_price has unresolved git conflict markers")
    ]


def test_south_and_non_django_migrations_directories_are_skipped(project: DjangoProject) -> None:
    shop(project)
    project.write("legacy/migrations/__init__.py", "")
    project.write(
        "legacy/migrations/0001_initial.py",
        "from south.v2 import SchemaMigration\nclass Migration(SchemaMigration):\n    pass\n",
    )
    project.write("tools/migrations/__init__.py", "")
    project.write("tools/migrations/runner.py", "def run():\n    pass\n")
    assert findings(project) == (0, [])


def test_only_tracked_and_untracked_unignored_files_count(project: DjangoProject) -> None:
    shop(project)
    project.commit()
    project.write(".venv/lib/site-packages/pkg/migrations/__init__.py", "")
    project.write(".venv/lib/site-packages/pkg/migrations/0001_initial.py", "broken(")
    assert findings(project) == (0, [])
    project.migration("shop", "0003_new", migration_source([("shop", "0002_price")]))
    found = findings(project)[1]
    assert [f["code"] for f in found] == ["E003"]


def test_fix_writes_exactly_what_django_linear_migrations_writes(project: DjangoProject) -> None:
    project.apps.append("django_linear_migrations")
    shop(project, max_migration=None)
    project.commit()
    max_migration = project.root / "shop/migrations/max_migration.txt"
    for command in (
        ["create_max_migration_files"],
        ["makemigrations", "shop", "--empty", "--name", "x"],
    ):
        proc = project.manage(*command)
        assert proc.returncode == 0, proc.stderr
        theirs = max_migration.read_bytes()
        max_migration.unlink()
        proc = project.migrail("check", "--fix")
        assert (proc.returncode, proc.stdout, proc.stderr) == (
            1,
            "migrail: wrote shop/migrations/max_migration.txt\n",
            "",
        )
        assert max_migration.read_bytes() == theirs
        assert project.migrail("check", "--fix").returncode == 0
    assert theirs == b"0003_x\n"


def test_fix_never_writes_for_a_forked_app(project: DjangoProject) -> None:
    shop(project, max_migration=None)
    project.migration("shop", "0002_stock", migration_source([("shop", "0001_initial")]))
    proc = project.migrail("check", "--fix")
    assert proc.returncode == 1
    assert not (project.root / "shop/migrations/max_migration.txt").exists()


def test_rev_and_staged_read_git_objects(project: DjangoProject) -> None:
    shop(project)
    first = project.commit()
    project.migration("shop", "0002_stock", migration_source([("shop", "0001_initial")]))
    project.commit("fork")
    assert findings(project, "--rev", first) == (0, [])
    assert findings(project, "--rev", "HEAD")[1][1]["code"] == "E001"
    project.git("rm", "-q", "--cached", "shop/migrations/0002_stock.py")
    assert findings(project, "--staged") == (0, [])
    assert findings(project)[0] == 1


def test_github_annotations(project: DjangoProject) -> None:
    shop(project)
    project.migration("shop", "0002_stock", migration_source([("shop", "0001_initial")]))
    proc = project.migrail("check", "--format", "github")
    assert proc.stdout.splitlines()[1] == (
        "::error file=shop/migrations/max_migration.txt,line=1,title=migrail E001::app 'shop' has 2 leaf "
        "migrations: 0002_price, 0002_stock. Hint: run `migrail rebase shop` to move this branch's "
        "migrations after the other side's, or `python manage.py makemigrations --merge shop`"
    )


def test_custom_label_and_config_override(project: DjangoProject) -> None:
    project.add_app("store", path="apps/store", config_label="shop")
    project.migration("apps/store", "0001_initial", migration_source([], create_model("Item")))
    assert findings(project)[1][0]["app"] == "shop"
    project.write("pyproject.toml", '[tool.migrail.labels]\n"apps/store" = "warehouse"\n')
    assert findings(project)[1][0]["app"] == "warehouse"
    project.write("pyproject.toml", '[tool.migrail]\nexclude_apps = ["shop"]\n')
    assert findings(project) == (0, [])


def test_environment_errors_exit_2_without_traceback(
    project: DjangoProject, tmp_path: Path
) -> None:
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    proc = subprocess.run(
        ["python", "-m", "migrail", "check"],
        cwd=outside,
        env=run_env(),
        capture_output=True,
        text=True,
    )
    assert (proc.returncode, proc.stderr) == (
        2,
        f"migrail: error: {outside} is not inside a git work tree\n",
    )
    proc = project.migrail("check", "--rev", "nope")
    assert (proc.returncode, proc.stderr) == (2, "migrail: error: unknown revision 'nope'\n")
    proc = project.migrail("check", "--rev", "HEAD", "--fix")
    assert proc.returncode == 2
    project.write("pyproject.toml", "[tool.migrail]\nbogus = 1\n")
    proc = project.migrail("check")
    assert proc.returncode == 2
    assert proc.stderr.endswith("pyproject.toml: unknown key 'bogus' in [tool.migrail]\n")
    assert "Traceback" not in proc.stderr


def test_empty_repository(project: DjangoProject, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=empty, check=True)
    proc = subprocess.run(
        ["python", "-m", "migrail", "check"],
        cwd=empty,
        env=run_env(),
        capture_output=True,
        text=True,
    )
    assert (proc.returncode, proc.stdout) == (0, "")
    assert proc.stderr == "migrail: no Django migration packages found in the working tree\n"
    proc = subprocess.run(
        ["python", "-m", "migrail", "check", "--rev", "HEAD"],
        cwd=empty,
        env=run_env(),
        capture_output=True,
        text=True,
    )
    assert (proc.returncode, proc.stderr) == (2, "migrail: error: unknown revision 'HEAD'\n")


def test_a_squash_to_port_by_hand_is_its_syntax_error_alone(project: DjangoProject) -> None:
    """Django writes a squash whose RunPython functions are to be copied in by hand as dotted
    names that do not compile: E008; not also W001 for the number it shares with
    0001_initial, which it keeps as every squash does."""
    shop(project)
    project.migration(
        "shop",
        "0001_squashed_0002_price",
        migration_source(
            extra="    replaces = [('shop', '0001_initial'), ('shop', '0002_price')]\n",
            header="\n\n# Functions from the following migrations need manual copying.\n"
            "# Move them and any dependencies into this file, then update the\n"
            "# RunPython operations to refer to the local versions:\n"
            "# shop.migrations.0002_price",
        ).replace(
            "    operations = [", "    operations = [\n        shop.migrations.0002_price.fill,"
        ),
    )
    code, found = findings(project)
    assert code == 1
    assert [(f["code"], f["path"], f["hint"]) for f in found] == [
        (
            "E008",
            "shop/migrations/0001_squashed_0002_price.py",
            "copy in the functions its top comment names (squashmigrations left them to port), "
            "then run `migrail check --fix`",
        )
    ]
