"""The static lint: packages in, findings and a per-app summary out. No I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from migrail.checks import findings as codes
from migrail.checks.findings import AppSummary, CheckResult, Finding, MaxMigrationFix
from migrail.graph.excerpt import excerpt
from migrail.graph.graph import DEFAULT_SWAPPABLE, NUMBER, MigrationGraph, build_graph
from migrail.graph.max_migration import (
    ConflictedMaxMigration,
    MalformedMaxMigration,
    MaxMigration,
    read_max_migration,
    render,
)
from migrail.graph.parser import Key, ParsedMigration, ParseProblem
from migrail.sources.packages import MigrationPackage
from migrail.sources.trees import DANGLING_LINK, LEAVES_WORK_TREE, LINK_LOOP, LINK_TO_DIRECTORY

PROBLEM_CODES = {
    "binary": codes.UNREADABLE,
    "encoding": codes.UNREADABLE,
    "unreadable": codes.UNREADABLE,
    "conflict-markers": codes.CONFLICT_MARKERS,
    "syntax": codes.SYNTAX_ERROR,
    "to-port": codes.SYNTAX_ERROR,
    "no-migration-class": codes.NO_MIGRATION_CLASS,
    "not-django": codes.NO_MIGRATION_CLASS,
    "not-static": codes.NOT_STATIC,
}
PROBLEM_HINTS = {
    codes.UNREADABLE: "make it a UTF-8 Python file git can check out",
    codes.CONFLICT_MARKERS: "resolve the conflict, then run `git add`",
    codes.SYNTAX_ERROR: "fix the Python syntax",
    codes.NO_MIGRATION_CLASS: (
        "define `class Migration(migrations.Migration)`, or start the module's name with `_`"
    ),
    codes.NOT_STATIC: "write it as a literal list of (app_label, migration_name) tuples",
}
KIND_HINTS = {
    "to-port": (
        "copy in the functions its top comment names (squashmigrations left them to port), "
        "then run `migrail check --fix`"
    ),
}


def project_graph(
    packages: list[MigrationPackage], *, swappable: Mapping[str, str] = DEFAULT_SWAPPABLE
) -> MigrationGraph:
    """The graph of every readable migration, as Django would build it."""
    migrations = {
        (package.label, f.name): f.migration
        for package in packages
        for f in package.migrations.values()
        if f.migration is not None
    }
    known = [p.label for p in packages]
    return build_graph(migrations, swappable=swappable, known_apps=known).graph


def check_packages(
    packages: list[MigrationPackage], *, swappable: Mapping[str, str] = DEFAULT_SWAPPABLE
) -> CheckResult:
    found: list[Finding] = []
    migrations: dict[Key, ParsedMigration] = {}
    paths: dict[Key, str] = {}
    broken_apps: set[str] = set()
    broken: set[Key] = set()
    split_at: dict[str, Key] = {}  # app -> a migration of its own it depends on, which is not
    for package in packages:
        for migration_file in package.migrations.values():
            key = (package.label, migration_file.name)
            paths[key] = migration_file.path
            parsed = migration_file.parsed
            if isinstance(parsed, ParseProblem):
                broken.add(key)
                broken_apps.add(package.label)
                code = PROBLEM_CODES[parsed.kind]
                found.append(
                    Finding(
                        code,
                        package.label,
                        migration_file.path,
                        parsed.line,
                        f"{migration_file.name} {parsed.message}",
                        KIND_HINTS.get(parsed.kind) or _hint(code, parsed.message),
                    )
                )
            else:
                migrations[key] = parsed

    build = build_graph(migrations, swappable=swappable, known_apps=[p.label for p in packages])
    graph = build.graph
    for dangling in build.dangling:
        if dangling.parent in broken:
            continue
        app, name = dangling.child
        if dangling.parent[0] == app:  # its chain splits there
            split_at.setdefault(app, dangling.parent)
        found.append(
            Finding(
                codes.DANGLING_DEPENDENCY,
                app,
                paths[dangling.child],
                dangling.line,
                f"{name} depends on {excerpt('.'.join(dangling.parent))}, which does not exist",
                "restore that migration, or point the dependency at one that exists",
            )
        )
    for cycle in graph.cycles():
        app, name = cycle[0]
        found.append(
            Finding(
                codes.DEPENDENCY_CYCLE,
                app,
                paths[cycle[0]],
                1,
                "migrations depend on each other in a cycle: "
                + ", ".join(f"{a}.{n}" for a, n in cycle),
                "remove one of the dependencies that closes the cycle",
            )
        )

    summaries: dict[str, AppSummary] = {}
    fixes: list[MaxMigrationFix] = []
    leaves_by_app = graph.leaves_by_app()
    for package in packages:
        leaves = tuple(name for _, name in leaves_by_app.get(package.label, []))
        recorded = _check_max_migration(
            package,
            leaves,
            package.label in broken_apps,
            split_at.get(package.label),
            found=found,
            fixes=fixes,
        )
        summaries[package.label] = AppSummary(package.label, package.path, leaves, recorded)
        found.extend(_shared_numbers(package, graph))
    found.sort(key=lambda f: (f.path, f.line, f.code))
    return CheckResult(summaries, found, fixes)


def _check_max_migration(
    package: MigrationPackage,
    leaves: tuple[str, ...],
    broken: bool,
    split_at: Key | None,
    *,
    found: list[Finding],
    fixes: list[MaxMigrationFix],
) -> str | None:
    """E001-E005 of one package; `split_at`: a missing migration of its own it depends on."""
    label, path = package.label, package.max_migration_path
    if package.max_migration_error is not None:
        found.append(
            Finding(
                codes.UNREADABLE,
                label,
                path,
                1,
                f"max_migration.txt cannot be read: {package.max_migration_error}",
                _hint(codes.UNREADABLE, package.max_migration_error),
            )
        )
        return None
    state = read_max_migration(package.max_migration) if package.max_migration is not None else None
    recorded = state.name if isinstance(state, MaxMigration) else None
    # With a migration unread, the graph may split where Django sees one chain: no fork then.
    if len(leaves) > 1 and not broken:
        found.append(
            Finding(
                codes.FORKED_GRAPH,
                label,
                path,
                1,
                f"app {label!r} has {len(leaves)} leaf migrations: {', '.join(leaves)}",
                f"fix the dependency on {excerpt('.'.join(split_at))} first (E006): the chain "
                "splits there"
                if split_at is not None
                else f"run `migrail rebase {label}` to move this branch's migrations after the "
                f"other side's, or `python manage.py makemigrations --merge {label}`",
            )
        )
    if isinstance(state, ConflictedMaxMigration):
        found.append(
            Finding(
                codes.CONFLICT_MARKERS,
                label,
                path,
                state.line,
                f"max_migration.txt of {label} has git conflict markers: "
                f"ours {_names(state.ours)}, theirs {_names(state.theirs)}",
                f"run `migrail check --fix` to write the latest migration, {leaves[0]}, in it"
                if len(leaves) == 1 and not broken
                else f"run `migrail rebase {label}` to renumber this branch's migrations",
            )
        )
    elif isinstance(state, MalformedMaxMigration):
        found.append(
            Finding(
                codes.MALFORMED_MAX_MIGRATION,
                label,
                path,
                state.line,
                f"max_migration.txt of {label} {state.reason}",
                "run `migrail check --fix`",
            )
        )
    if len(leaves) != 1 or broken:
        return recorded
    leaf = leaves[0]
    if state is None:
        found.append(
            Finding(
                codes.MISSING_MAX_MIGRATION,
                label,
                path,
                1,
                f"max_migration.txt of {label} does not exist (latest migration: {leaf})",
                "run `migrail check --fix` to write it",
            )
        )
    elif recorded is not None and recorded != leaf:
        what = "" if recorded in package.migrations else ", which does not exist"
        found.append(
            Finding(
                codes.STALE_MAX_MIGRATION,
                label,
                path,
                1,
                f"max_migration.txt of {label} names {excerpt(recorded)}{what}, but the latest "
                f"migration is {leaf}",
                "run `migrail check --fix` to update it",
            )
        )
    if recorded != leaf:
        fixes.append(MaxMigrationFix(label, path, render(leaf)))
    return recorded


def _hint(code: str, message: str) -> str:
    if LEAVES_WORK_TREE in message:
        return "replace the link with the file itself, or with a link inside the repository"
    if DANGLING_LINK in message:
        return "`git add` the file the link points to, or replace the link with the file itself"
    if LINK_LOOP in message or LINK_TO_DIRECTORY in message:
        return "point the link at a file inside the repository, or replace it with the file itself"
    return PROBLEM_HINTS[code]


def _names(names: tuple[str, ...]) -> str:
    shown = ", ".join(excerpt(name) for name in names[:3]) + (", …" if len(names) > 3 else "")
    return shown or "(nothing)"


def _shared_numbers(package: MigrationPackage, graph: MigrationGraph) -> list[Finding]:
    """W001, except where a merge migration joins them.

    Two branches' migrations that `makemigrations --merge` joined keep their
    numbers for good: renaming them would break every database that applied them.
    """
    heads = {name.partition("_")[0] for name in package.migrations}
    if len(heads) == len(package.migrations):
        return []  # a shared number is a shared head before the first `_`: none here
    by_number: dict[str, list[str]] = {}
    for name, migration_file in package.migrations.items():
        parsed = migration_file.parsed
        if not isinstance(parsed, ParsedMigration) or parsed.replaces:
            # A squash keeps the number of the first migration it replaces; a file that
            # cannot be read (an error of its own) may be one (Django's, to port by hand).
            continue
        match = NUMBER.match(name)
        if match:
            by_number.setdefault(match.group(1), []).append(name)
    # Sorted where numbers are shared only: nearly never, and this runs for every migration.
    shared = {
        number: sorted(names) for number, names in sorted(by_number.items()) if len(names) > 1
    }
    if shared:
        joined = _joined_by_merges(package.label, graph)
        shared = {n: names for n, names in shared.items() if not joined(names)}
    return [
        Finding(
            codes.SHARED_NUMBER,
            package.label,
            package.migrations[names[1]].path,
            1,
            f"{package.label} migrations share the number {number}: {', '.join(names)}",
            "renumber one of them so the order reads true",
        )
        for number, names in shared.items()
    ]


def _joined_by_merges(app: str, graph: MigrationGraph) -> Callable[[list[str]], bool]:
    """Whether some merge migration of `app` (two same-app parents or more) has all `names`
    among its ancestors, but for itself (a merge may share its parents' number:
    django-celery-beat's `0006_periodictask_priority`)."""
    merges = [
        key
        for key, parents in graph.parents.items()
        if key[0] == app and sum(parent[0] == app for parent in parents) > 1
    ]
    ancestors = [(merge, set(graph.forwards_plan(merge)) - {merge}) for merge in merges]

    def joined(names: list[str]) -> bool:
        keys = {(app, name) for name in names}
        return any(keys - {merge} <= above for merge, above in ancestors)

    return joined
