"""Read a migration module's source into a `ParsedMigration`, statically.

Nothing is imported or executed: the module is parsed with `ast` and the
`Migration` class body is read for the attributes Django's loader uses.
Which expression each attribute is bound to is `static_class`'s question;
this module turns those expressions into a `ParsedMigration`.
"""

from __future__ import annotations

import ast
import codecs
import contextlib
import io
import re
import sys
import tokenize
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from migrail.graph.excerpt import excerpt
from migrail.graph.shadowing import FUNCTION, swappable_spellings
from migrail.graph.static_class import (
    CONSTRUCTORS,
    DYNAMIC,
    GRAPH_ATTRIBUTES,
    NotStatic,
    attribute_values,
    dotted_tail,
    mentions,
)

# The two constants moved to `static_class` with the code that reads them; still named here.
__all__ = [
    "CONFLICT_MARKER",
    "CONSTRUCTORS",
    "GRAPH_ATTRIBUTES",
    "MAX_SOURCE_BYTES",
    "SOUTH_BASES",
    "SYNTAX_MESSAGE_LIMIT",
    "Dependency",
    "Key",
    "ParseProblem",
    "ParsedMigration",
    "ProblemKind",
    "parse_migration",
]

Key = tuple[str, str]

CONFLICT_MARKER = re.compile(rb"^(<{7}|\|{7}|={7}|>{7})(?: |$)", re.MULTILINE)
# The comment Django's squashmigrations writes above code it could not copy into the squash.
_LEFT_TO_PORT = b"# Functions from the following migrations need manual copying."
# What git writes around a conflict: `<<<<<<< ours`, later `>>>>>>> theirs`, each a line.
_CONFLICT_BLOCK = re.compile(rb"^<{7}(?: |$).*?^>{7}(?: |$)", re.MULTILINE | re.DOTALL)
SOUTH_BASES = frozenset({"SchemaMigration", "DataMigration"})
# Memory, not time, is the limit: `ast` needs about 100 bytes per source byte,
# and real migrations, squashes included, stay far below this.
MAX_SOURCE_BYTES = 4 * 2**20
SYNTAX_MESSAGE_LIMIT = 100  # Python's own words, which quote a token at most
_DYNAMIC_BYTES = tuple((name, name.encode()) for name in sorted(DYNAMIC))
_FUNCTION_BYTES = FUNCTION.encode()


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
class ParsedMigration:
    class_line: int
    dependencies: tuple[Dependency, ...]
    replaces: tuple[Dependency, ...]
    run_before: tuple[Dependency, ...]
    initial: bool | None
    atomic: bool
    # No operations: the check reads none, and a sync has Django load them.


ProblemKind = Literal[
    "binary",
    "encoding",
    "conflict-markers",
    "syntax",
    "to-port",  # a syntax error where squashmigrations left functions to copy in by hand
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


@contextlib.contextmanager
def source_warnings_ignored() -> Iterator[None]:
    """Python's warnings about the files (`"\\d"` in a RunSQL string…) are not migrail's to
    print: parse within this."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


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
    block = _CONFLICT_BLOCK.search(data) if b"<<<<<<<" in data and b">>>>>>>" in data else None
    if block is not None:  # even inside a string (a RunSQL two branches edited), which parses
        line = data.count(b"\n", 0, block.start()) + 1
        return ParseProblem("conflict-markers", line, "has unresolved git conflict markers")
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
        if found.kind == "syntax" and _LEFT_TO_PORT in data:
            return ParseProblem("to-port", found.line, found.message)
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
    # Only the names of DYNAMIC the bytes contain are looked for in the tree (most: none);
    # all of them in a file with other than ASCII (an identifier Python normalises to one).
    ascii_only = data.isascii()
    dynamic = frozenset(w for w, b in _DYNAMIC_BYTES if b in data) if ascii_only else DYNAMIC
    may_swap = not ascii_only or _FUNCTION_BYTES in data  # else no call to resolve
    return _read_module(module, dynamic, may_swap=may_swap)


def _compiles_as_deeply_as_the_import(module: ast.Module) -> None:
    """Python 3.10's parser accepts nesting its compiler cannot (`1+1+…` 100,000 times), so
    the import fails where the parse did not: compile, and let a RecursionError say so."""
    with contextlib.suppress(SyntaxError, ValueError), source_warnings_ignored():
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


def _read_module(
    module: ast.Module, dynamic: frozenset[str], *, may_swap: bool = True
) -> ParsedMigration | ParseProblem:
    """The module's `Migration` class, read only when nothing else at import time can change it."""
    index = None
    for position, node in enumerate(module.body):
        if isinstance(node, ast.ClassDef) and node.name == "Migration":
            index = position
    if index is None:
        bindings = (mentions(n, {"Migration"}, loads=False) for n in module.body)
        line = next((found for found in bindings if found is not None), None)
        if line is not None:
            return ParseProblem(
                "not-static", line, "defines `Migration` in a way migrail cannot read statically"
            )
        return ParseProblem("no-migration-class", 1, "has no Migration class")
    migration_class = module.body[index]
    assert isinstance(migration_class, ast.ClassDef)
    base_names = {dotted_tail(base) for base in migration_class.bases}
    if base_names & SOUTH_BASES or _imports_south(module):
        return ParseProblem("not-django", migration_class.lineno, "is a South migration")
    try:
        _refuse_later_changes(module.body, index, dynamic)
        spellings = (
            swappable_spellings([*module.body[:index], *migration_class.body])
            if may_swap
            else frozenset()
        )
        return _read_class(migration_class, module.body[:index], spellings, dynamic)
    except NotStatic as err:
        return ParseProblem("not-static", err.line, err.message)


def _refuse_later_changes(body: list[ast.stmt], index: int, dynamic: frozenset[str]) -> None:
    """NotStatic when a statement other than the class (`body[index]`) can change it: one
    naming `Migration` after it, or one binding names from strings anywhere."""
    for later in body[index + 1 :]:
        line = mentions(later, {"Migration"})
        if line is not None:
            raise NotStatic("`Migration` changed after its class", line)
    for position, stmt in enumerate(body if dynamic else ()):
        line = mentions(stmt, set(dynamic)) if position != index else None
        if line is not None:  # `exec("Migration.dependencies = …")`, `globals()[…]`
            raise NotStatic("code that binds names from strings (`exec`, `globals()`…)", line)


def _imports_south(module: ast.Module) -> bool:
    for node in module.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "south":
            return True
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "south" for a in node.names
        ):
            return True
    return False


def _read_class(
    cls: ast.ClassDef, before: list[ast.stmt], spellings: frozenset[str], dynamic: frozenset[str]
) -> ParsedMigration:
    """The attributes Django's loader reads, looked up as Python would: class, then bases.
    `spellings`: how a call to Django's own `swappable_dependency` is written here."""
    values = attribute_values(cls, before, dynamic=dynamic)
    return ParsedMigration(
        class_line=cls.lineno,
        dependencies=_read_keys(values.get("dependencies"), "dependencies", swappable=spellings),
        replaces=_read_keys(values.get("replaces"), "replaces"),
        run_before=_read_keys(values.get("run_before"), "run_before"),
        initial=_read_bool(values.get("initial"), "initial", default=None),
        atomic=bool(_read_bool(values.get("atomic"), "atomic", default=True)),
    )


def _read_keys(
    node: ast.expr | None, attr: str, *, swappable: frozenset[str] = frozenset()
) -> tuple[Dependency, ...]:
    if node is None:
        return ()
    if not isinstance(node, (ast.List, ast.Tuple)):
        raise NotStatic(f"a `{attr}` value", node.lineno)
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
            called = item.func if isinstance(item, ast.Call) else None
            if called and dotted_tail(called) == FUNCTION and ast.unparse(called) not in swappable:
                raise NotStatic(f"a `{FUNCTION}` that may not be Django's", item.lineno)
            setting = _swappable_setting(item)
            if setting is not None:
                keys.append(Dependency("", "__first__", item.lineno, swappable_setting=setting))
                continue
            model = _swappable_literal(item)
            if model is not None:  # swappable_dependency("app.Model"): that app's first
                keys.append(Dependency(model, "__first__", item.lineno))
                continue
        if isinstance(item, ast.Call) and isinstance(item.func, ast.Tuple):
            raise NotStatic(
                f"a `{attr}` entry",
                item.lineno,
                message=f"calls one `{attr}` entry with the next: a comma is missing between "
                "them (Django's import fails with a TypeError)",
            )
        raise NotStatic(f"a `{attr}` entry", item.lineno)
    return tuple(keys)


def _swappable_argument(node: ast.expr) -> ast.expr | None:
    """The one argument of a `swappable_dependency(...)` call."""
    if (
        isinstance(node, ast.Call)
        and dotted_tail(node.func) == "swappable_dependency"
        and len(node.args) == 1
        and not node.keywords
    ):
        return node.args[0]
    return None


def _swappable_setting(node: ast.expr) -> str | None:
    # `settings.AUTH_USER_MODEL`, or an app's own settings object
    # (django-oauth-toolkit's `oauth2_settings.REFRESH_TOKEN_MODEL`): the setting's name.
    arg = _swappable_argument(node)
    if isinstance(arg, ast.Attribute) and dotted_tail(arg.value):
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
    raise NotStatic(f"an `{attr}` value", node.lineno)
