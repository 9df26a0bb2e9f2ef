"""Which expression each attribute of the `Migration` class is bound to, from source alone.

Part of reading a migration statically (see `parser`): the class body, and
the bodies of bases defined earlier in the module, are searched for plain
assignments; any code that runs at import time and could bind, change or
compute one of the watched attributes raises `NotStatic` instead.
"""

from __future__ import annotations

import ast

from migrail.graph.excerpt import excerpt

GRAPH_ATTRIBUTES = ("dependencies", "replaces", "run_before", "initial", "atomic")
CONSTRUCTORS = frozenset({"__init__", "__new__"})
# Builtins that bind or change names from strings: `exec("dependencies = …")`,
# `locals()["dependencies"] = …`, `setattr(Migration, "depend" + "encies", …)`.
DYNAMIC = frozenset({"exec", "eval", "locals", "vars", "globals", "setattr", "delattr"})


class NotStatic(Exception):
    """`what` at `line` could change an attribute at import time: it cannot be read statically."""

    def __init__(self, what: str, line: int, *, message: str | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.line = line
        self.message = message or f"has {what} migrail cannot read statically"


def attribute_values(
    cls: ast.ClassDef, before: list[ast.stmt], *, dynamic: frozenset[str] = DYNAMIC
) -> dict[str, ast.expr]:
    """The expression each attribute of `cls` is bound to, looked up as Python would.

    `before` is the module's statements above the class, where its bases may be defined.
    `dynamic`: the names of `DYNAMIC` the source can contain (the parser looks in its bytes:
    none, and no statement is walked for them).
    """
    if cls.decorator_list or cls.keywords:
        raise NotStatic("a decorator or metaclass on `Migration`", cls.lineno)
    if all(dotted_tail(base) == "Migration" for base in cls.bases) and not any(
        isinstance(stmt, ast.ClassDef) and stmt.name == "Migration" for stmt in before
    ):
        return _class_values(cls, dynamic)  # the usual `class Migration(migrations.Migration)`
    return _inherited_values(cls, before, dynamic)


def _inherited_values(
    cls: ast.ClassDef, before: list[ast.stmt], dynamic: frozenset[str]
) -> dict[str, ast.expr]:
    """Each attribute from the first class in the lookup chain that binds it.

    An imported base cannot be read: past it Django's defaults are assumed,
    except for `dependencies`, which it may well set, so that is refused.
    """
    chain = [
        k if isinstance(k, str) else _class_values(k, dynamic) for k in _lookup_chain(cls, before)
    ]
    values: dict[str, ast.expr] = {}
    for attr in (*GRAPH_ATTRIBUTES, "operations"):
        for klass in chain:
            if isinstance(klass, str):
                if attr == "dependencies":
                    raise NotStatic(f"`dependencies` inherited from `{excerpt(klass)}`", cls.lineno)
                break  # an imported base: Django's default assumed for the rest
            found = klass.get(attr)
            if found is not None:
                values[attr] = found
                break
    return values


def _lookup_chain(cls: ast.ClassDef, before: list[ast.stmt]) -> list[ast.ClassDef | str]:
    """`cls` and its bases in lookup order; an imported base, which cannot be read, by name.

    Bases are taken depth first, left to right (Python's MRO for the trees
    migrations use); Django's own `Migration` ends the chain.
    """
    local: dict[str, ast.ClassDef] = {}
    for stmt in before:
        if isinstance(stmt, ast.ClassDef):
            local[stmt.name] = stmt
    chain: list[ast.ClassDef | str] = []
    seen: set[int] = set()

    def visit(klass: ast.ClassDef, defined_before: dict[str, ast.ClassDef]) -> None:
        if id(klass) in seen or len(chain) > 50:
            return
        seen.add(id(klass))
        chain.append(klass)
        for base in klass.bases:
            name = base.id if isinstance(base, ast.Name) else None
            if name is not None and name in defined_before:
                parent = defined_before[name]
                visit(parent, {k: v for k, v in defined_before.items() if v.lineno < parent.lineno})
            elif dotted_tail(base) == "Migration" or name == "object":
                continue
            else:
                chain.append(ast.unparse(base))

    visit(cls, local)
    return chain


def _class_values(cls: ast.ClassDef, dynamic: frozenset[str] = DYNAMIC) -> dict[str, ast.expr]:
    """Names bound by plain assignments in a class body; anything else touching them is refused."""
    if cls.decorator_list or cls.keywords:  # a base's: it may rewrite the class it makes
        raise NotStatic(f"a decorator or metaclass on `{cls.name}`", cls.lineno)
    values: dict[str, ast.expr] = {}
    watched = {*GRAPH_ATTRIBUTES}
    for stmt in cls.body:
        from_strings = mentions(stmt, set(dynamic)) if dynamic else None
        if from_strings is not None:
            raise NotStatic(
                "code that binds names from strings (`exec`, `locals()`…)", from_strings
            )
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                _assign(values, target, stmt.value, watched)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            if stmt.value is not None:
                values[stmt.target.id] = stmt.value
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if stmt.name in watched:
                raise NotStatic(f"a `{stmt.name}` defined by a def or class", stmt.lineno)
            if stmt.name == "__init_subclass__":
                # Runs when a subclass (the `Migration` below) is made: may set anything.
                raise NotStatic("a `__init_subclass__` on a base", stmt.lineno)
            if stmt.name in CONSTRUCTORS and _touches(stmt, watched | DYNAMIC):
                # Django's loader instantiates the class: this code runs.
                raise NotStatic(f"a `{stmt.name}` changing the migration's attributes", stmt.lineno)
        elif isinstance(stmt, ast.Pass) or (
            isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        ):
            continue
        else:
            line = mentions(stmt, watched)
            if line is not None:
                raise NotStatic("a statement changing the migration's attributes", line)
    return values


def _touches(node: ast.AST, names: set[str]) -> bool:
    """Does `node` use one of `names`, as a name or as an attribute (`self.dependencies`)?"""
    return any(
        (isinstance(n, ast.Name) and n.id in names)
        or (isinstance(n, ast.Attribute) and n.attr in names)
        for n in ast.walk(node)
    )


def _assign(
    values: dict[str, ast.expr], target: ast.expr, value: ast.expr, watched: set[str]
) -> None:
    """Record `target = value`, unpacking literal tuples; refuse other targets naming `watched`."""
    if isinstance(target, ast.Name):
        values[target.id] = value
        return
    if (
        isinstance(target, (ast.Tuple, ast.List))
        and isinstance(value, (ast.Tuple, ast.List))
        and len(target.elts) == len(value.elts)
        and not any(isinstance(e, ast.Starred) for e in (*target.elts, *value.elts))
    ):
        for inner_target, inner_value in zip(target.elts, value.elts, strict=True):
            _assign(values, inner_target, inner_value, watched)
        return
    line = mentions(target, watched)
    if line is not None:
        raise NotStatic("an assignment to the migration's attributes", line)


def mentions(node: ast.AST, names: set[str], *, loads: bool = True) -> int | None:
    """The line where code that runs at import binds (or, with `loads`, uses) one of `names`.

    Function bodies are not entered: they do not run when the module is imported.
    """
    stack: list[ast.AST] = [node]
    while stack:
        current = stack.pop()
        bound: str | None = None
        if isinstance(current, ast.Name) and (loads or not isinstance(current.ctx, ast.Load)):
            bound = current.id
        elif isinstance(current, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            bound = current.name
        elif isinstance(current, ast.alias):
            bound = current.asname or current.name.split(".")[0]
        elif isinstance(current, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)):
            bound = current.name
        elif isinstance(current, (ast.Global, ast.Nonlocal)) and names & set(current.names):
            return current.lineno
        if bound in names or bound == "*":
            return getattr(current, "lineno", None) or getattr(node, "lineno", 1)
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack += current.decorator_list
            stack += [d for d in (*current.args.defaults, *current.args.kw_defaults) if d]
            continue
        if isinstance(current, ast.Lambda):
            stack += [d for d in (*current.args.defaults, *current.args.kw_defaults) if d]
            continue
        stack.extend(ast.iter_child_nodes(current))
    return None


def dotted_tail(node: ast.expr) -> str:
    """The last name of `a.b.c` or `c`; "" for any other expression."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""
