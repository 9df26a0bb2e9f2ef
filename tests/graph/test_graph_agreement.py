"""The static graph agrees with Django's `MigrationLoader(None)` on every fixture."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from migrail.checks.rules import project_graph
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sources.packages import discover_packages
from migrail.sources.parse_cache import ParseCache
from migrail.sources.trees import WorkingTree
from tests.djangoproject import DjangoProject, add_field, create_model, migration_source


def static_graph(project: DjangoProject) -> dict[str, list[list[str]]]:
    repo = GitRepo.discover(project.root)
    packages = discover_packages(WorkingTree(repo), Config(), ParseCache(None))
    graph = project_graph(packages)
    return {
        "leaves": [list(k) for k in graph.leaf_nodes()],
        "plan": [list(k) for k in graph.full_plan()],
    }


def linear(p: DjangoProject) -> None:
    p.linear_app("shop", "0002_price", max_migration=False)


def forked(p: DjangoProject) -> None:
    linear(p)
    p.migration(
        "shop",
        "0002_stock",
        migration_source([("shop", "0001_initial")], add_field("item", "stock")),
    )


def cross_app(p: DjangoProject) -> None:
    linear(p)
    p.add_app("billing")
    p.migration(
        "billing",
        "0001_initial",
        migration_source([("shop", "0002_price")], create_model("Invoice")),
    )
    p.migration(
        "billing",
        "0002_total",
        migration_source(
            [("billing", "0001_initial"), ("shop", "__latest__")], add_field("invoice", "total")
        ),
    )
    p.add_app("audit")
    p.migration(
        "audit", "0001_initial", migration_source([("billing", "__first__")], create_model("Log"))
    )


def run_before(p: DjangoProject) -> None:
    linear(p)
    p.add_app("billing")
    p.migration(
        "billing",
        "0001_initial",
        migration_source(
            [], create_model("Invoice"), extra="    run_before = [('shop', '0001_initial')]\n"
        ),
    )


def squash_beside_replaced(p: DjangoProject) -> None:
    linear(p)
    p.migration(
        "shop", "0003_stock", migration_source([("shop", "0002_price")], add_field("item", "stock"))
    )
    p.migration(
        "shop",
        "0001_squashed_0002_price",
        migration_source(
            [],
            create_model("Item", "price"),
            extra="    replaces = [('shop', '0001_initial'), ('shop', '0002_price')]\n",
        ),
    )
    p.add_app("billing")
    p.migration(
        "billing",
        "0001_initial",
        migration_source([("shop", "0002_price")], create_model("Invoice")),
    )


def squash_with_replaced_gone(p: DjangoProject) -> None:
    squash_beside_replaced(p)
    (p.root / "shop/migrations/0001_initial.py").unlink()
    (p.root / "shop/migrations/0002_price.py").unlink()


def unnumbered_and_custom_label(p: DjangoProject) -> None:
    p.add_app("store", path="apps/store", config_label="shop")
    p.migration("apps/store", "initial", migration_source([], create_model("Item")))
    p.migration(
        "apps/store",
        "add_price",
        migration_source([("shop", "initial")], add_field("item", "price")),
    )
    p.add_app("billing")
    p.migration(
        "billing",
        "0001_initial",
        migration_source([("shop", "add_price")], create_model("Invoice")),
    )


def swappable_user(p: DjangoProject) -> None:
    p.apps += ["django.contrib.contenttypes", "django.contrib.auth"]
    p.add_app("shop")
    p.migration(
        "shop",
        "0001_initial",
        migration_source(
            [],
            create_model("Item"),
            header="from django.conf import settings",
            extra="    initial = True\n",
        ).replace(
            "dependencies = [\n",
            "dependencies = [\n        migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n",
        ),
    )
    p.migration(
        "shop",
        "0002_price",
        migration_source(
            [("shop", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")],
            add_field("item", "price"),
        ),
    )


def app_settings_swappable(p: DjangoProject) -> None:
    """django-oauth-toolkit's shape: `swappable_dependency(oauth2_settings.X_MODEL)`, the
    model in the app itself, and a string literal form."""
    p.add_app("tokens")
    p.write(
        "tokens/conf.py", "class S:\n    TOKEN_MODEL = 'tokens.Token'\n\n\napp_settings = S()\n"
    )
    p.migration(
        "tokens",
        "0001_initial",
        migration_source([], create_model("Token"), extra="    initial = True\n"),
    )
    p.migration(
        "tokens",
        "0002_size",
        migration_source(
            [("tokens", "0001_initial")],
            add_field("token", "size"),
            header="from tokens.conf import app_settings",
        ).replace(
            "dependencies = [\n",
            "dependencies = [\n        migrations.swappable_dependency(app_settings.TOKEN_MODEL),\n"
            "        migrations.swappable_dependency('tokens.Token'),\n",
        ),
    )


def merge_sharing_its_parents_number(p: DjangoProject) -> None:
    """django-celery-beat's 0006: two 0006 siblings joined by a third 0006."""
    p.add_app("beat")
    p.migration("beat", "0005_initial", migration_source([], create_model("Task")))
    for name in ("0006_auto_a", "0006_auto_b"):
        p.migration(
            "beat", name, migration_source([("beat", "0005_initial")], add_field("task", name[-1]))
        )
    p.migration(
        "beat",
        "0006_priority",
        migration_source(
            [("beat", "0005_initial"), ("beat", "0006_auto_a"), ("beat", "0006_auto_b")],
            add_field("task", "priority"),
        ),
    )


def diamond_across_apps(p: DjangoProject) -> None:
    for app in ("a", "b", "c"):
        p.add_app(app)
    p.migration("a", "0001_initial", migration_source([], create_model("A")))
    p.migration("b", "0001_initial", migration_source([("a", "0001_initial")], create_model("B")))
    p.migration("c", "0001_initial", migration_source([("a", "0001_initial")], create_model("C")))
    p.migration(
        "a",
        "0002_link",
        migration_source(
            [("a", "0001_initial"), ("c", "0001_initial"), ("b", "0001_initial")],
            add_field("a", "x"),
        ),
    )
    p.migration("b", "0002_merge", migration_source([("b", "0001_initial"), ("a", "0002_link")]))


FIXTURES: list[Callable[[DjangoProject], None]] = [
    linear,
    forked,
    cross_app,
    run_before,
    squash_beside_replaced,
    squash_with_replaced_gone,
    unnumbered_and_custom_label,
    swappable_user,
    app_settings_swappable,
    merge_sharing_its_parents_number,
    diamond_across_apps,
]


@pytest.mark.parametrize("build", FIXTURES, ids=[f.__name__ for f in FIXTURES])
def test_static_graph_equals_djangos_loader(
    project: DjangoProject, build: Callable[[DjangoProject], None]
) -> None:
    build(project)
    project.commit()
    django = project.django_graph()
    first_party = {app for app, _ in django["plan"] if app not in ("auth", "contenttypes")}
    django["leaves"] = [k for k in django["leaves"] if k[0] in first_party]
    django["plan"] = [k for k in django["plan"] if k[0] in first_party]
    assert static_graph(project) == django
