"""Read a migration module's source into a `ParsedMigration`, statically.

Nothing is imported or executed: the module is parsed with `ast` and the
`Migration` class body is read for the attributes Django's loader uses.
"""

from __future__ import annotations

import ast
import codecs
import contextlib
import io
import itertools
import re
import sys
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from migrail.graph.excerpt import excerpt

Key = tuple[str, str]

CONFLICT_MARKER = re.compile(rb"^(<{7}|\|{7}|={7}|>{7})(?: |$)", re.MULTILINE)
SOUTH_BASES = frozenset({"SchemaMigration", "DataMigration"})
GRAPH_ATTRIBUTES = ("dependencies", "replaces", "run_before", "initial", "atomic")
# Memory, not time, is the limit: `ast` needs about 100 bytes per source byte,
# and real migrations, squashes included, stay far below this.
MAX_SOURCE_BYTES = 4 * 2**20
CONSTRUCTORS = frozenset({"__init__", "__new__"})
SYNTAX_MESSAGE_LIMIT = 100  # Python's own words, which quote a token at most
IRREVERSIBLE_KEPT = 20  # named in messages; beyond that, the count says enough


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
    operation_count: int
    # The first IRREVERSIBLE_KEPT irreversible operations: a record per
    # operation would make a huge migration cost memory and cache space.
    irreversible_operations: tuple[Operation, ...]


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
    """Never raises: whatever the bytes, the answer is a migration or a problem."""
    if len(data) > MAX_SOURCE_BYTES:
        return ParseProblem(
            "not-static",
            1,
            f"is {len(data) / 2**20:.1f} MB, larger than the {MAX_SOURCE_BYTES // 2**20} MB "
            "migrail reads statically",
        )
    if b"\0" in data:
        return ParseProblem("binary", 1, "is a binary file, not Python source")
    try:
        found = _parse(data)
    except (RecursionError, MemoryError):
        # Python itself cannot compile such nesting (`1+1+…`, `a.b.b…`, `- - -…`).
        return ParseProblem("not-static", 1, "is nested too deeply to read statically")
    if isinstance(found, ParseProblem) and found.kind in ("syntax", "encoding"):
        marker = CONFLICT_MARKER.search(data) if _may_have_markers(data) else None
        if marker is not None:
            line = data.count(b"\n", 0, marker.start()) + 1
            return ParseProblem("conflict-markers", line, "has unresolved git conflict markers")
    return found


def _parse(data: bytes) -> ParsedMigration | ParseProblem:
    """Plain UTF-8 is decoded here; anything else goes to Python's tokenizer as bytes, whose
    verdict is the import's own (a BOM, a PEP 263 cookie, bad bytes Python tolerates)."""
    text = None
    second_line_end = data.find(b"\n", data.find(b"\n") + 1)
    if not data.startswith(codecs.BOM_UTF8) and data.find(b"coding", 0, second_line_end) < 0:
        with contextlib.suppress(UnicodeDecodeError):
            text = data.decode("utf-8")
    try:
        module = ast.parse(data if text is None else text)
    except SyntaxError as err:
        if text is None:
            return _undecodable(data, err)
        return _syntax_error(err.msg, err.lineno)
    except (ValueError, UnicodeError, LookupError) as err:
        return _syntax_error(str(err), 1)
    if sys.version_info < (3, 11):
        _compiles_as_deeply_as_the_import(module)
    return _read_module(module)


def _compiles_as_deeply_as_the_import(module: ast.Module) -> None:
    """Python 3.10's parser accepts nesting its compiler cannot (`1+1+…` 100,000 times), so
    the import fails where the parse did not: compile, and let a RecursionError say so."""
    with contextlib.suppress(SyntaxError, ValueError):
        compile(module, "<migration>", "exec", dont_inherit=True)


def _syntax_error(message: str, line: int | None) -> ParseProblem:
    return ParseProblem(
        "syntax", line or 1, f"has a syntax error: {excerpt(message, SYNTAX_MESSAGE_LIMIT)}"
    )


def _undecodable(data: bytes, err: SyntaxError) -> ParseProblem:
    """Python refused bytes that are not plain UTF-8: say why in plainer words than its own."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        codec = codecs.lookup(encoding)
    except (SyntaxError, LookupError):
        encoding, codec = "utf-8", codecs.lookup("utf-8")
    if codec.name in ("utf-8", "utf-8-sig"):
        bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
        try:
            data[bom:].decode("utf-8")
        except UnicodeDecodeError as bad:
            at = bom + bad.start
            line = data.count(b"\n", 0, at) + 1
            return ParseProblem("encoding", line, f"is not valid utf-8 (byte {at})")
        return _syntax_error(err.msg, err.lineno)
    if not codec._is_text_encoding:
        return ParseProblem(
            "syntax", 1, f"declares the encoding {excerpt(encoding)}, which is not a text encoding"
        )
    try:
        data.decode(encoding)
    except (UnicodeError, LookupError):
        return ParseProblem(
            "syntax", 1, f"declares the encoding {excerpt(encoding)}, which cannot decode it"
        )
    return _syntax_error(err.msg, err.lineno)


def _may_have_markers(data: bytes) -> bool:
    return any(m in data for m in (b"<<<<<<<", b"=======", b">>>>>>>", b"|||||||"))


def _read_module(module: ast.Module) -> ParsedMigration | ParseProblem:
    """The module's `Migration` class, read only when nothing else at import time can change it."""
    index = None
    for position, node in enumerate(module.body):
        if isinstance(node, ast.ClassDef) and node.name == "Migration":
            index = position
    if index is None:
        bindings = (_mentions(n, {"Migration"}, loads=False) for n in module.body)
        line = next((found for found in bindings if found is not None), None)
        if line is not None:
            return ParseProblem(
                "not-static", line, "defines `Migration` in a way migrail cannot read statically"
            )
        return ParseProblem("no-migration-class", 1, "has no Migration class")
    migration_class = module.body[index]
    assert isinstance(migration_class, ast.ClassDef)
    base_names = {_dotted_tail(base) for base in migration_class.bases}
    if base_names & SOUTH_BASES or _imports_south(module):
        return ParseProblem("not-django", migration_class.lineno, "is a South migration")
    try:
        for later in module.body[index + 1 :]:
            line = _mentions(later, {"Migration"})
            if line is not None:
                raise _NotStatic("`Migration` changed after its class", line)
        return _read_class(migration_class, module.body[:index])
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


def _read_class(cls: ast.ClassDef, before: list[ast.stmt]) -> ParsedMigration:
    """The attributes Django's loader reads, looked up as Python would: class, then bases."""
    if cls.decorator_list or cls.keywords:
        raise _NotStatic("a decorator or metaclass on `Migration`", cls.lineno)
    if all(_dotted_tail(base) == "Migration" for base in cls.bases) and not any(
        isinstance(stmt, ast.ClassDef) and stmt.name == "Migration" for stmt in before
    ):
        values = _class_values(cls)  # the usual `class Migration(migrations.Migration)`
    else:
        values = _inherited_values(cls, before)
    operations = values.get("operations")
    return ParsedMigration(
        class_line=cls.lineno,
        dependencies=_read_keys(values.get("dependencies"), "dependencies", swappable=True),
        replaces=_read_keys(values.get("replaces"), "replaces"),
        run_before=_read_keys(values.get("run_before"), "run_before"),
        initial=_read_bool(values.get("initial"), "initial", default=None),
        atomic=bool(_read_bool(values.get("atomic"), "atomic", default=True)),
        operation_count=len(operations.elts)
        if isinstance(operations, (ast.List, ast.Tuple))
        else 0,
        irreversible_operations=tuple(
            itertools.islice(_irreversible(operations), IRREVERSIBLE_KEPT)
        ),
    )


def _inherited_values(cls: ast.ClassDef, before: list[ast.stmt]) -> dict[str, ast.expr]:
    chain = [k if isinstance(k, str) else _class_values(k) for k in _lookup_chain(cls, before)]
    values: dict[str, ast.expr] = {}
    for attr in (*GRAPH_ATTRIBUTES, "operations"):
        for klass in chain:
            if isinstance(klass, str):
                if attr == "dependencies":
                    raise _NotStatic(
                        f"`dependencies` inherited from `{excerpt(klass)}`", cls.lineno
                    )
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
            elif _dotted_tail(base) == "Migration" or name == "object":
                continue
            else:
                chain.append(ast.unparse(base))

    visit(cls, local)
    return chain


def _class_values(cls: ast.ClassDef) -> dict[str, ast.expr]:
    """Names bound by plain assignments in a class body; anything else touching them is refused."""
    values: dict[str, ast.expr] = {}
    watched = {*GRAPH_ATTRIBUTES}
    for stmt in cls.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                _assign(values, target, stmt.value, watched)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            if stmt.value is not None:
                values[stmt.target.id] = stmt.value
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if stmt.name in watched:
                raise _NotStatic(f"a `{stmt.name}` defined by a def or class", stmt.lineno)
            if stmt.name in CONSTRUCTORS and _touches(stmt, watched):
                # Django's loader instantiates the class: this code runs.
                raise _NotStatic(
                    f"a `{stmt.name}` changing the migration's attributes", stmt.lineno
                )
        elif isinstance(stmt, ast.Pass) or (
            isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        ):
            continue
        else:
            line = _mentions(stmt, watched)
            if line is not None:
                raise _NotStatic("a statement changing the migration's attributes", line)
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
    line = _mentions(target, watched)
    if line is not None:
        raise _NotStatic("an assignment to the migration's attributes", line)


def _mentions(node: ast.AST, names: set[str], *, loads: bool = True) -> int | None:
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


def _read_keys(
    node: ast.expr | None, attr: str, *, swappable: bool = False
) -> tuple[Dependency, ...]:
    if node is None:
        return ()
    if not isinstance(node, (ast.List, ast.Tuple)):
        raise _NotStatic(f"a `{attr}` value", node.lineno)
    keys = []
    for item in node.elts:
        # Django's loader uses each entry as a dict key: a list there is a TypeError.
        if isinstance(item, ast.Tuple) and len(item.elts) == 2:
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
            model = _swappable_literal(item)
            if model is not None:  # swappable_dependency("app.Model"): that app's first
                keys.append(Dependency(model, "__first__", item.lineno))
                continue
        raise _NotStatic(f"a `{attr}` entry", item.lineno)
    return tuple(keys)


def _swappable_argument(node: ast.expr) -> ast.expr | None:
    """The one argument of a `swappable_dependency(...)` call."""
    if (
        isinstance(node, ast.Call)
        and _dotted_tail(node.func) == "swappable_dependency"
        and len(node.args) == 1
        and not node.keywords
    ):
        return node.args[0]
    return None


def _swappable_setting(node: ast.expr) -> str | None:
    # `settings.AUTH_USER_MODEL`, or an app's own settings object
    # (django-oauth-toolkit's `oauth2_settings.REFRESH_TOKEN_MODEL`): the setting's name.
    arg = _swappable_argument(node)
    if isinstance(arg, ast.Attribute) and _dotted_tail(arg.value):
        return arg.attr
    return None


def _swappable_literal(node: ast.expr) -> str | None:
    """The app label of `swappable_dependency("app.Model")`."""
    arg = _swappable_argument(node)
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.count(".") == 1:
        return arg.value.split(".", 1)[0]
    return None


def _read_bool(node: ast.expr | None, attr: str, *, default: bool | None) -> bool | None:
    if node is None:
        return default
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Constant) and node.value is None and default is None:
        return None
    raise _NotStatic(f"an `{attr}` value", node.lineno)


def _irreversible(node: ast.expr | None) -> Iterator[Operation]:
    # Operations never change the graph, so a computed list is not an error:
    # it only means reversibility is left to Django at sync time.
    if not isinstance(node, (ast.List, ast.Tuple)):
        return
    for item in node.elts:
        if isinstance(item, ast.Call) and not _is_reversible(item):
            yield Operation(_dotted_tail(item.func), item.lineno, reversible=False)


def _is_reversible(call: ast.Call) -> bool:
    name = _dotted_tail(call.func)
    if name == "RunPython":
        return _has_argument(call, 1, "reverse_code")
    if name == "RunSQL":
        return _has_argument(call, 1, "reverse_sql")
    if name == "SeparateDatabaseAndState":
        inner = _argument(call, 0, "database_operations")
        return next(_irreversible(inner), None) is None
    return True


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
