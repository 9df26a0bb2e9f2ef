"""Read a migration module's source into a `ParsedMigration`, statically.

Nothing is imported or executed: the module is parsed with `ast` and the
`Migration` class body is read for the attributes Django's loader uses.
"""

from __future__ import annotations

import ast
import codecs
import contextlib
import io
import re
import tokenize
from dataclasses import dataclass
from typing import Literal

Key = tuple[str, str]

CONFLICT_MARKER = re.compile(rb"^(<{7}|\|{7}|={7}|>{7})(?: |$)", re.MULTILINE)
SOUTH_BASES = frozenset({"SchemaMigration", "DataMigration"})


@dataclass(frozen=True)
class Dependency:
    """One entry of `dependencies`, `run_before` or `replaces`.

    A `swappable_dependency(settings.X)` has `app == ""` until the setting is
    resolved, and `swappable_setting == "X"`.
    """

    app: str
    name: str
    line: int
    swappable_setting: str | None = None


@dataclass(frozen=True)
class Operation:
    name: str
    line: int
    reversible: bool


@dataclass(frozen=True)
class ParsedMigration:
    class_line: int
    dependencies: tuple[Dependency, ...]
    replaces: tuple[Dependency, ...]
    run_before: tuple[Dependency, ...]
    initial: bool | None
    atomic: bool
    operations: tuple[Operation, ...]

    @property
    def irreversible_operations(self) -> tuple[Operation, ...]:
        return tuple(op for op in self.operations if not op.reversible)


ProblemKind = Literal[
    "binary",
    "encoding",
    "conflict-markers",
    "syntax",
    "no-migration-class",
    "not-django",
    "not-static",
    "unreadable",
]


@dataclass(frozen=True)
class ParseProblem:
    """Why a file could not be read as a Django migration.

    `not-django` and `no-migration-class` are kept apart so that a South-era
    or unrelated `migrations` directory can be skipped rather than reported.
    """

    kind: ProblemKind
    line: int
    message: str


def parse_migration(data: bytes) -> ParsedMigration | ParseProblem:
    if b"\0" in data:
        return ParseProblem("binary", 1, "is a binary file, not Python source")
    marker = CONFLICT_MARKER.search(data) if _may_have_markers(data) else None
    if marker is not None:
        line = data.count(b"\n", 0, marker.start()) + 1
        return ParseProblem("conflict-markers", line, "has unresolved git conflict markers")
    encoding = "utf-8"
    first_two_lines = b"\n".join(data.split(b"\n", 2)[:2])
    if b"coding" in first_two_lines:  # PEP 263: a cookie there names another encoding
        # A bad cookie or bad bytes on those lines: the decode below names which.
        with contextlib.suppress(SyntaxError):
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        return ParseProblem(
            "encoding", line, f"is not valid {codecs.lookup(encoding).name} (byte {err.start})"
        )
    try:
        module = ast.parse(text)
    except SyntaxError as err:
        return ParseProblem("syntax", err.lineno or 1, f"has a syntax error: {err.msg}")
    return _read_module(module)


def _may_have_markers(data: bytes) -> bool:
    return any(m in data for m in (b"<<<<<<<", b"=======", b">>>>>>>", b"|||||||"))


def _read_module(module: ast.Module) -> ParsedMigration | ParseProblem:
    migration_class = None
    for node in module.body:
        if isinstance(node, ast.ClassDef) and node.name == "Migration":
            migration_class = node
    if migration_class is None:
        return ParseProblem("no-migration-class", 1, "has no Migration class")
    base_names = {_dotted_tail(base) for base in migration_class.bases}
    if base_names & SOUTH_BASES or _imports_south(module):
        return ParseProblem("not-django", migration_class.lineno, "is a South migration")
    try:
        return _read_class(migration_class)
    except _NotStatic as err:
        return ParseProblem(
            "not-static", err.line, f"has {err.what} migrail cannot read statically"
        )


def _imports_south(module: ast.Module) -> bool:
    for node in module.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "south":
            return True
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "south" for a in node.names
        ):
            return True
    return False


class _NotStatic(Exception):
    def __init__(self, what: str, line: int) -> None:
        super().__init__(what)
        self.what = what
        self.line = line


def _read_class(cls: ast.ClassDef) -> ParsedMigration:
    values: dict[str, ast.expr] = {}
    for stmt in cls.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    values[target.id] = stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
            values[stmt.target.id] = stmt.value
    return ParsedMigration(
        class_line=cls.lineno,
        dependencies=_read_keys(values.get("dependencies"), "dependencies", swappable=True),
        replaces=_read_keys(values.get("replaces"), "replaces"),
        run_before=_read_keys(values.get("run_before"), "run_before"),
        initial=_read_bool(values.get("initial"), "initial", default=None),
        atomic=bool(_read_bool(values.get("atomic"), "atomic", default=True)),
        operations=_read_operations(values.get("operations")),
    )


def _read_keys(
    node: ast.expr | None, attr: str, *, swappable: bool = False
) -> tuple[Dependency, ...]:
    if node is None:
        return ()
    if not isinstance(node, (ast.List, ast.Tuple)):
        raise _NotStatic(f"a `{attr}` value", node.lineno)
    keys = []
    for item in node.elts:
        if isinstance(item, (ast.Tuple, ast.List)) and len(item.elts) == 2:
            app, name = item.elts
            if (
                isinstance(app, ast.Constant)
                and isinstance(app.value, str)
                and isinstance(name, ast.Constant)
                and isinstance(name.value, str)
            ):
                keys.append(Dependency(app.value, name.value, item.lineno))
                continue
        if swappable:
            setting = _swappable_setting(item)
            if setting is not None:
                keys.append(Dependency("", "__first__", item.lineno, swappable_setting=setting))
                continue
        raise _NotStatic(f"a `{attr}` entry", item.lineno)
    return tuple(keys)


def _swappable_setting(node: ast.expr) -> str | None:
    if (
        isinstance(node, ast.Call)
        and _dotted_tail(node.func) == "swappable_dependency"
        and len(node.args) == 1
        and not node.keywords
    ):
        arg = node.args[0]
        if isinstance(arg, ast.Attribute) and _dotted_tail(arg.value) == "settings":
            return arg.attr
    return None


def _read_bool(node: ast.expr | None, attr: str, *, default: bool | None) -> bool | None:
    if node is None:
        return default
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    raise _NotStatic(f"an `{attr}` value", node.lineno)


def _read_operations(node: ast.expr | None) -> tuple[Operation, ...]:
    # Operations never change the graph, so a computed list is not an error:
    # it only means reversibility is left to Django at sync time.
    if not isinstance(node, (ast.List, ast.Tuple)):
        return ()
    return tuple(_read_operation(item) for item in node.elts if isinstance(item, ast.Call))


def _read_operation(call: ast.Call) -> Operation:
    name = _dotted_tail(call.func)
    reversible = True
    if name == "RunPython":
        reversible = _has_argument(call, 1, "reverse_code")
    elif name == "RunSQL":
        reversible = _has_argument(call, 1, "reverse_sql")
    elif name == "SeparateDatabaseAndState":
        inner = _argument(call, 0, "database_operations")
        reversible = all(op.reversible for op in _read_operations(inner))
    return Operation(name, call.lineno, reversible)


def _argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    if len(call.args) > position:
        return call.args[position]
    return None


def _has_argument(call: ast.Call, position: int, keyword: str) -> bool:
    value = _argument(call, position, keyword)
    return value is not None and not (isinstance(value, ast.Constant) and value.value is None)


def _dotted_tail(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""
