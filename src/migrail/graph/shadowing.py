"""Which spellings of a `swappable_dependency(...)` call name Django's own function.

A module may bind `swappable_dependency` (or `migrations`) to something else: a local
`def swappable_dependency(value): return ("shop", "0009_x")`, another module's
function, an assignment in the class body. Its call then returns whatever that code
says, which only running it would tell; so a call is read as Django's only when each
name it goes through is bound by Django's own import, or not bound at all (as generated
migrations spell it).
"""

from __future__ import annotations

import ast

from migrail.graph.static_class import mentions

FUNCTION = "swappable_dependency"
MODULE = "django.db.migrations"
# The modules `from … import swappable_dependency` takes Django's function from.
FUNCTION_MODULES = frozenset({MODULE, f"{MODULE}.migration"})


def swappable_spellings(statements: list[ast.stmt]) -> frozenset[str]:
    """The `func` spellings (`ast.unparse`) that call Django's `swappable_dependency`,
    given the statements that run before the call (the module's, then the class body's)."""
    module_names, function_names = {"migrations"}, {FUNCTION}
    shadowed: set[str] = set()
    for stmt in statements:
        if isinstance(stmt, ast.ImportFrom) and stmt.level == 0:
            for alias in stmt.names:
                bound = alias.asname or alias.name
                if stmt.module == "django.db" and alias.name == "migrations":
                    module_names.add(bound)
                elif stmt.module in FUNCTION_MODULES and alias.name == FUNCTION:
                    function_names.add(bound)
                else:
                    shadowed.add(bound)
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname is None:
                    if alias.name.split(".")[0] != "django":
                        shadowed.add(alias.name.split(".")[0])
                elif alias.name == MODULE:
                    module_names.add(alias.asname)
                else:
                    shadowed.add(alias.asname)
        else:
            watched = {*module_names, *function_names, "django"}
            if mentions(stmt, watched, loads=False) is None:
                continue  # the usual statement binds none of them: one walk, not one a name
            for name in watched:
                if mentions(stmt, {name}, loads=False) is not None:
                    shadowed.add(name)
    spellings = {f"{MODULE}.{FUNCTION}"} if "django" not in shadowed else set()
    spellings |= {f"{name}.{FUNCTION}" for name in module_names - shadowed}
    spellings |= function_names - shadowed
    return frozenset(spellings)
