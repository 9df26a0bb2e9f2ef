"""The static reading never calls a graph clean where Django's loader fails, nor forked where
Django sees one leaf: on each shape below, `migrail check` is compared with Django itself."""

from __future__ import annotations

import json

import pytest

from tests.djangoproject import DJANGO_GRAPH, DjangoProject, add_field, migration_source
from tests.graph.test_graph_agreement import static_graph

MISSING = "('shop', '0009_missing')"


def third(p: DjangoProject, source: str) -> None:
    p.linear_app("shop", "0002_price", max_migration=False)
    p.migration("shop", "0003_stock", source)
    p.write("shop/migrations/max_migration.txt", "0003_stock\n")


def check(p: DjangoProject) -> tuple[int, list[tuple[str, str, int, str]]]:
    proc = p.migrail("check", "--format", "json")
    found = json.loads(proc.stdout)["findings"]
    return proc.returncode, [(f["code"], f["path"], f["line"], f["message"]) for f in found]


BASE = migration_source([("shop", "0002_price")], add_field("item", "stock"))
FAILING = {
    "augmented assignment": BASE.replace(
        "    operations = [", f"    dependencies += [{MISSING}]\n    operations = ["
    ),
    "re-assignment inside if": BASE.replace(
        "    operations = [",
        f"    if True:\n        dependencies = [{MISSING}]\n    operations = [",
    ),
    "append after the class": BASE + f"\n\nMigration.dependencies.append({MISSING})\n",
    "tuple assignment": BASE.replace(
        "    dependencies = [", f"    dependencies, atomic = [{MISSING}], True\n    _old = ["
    ),
    "list entry": BASE.replace("('shop', '0002_price')", "['shop', '0002_price']"),
    "__init__ appends": BASE.replace(
        "    operations = [",
        "    def __init__(self, name, app_label):\n"
        "        super().__init__(name, app_label)\n"
        f"        self.dependencies.append({MISSING})\n\n"
        "    operations = [",
    ),
}
EXPECTED = {
    "augmented assignment": (
        "E010",
        9,
        "0003_stock has a statement changing the migration's attributes migrail cannot read "
        "statically",
    ),
    "re-assignment inside if": (
        "E010",
        10,
        "0003_stock has a statement changing the migration's attributes migrail cannot read "
        "statically",
    ),
    "append after the class": (
        "E010",
        14,
        "0003_stock has `Migration` changed after its class migrail cannot read statically",
    ),
    "tuple assignment": (
        "E006",
        5,
        "0003_stock depends on shop.0009_missing, which does not exist",
    ),
    "__init__ appends": (
        "E010",
        9,
        "0003_stock has a `__init__` changing the migration's attributes migrail cannot read "
        "statically",
    ),
    "list entry": (
        "E010",
        6,
        "0003_stock has a `dependencies` entry migrail cannot read statically",
    ),
}


@pytest.mark.parametrize("shape", sorted(FAILING))
def test_never_clean_where_djangos_loader_fails(project: DjangoProject, shape: str) -> None:
    third(project, FAILING[shape])
    django = project.python(DJANGO_GRAPH)
    assert django.returncode != 0
    code, found = check(project)
    assert code == 1
    assert (found[0][0], found[0][1], *found[0][2:]) == (
        EXPECTED[shape][0],
        "shop/migrations/0003_stock.py",
        *EXPECTED[shape][1:],
    )


WITH_BASES = """\
from django.db import migrations, models


{bases}

class Migration({parent}):
    operations = [
        migrations.AddField(model_name='item', name='stock', field=models.IntegerField(default=0)),
    ]
"""
LOADING = {
    "utf-8 bom": "\ufeff" + BASE,
    "tuple assignment": BASE.replace(
        "    dependencies = [\n",
        "    dependencies, atomic = [('shop', '0002_price')], True\n    _old = [\n",
    ),
    "local base class": WITH_BASES.format(
        bases="class Base(migrations.Migration):\n    dependencies = [('shop', '0002_price')]\n",
        parent="Base",
    ),
    "local base of a local base": WITH_BASES.format(
        bases="class Root(migrations.Migration):\n    dependencies = [('shop', '0002_price')]\n\n\n"
        "class Base(Root):\n    atomic = False\n",
        parent="Base",
    ),
}


@pytest.mark.parametrize("shape", sorted(LOADING))
def test_agrees_where_djangos_loader_loads(project: DjangoProject, shape: str) -> None:
    third(project, LOADING[shape])
    assert check(project) == (0, [])
    assert static_graph(project) == project.django_graph()


def test_a_conditional_migration_class_is_not_static_rather_than_missing(
    project: DjangoProject,
) -> None:
    source = "from django.db import migrations\n\nif True:\n\n    class Migration(migrations.Migration):\n        dependencies = [('shop', '0002_price')]\n"
    third(project, source)
    assert project.python(DJANGO_GRAPH).returncode == 0
    assert check(project) == (
        1,
        [
            (
                "E010",
                "shop/migrations/0003_stock.py",
                5,
                "0003_stock defines `Migration` in a way migrail cannot read statically",
            )
        ],
    )


def test_an_unreadable_migration_in_the_middle_is_not_a_fork(project: DjangoProject) -> None:
    project.linear_app("shop", "0002_price", "0003_stock")
    project.write("shop/migrations/0002_price.py", "class Migration(:\n")
    assert check(project) == (
        1,
        [
            (
                "E008",
                "shop/migrations/0002_price.py",
                1,
                "0002_price has a syntax error: invalid syntax",
            )
        ],
    )
