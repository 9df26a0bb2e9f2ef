"""Whether two versions of a migration do the same forwards: Python's syntax tree decides.

Formatting and comments are not code. Nor is where a migration sits in the graph
(`dependencies`, `replaces`, `run_before`, `initial`: Django's squashing docs ask for
dependencies to be pointed at the squash once the replaced migrations go), nor a reverse
given since (what the refusal of an irreversible rollback advises): `migrate` would not
run the migration again for either. Sync (an applied migration edited since) and
`check --base` (a migration the base branch has, edited on this branch) both ask this.
"""

from __future__ import annotations

import ast

# Where a migration sits in the graph, not what it does.
PLACEMENT = frozenset({"dependencies", "replaces", "run_before", "initial"})
# The argument of each operation that only says how to undo it.
REVERSES = {"RunPython": (1, "reverse_code"), "RunSQL": (1, "reverse_sql")}


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
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in REVERSES:
        return
    position, keyword = REVERSES[name]
    call.args = call.args[:position]
    call.keywords = [kw for kw in call.keywords if kw.arg != keyword]


def _placement(statement: ast.stmt) -> bool:
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign):
        targets = [statement.target]
    else:
        return False
    return all(isinstance(t, ast.Name) and t.id in PLACEMENT for t in targets)
