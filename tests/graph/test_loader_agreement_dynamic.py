"""Code that can change the `Migration` class at import time is E010, never a clean graph
Django's loader refuses nor a fork it does not see; files Django skips are skipped."""

from __future__ import annotations

import pytest

from tests.djangoproject import DJANGO_GRAPH, DjangoProject, add_field, migration_source
from tests.graph.test_graph_agreement import static_graph
from tests.graph.test_loader_agreement import BASE, MISSING, check, third

SWAPPABLE = BASE.replace(
    "('shop', '0002_price')", "('shop', '0002_price'), migrations.swappable_dependency('shop.Item')"
)
LOCAL_BASE = """\
from django.db import migrations, models


{decorator}class Base(migrations.Migration):
    dependencies = [('shop', '0002_price')]
{body}

class Migration(Base):
    operations = [
        migrations.AddField(model_name='item', name='stock', field=models.IntegerField(default=0)),
    ]
"""
DYNAMIC = {
    "exec in the class body": (
        BASE.replace(
            "    operations = [", f'    exec("dependencies = [{MISSING}]")\n    operations = ['
        ),
        9,
        "code that binds names from strings (`exec`, `locals()`…)",
    ),
    "locals() in the class body": (
        BASE.replace(
            "    operations = [", f"    locals()['dependencies'] = [{MISSING}]\n    operations = ["
        ),
        9,
        "code that binds names from strings (`exec`, `locals()`…)",
    ),
    "globals() after the class": (
        BASE + f"\n\nglobals()['Migra' + 'tion'].dependencies = [{MISSING}]\n",
        14,
        "code that binds names from strings (`exec`, `globals()`…)",
    ),
    "__init_subclass__ on a local base": (
        LOCAL_BASE.format(
            decorator="",
            body="\n    def __init_subclass__(cls, **kwargs):\n"
            "        super().__init_subclass__(**kwargs)\n"
            f"        cls.dependencies = [{MISSING}]\n",
        ),
        7,
        "a `__init_subclass__` on a base",
    ),
    "a module-level swappable_dependency": (
        "def swappable_dependency(value):\n"
        f"    return {MISSING}\n\n\n"
        + SWAPPABLE.replace("migrations.swappable_dependency(", "swappable_dependency("),
        10,
        "a `swappable_dependency` that may not be Django's",
    ),
    "an imported swappable_dependency": (
        "from shop.helpers import swappable_dependency\n\n\n"
        + SWAPPABLE.replace("migrations.swappable_dependency(", "swappable_dependency("),
        9,
        "a `swappable_dependency` that may not be Django's",
    ),
}


@pytest.mark.parametrize("shape", sorted(DYNAMIC))
def test_code_that_changes_the_class_is_e010_where_djangos_loader_fails(
    project: DjangoProject, shape: str
) -> None:
    source, line, what = DYNAMIC[shape]
    project.write("shop/helpers.py", f"def swappable_dependency(value):\n    return {MISSING}\n")
    third(project, source)
    assert project.python(DJANGO_GRAPH).returncode != 0  # Django: 0009_missing
    code, found = check(project)
    assert code == 1
    assert found[0] == (
        "E010",
        "shop/migrations/0003_stock.py",
        line,
        f"0003_stock has {what} migrail cannot read statically",
    )


def test_a_decorated_local_base_is_e010_not_a_fork(project: DjangoProject) -> None:
    """Django sees one leaf (the decorator moves the dependency to 0002); reading the body
    alone would see 0003 beside 0002."""
    decorated = LOCAL_BASE.replace("('shop', '0002_price')", "('shop', '0001_initial')").format(
        decorator="def later(cls):\n    cls.dependencies = [('shop', '0002_price')]\n"
        "    return cls\n\n\n@later\n",
        body="",
    )
    third(project, decorated)
    assert len(project.django_graph()["leaves"]) == 1
    code, found = check(project)
    assert code == 1
    assert [f[0] for f in found] == ["E010"]
    assert (
        found[0][3]
        == "0003_stock has a decorator or metaclass on `Base` migrail cannot read statically"
    )


def test_djangos_swappable_dependency_under_its_usual_spellings_is_read(
    project: DjangoProject,
) -> None:
    third(project, SWAPPABLE)
    for header in (
        "",
        "from django.db.migrations import swappable_dependency\n",
        "from django.db import migrations as m\n",
    ):
        source = SWAPPABLE
        if "swappable_dependency\n" in header:
            source = source.replace("migrations.swappable_dependency(", "swappable_dependency(")
        elif "as m" in header:
            source = source.replace("migrations.swappable_dependency(", "m.swappable_dependency(")
        project.write("shop/migrations/0003_stock.py", header + source)
        assert check(project) == (0, []), header
        assert static_graph(project) == project.django_graph()


def test_a_dotted_module_name_beside_a_migration_is_skipped_as_django_skips_it(
    project: DjangoProject,
) -> None:
    project.linear_app("shop", "0002_price")
    project.write(
        "shop/migrations/0002_price.old.py",
        migration_source([("shop", "0001_initial")], add_field("item", "old")),
    )
    assert check(project) == (0, [])
    assert static_graph(project) == project.django_graph()
