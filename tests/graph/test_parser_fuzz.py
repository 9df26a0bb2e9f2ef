"""A bounded fuzzer: migration modules built at random from statements real projects and
hand edits write, each read by migrail's static parser and imported as Django imports it.

The property is the static check's contract: whatever the parser reads as clean and Django
imports, Django imports with exactly those `dependencies`, `replaces` and `run_before`. (The
parser may be stricter: E010 where it cannot tell; and a module that fails to import for a
reason no reading can see, a name or module missing when it runs, is Django's to report.)
The seeds are fixed, so a failure replays; the budget keeps it to about a second.
"""

from __future__ import annotations

import random
import types
from typing import Any

import pytest

from migrail.graph.parser import Dependency, ParsedMigration, parse_migration

SEEDS = range(2000)
HEADERS = [
    "from django.db import migrations, models\n",
    "from django.db import migrations\nfrom django.db import models\n",
    "import django.db.migrations as migrations\nfrom django.db import models\n",
    "from django.db import migrations as m, models\nmigrations = m\n",
]
LISTS = [
    "[('shop', '0001_initial')]",
    "[('shop', '0001_initial'), ('billing', '0002_seen')]",
    "[]",
    "(('shop', '0001_initial'),)",
    "[('shop', '0001_' + 'initial')]",
    "[['shop', '0001_initial']]",
    "BASE",
    "BASE + [('billing', '0001_initial')]",
    "list(BASE)",
]
MODULE_LINES = [
    "BASE = [('shop', '0001_initial')]\n",
    "BASE = []\n",
    "NAME = 'x'\n",
    "def helper():\n    return [('shop', '0009_gone')]\n",
]
BODY_LINES = [
    "    dependencies = {deps}\n",
    "    replaces = {deps}\n",
    "    run_before = {deps}\n",
    "    initial = True\n",
    "    atomic = False\n",
    "    dependencies += [('shop', '0009_gone')]\n",
    "    if True:\n        dependencies = [('shop', '0009_gone')]\n",
    "    dependencies = helper()\n",
    "    operations = []\n",
    "    operations = [migrations.RunSQL('SELECT 1', 'SELECT 1')]\n",
    "    name_ = NAME\n",
    "    def __init__(self, name, app_label):\n"
    "        super().__init__(name, app_label)\n"
    "        self.dependencies = [('shop', '0009_gone')]\n",
    "    locals()['dependencies'] = [('shop', '0009_gone')]\n",
]
TRAILERS = [
    "",
    "\nMigration.dependencies = [('shop', '0009_gone')]\n",
    "\nMigration.dependencies.append(('shop', '0009_gone'))\n",
    "\nsetattr(Migration, 'replaces', [('shop', '0009_gone')])\n",
    "\nclass Migration(migrations.Migration):\n    dependencies = []\n",
    "\nMigration = None\n",
]


def generated(seed: int) -> str:
    rng = random.Random(seed)
    source = rng.choice(HEADERS)
    source += "".join(rng.sample(MODULE_LINES, rng.randint(0, 2)))
    body = [
        line.format(deps=rng.choice(LISTS)) for line in rng.sample(BODY_LINES, rng.randint(1, 4))
    ]
    source += "\n\nclass Migration(migrations.Migration):\n" + "".join(body)
    return source + rng.choice(TRAILERS)


def imported(source: str) -> Any:
    """The module's `Migration` as Django's loader gets it: the module run, then the class
    instantiated with its name and app label (None when that fails, as the loader would)."""
    module = types.ModuleType("shop.migrations.0002_fuzz")
    try:
        exec(compile(source, "0002_fuzz.py", "exec"), module.__dict__)
        return module.Migration("0002_fuzz", "shop")
    except Exception:
        return None


def pairs(entries: tuple[Dependency, ...]) -> list[tuple[str, str]]:
    return [(d.app, d.name) for d in entries]


def as_django_has(value: Any) -> list[tuple[str, str]] | None:
    try:
        return [(str(app), str(name)) for app, name in value]
    except (TypeError, ValueError):
        return None


@pytest.mark.parametrize("chunk", range(4))
def test_what_the_parser_reads_as_clean_is_what_django_imports(chunk: int) -> None:
    checked = 0
    for seed in SEEDS[chunk::4]:
        source = generated(seed)
        parsed = parse_migration(source.encode())
        if not isinstance(parsed, ParsedMigration):
            continue  # E008/E009/E010: stricter than Django is allowed
        migration = imported(source)
        if migration is None:
            continue
        checked += 1
        for attribute in ("dependencies", "replaces", "run_before"):
            django_has = as_django_has(getattr(migration, attribute))
            assert django_has == pairs(getattr(parsed, attribute)), (
                f"seed {seed}: {attribute} differ:\n{source}"
            )
    assert checked > 20  # the corpus still reaches the property
