"""Whether two versions of a migration do the same forwards: Python's syntax tree decides.

Formatting and comments are not code. Nor is where a migration sits in the graph
(`dependencies`, `replaces`, `run_before`, `initial`: Django's squashing docs ask for
dependencies to be pointed at the squash once the replaced migrations go), nor a reverse
given since (what the refusal of an irreversible rollback advises), nor `elidable` (a hint to
`squashmigrations`): `migrate` would not run the migration again for any of them. Sync (an
applied migration edited since) and `check --base` (a migration the base branch has, edited on
this branch) both ask this.
"""

from __future__ import annotations

import ast

# Where a migration sits in the graph, not what it does.
PLACEMENT = frozenset({"dependencies", "replaces", "run_before", "initial"})
# The argument of each operation that only says how to undo it.
REVERSES = {"RunPython": (1, "reverse_code"), "RunSQL": (1, "reverse_sql")}
# Their fifth argument, `elidable`: a hint to squashmigrations that no database sees.
ELIDABLE_POSITION = 4


def same_forwards(one: bytes, other: bytes) -> bool:
    """Whether `one` and `other` do the same forwards (a file that does not parse is
    compared byte for byte)."""
    if one == other:
        return True  # nearly always: parse only what differs
    try:
        return what_it_does(one) == what_it_does(other)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


def what_it_does(source: bytes) -> str:
    """The module's syntax tree less placement and reverses, as a comparable string."""
    module = ast.parse(source)
    for node in ast.walk(module):
        if isinstance(node, ast.ClassDef):
            node.body = [statement for statement in node.body if not _placement(statement)]
        if isinstance(node, ast.Call):
            _drop_reverse(node)
    return ast.dump(module)


def _drop_reverse(call: ast.Call) -> None:
    """The reverse and `elidable` left out, wherever given; every other argument kept in its
    place (a positional `state_operations` or `atomic` after the reverse is code)."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in REVERSES:
        return
    position, keyword = REVERSES[name]
    args = list(call.args)
    for index in (position, ELIDABLE_POSITION):
        if index < len(args) and not any(isinstance(a, ast.Starred) for a in args[:index]):
            args[index] = ast.Constant(None)
    while args and isinstance(args[-1], ast.Constant) and args[-1].value is None:
        args.pop()  # a None given last is the default left out
    call.args = args
    call.keywords = [kw for kw in call.keywords if kw.arg not in (keyword, "elidable")]


def _placement(statement: ast.stmt) -> bool:
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign):
        targets = [statement.target]
    else:
        return False
    return all(isinstance(t, ast.Name) and t.id in PLACEMENT for t in targets)
