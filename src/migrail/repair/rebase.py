"""`migrail rebase`: move this branch's migrations after the other side's leaf.

Per app, the migrations whose files the base side (see `merge_state`) lacks
are this branch's. They form a chain; it is renumbered from the base's leaf
on, its root's dependency on the fork point is pointed at that leaf, every
reference to a renamed migration (in any app) follows, `max_migration.txt`
names the new last migration, and the result is staged. Static and git only:
no Django settings are needed.

Only apps with several leaves move: a fork already joined by a merge migration
is left as it is. Leaves are counted on the graph `check` builds, as Django's
loader does: a squash with `replaces` stands for its originals, so an original
still on disk beside its squash is no leaf of its own. Every rename and rewrite
is planned and every destination checked before the first file changes; if
writing or staging fails, the files are put back, so the work tree and the
index end as they were or as planned.
Migrations that are symbolic links are never edited or renamed.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from posixpath import dirname

from migrail.checks.rules import project_graph
from migrail.errors import EXIT_CLEAN, MigrailError
from migrail.graph.graph import MigrationGraph
from migrail.graph.max_migration import render
from migrail.graph.parser import Key, ParsedMigration, ParseProblem
from migrail.repair.chains import (
    RebaseRefused,
    chain_in_order,
    graph_after,
    leaves_among,
    same_app_deps,
    single_leaf,
)
from migrail.repair.merge_state import (
    Operation,
    current_operation,
    keeping_published,
    remember_renames,
    remembered_renames,
)
from migrail.repair.renumber import new_names, rewrite_dependencies
from migrail.sources.gitrepo import GitRepo
from migrail.sources.packages import MigrationFile, MigrationPackage

ONTO_CANDIDATES = 50  # commits of this branch tried as the side to keep, newest first


@dataclass(frozen=True)
class Rename:
    app: str
    old: str
    new: str
    old_path: str
    new_path: str


@dataclass
class RebasePlan:
    operation: Operation
    renames: list[Rename] = field(default_factory=list)
    contents: dict[str, bytes] = field(default_factory=dict)  # by path before renaming
    max_migrations: dict[str, bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    forked: bool = False  # whether any app it looked at has several leaves

    @property
    def moved(self) -> list[Key]:
        return [(r.app, r.old) for r in self.renames]

    @property
    def is_empty(self) -> bool:
        return not self.renames and not self.contents and not self.max_migrations

    @property
    def nothing_to_do(self) -> str:
        if not self.forked:
            return "nothing to rebase: no app has several leaf migrations"
        return "nothing to move: this branch's migrations already follow the other side's"


def plan_rebase(
    repo: GitRepo, packages: list[MigrationPackage], apps: list[str], onto: str | None = None
) -> RebasePlan:
    _refuse_unknown_apps(packages, apps)
    graph = project_graph(packages)
    leaves = graph.leaves_by_app()
    forked = [
        p.path
        for p in packages
        if (not apps or p.label in apps) and len(leaves.get(p.label, [])) > 1
    ]
    try:
        operation = keeping_published(repo, current_operation(repo, onto), forked)
    except MigrailError:
        if forked or onto is not None:
            raise  # a fork needs its other side; a revision given must be one
        # Nothing forked and no other side to name (on the default branch itself): nothing to
        # rebase, whatever the side would have been.
        return RebasePlan(Operation("none", repo.resolve("HEAD"), base_name="HEAD"))
    planner = _Planner(repo, operation, packages, graph, apps)
    for package in packages:
        if apps and package.label not in apps:
            continue
        planner.plan_app(package)
    if planner.renames_nothing():
        return planner.plan
    for package in packages:
        for migration_file in package.migrations.values():
            planner.plan_rewrite(package, migration_file)
    return planner.plan


def _refuse_unknown_apps(packages: list[MigrationPackage], apps: list[str]) -> None:
    """Every app named on the command line must have a migrations package."""
    known = {p.label for p in packages}
    for app in apps:
        if app not in known:
            raise RebaseRefused(f"no migrations package for app {app!r}")


class _Planner:
    """`plan_rebase`'s two passes: rename each forked app's chain, then rewrite references.

    `global_map` is every rename, remembered from earlier steps of this rebase
    or planned now; `root_maps` holds, by path, the extra rewrite that points
    a chain's root from the fork point at the other side's leaf.

    `leaves` (which apps are forked) are the project graph's as the files are;
    `graph`, which orders each side and finds its leaf, is the same graph read
    with the renames of earlier steps, so a replayed commit's dependency on a
    migration an earlier step renamed still links it to its chain.
    """

    def __init__(
        self,
        repo: GitRepo,
        operation: Operation,
        packages: list[MigrationPackage],
        graph: MigrationGraph,
        apps: list[str],
    ) -> None:
        """An empty plan, with the renames remembered from earlier steps of this rebase."""
        self.repo = repo
        self.apps = apps
        self.operation = operation
        self.leaves = graph.leaves_by_app()
        self.base_paths = set(repo.tree_entries(operation.base))
        self.plan = RebasePlan(operation)
        self.remembered = remembered_renames(repo, operation)
        self.graph = graph_after(packages, self.remembered) if self.remembered else graph
        self.global_map: dict[Key, Key] = dict(self.remembered)
        self.root_maps: dict[str, dict[Key, Key]] = {}

    def plan_app(self, package: MigrationPackage) -> None:
        """Plan one app's move: its chain renamed after the base's leaf, its root repointed."""
        _refuse_broken(package)
        if len(self.leaves.get(package.label, [])) < 2:
            return  # linear, or a fork already joined by a merge migration
        self.plan.forked = True
        moving = {n for n, f in package.migrations.items() if f.path not in self.base_paths}
        if not moving:
            return
        for name in sorted(moving):
            _refuse_link(self.repo, package.migrations[name].path)
        _refuse_squash(package, moving)
        staying = set(package.migrations) - moving
        chain, roots = self.single_chain(package, moving)
        base_leaf = single_leaf(self.graph, package.label, staying)
        if base_leaf is None:
            return  # the whole app is this branch's: nothing to move after
        renamed = new_names(chain, base_leaf)
        self.rename(package, renamed)
        self.point_roots(package, roots, staying, base_leaf)
        last = renamed.get(chain[-1], chain[-1])
        if package.max_migration != render(last):
            self.plan.max_migrations[package.max_migration_path] = render(last)

    def single_chain(
        self, package: MigrationPackage, moving: set[str]
    ) -> tuple[list[str], list[str]]:
        """The moving migrations in order and their roots; refused unless one root, one leaf."""
        chain, roots = chain_in_order(self.graph, package.label, moving)
        ends = leaves_among(self.graph, package.label, moving)
        if len(roots) > 1 or len(ends) > 1:
            # Both sides of the fork are "this branch's": renumbering would fork again.
            sides = ", ".join(sorted(ends | set(roots)))
            base = self.operation.base_name or self.operation.base[:12]
            raise RebaseRefused(
                f"{package.label}'s migrations that {base} "
                f"lacks are forked themselves ({sides}): {self.advice(package)}; "
                "nothing was changed"
            )
        return chain, roots

    def advice(self, package: MigrationPackage) -> str:
        """What repairs a fork both sides of which are this branch's.

        With nothing in progress, both sides are often on this branch (two
        migrations numbered alike, one maybe not committed yet): the side to keep
        is then the newest commit of this branch that has one side and not the
        other, checked as `--onto` would plan it.
        """
        if self.operation.kind != "none":
            return (
                "name the side to keep with --onto REV "
                "(the branch whose migrations keep their names)"
            )
        out = self.repo.run(
            "rev-list",
            "--first-parent",
            f"--max-count={ONTO_CANDIDATES}",
            "HEAD",
            "--not",
            self.operation.base,
            check=False,
        )
        commits = out.decode().split()
        for back, commit in enumerate(commits):
            if self.keeps_one_side(package, commit):
                rev = f"HEAD~{back}" if back else "HEAD"
                command = " ".join(["migrail rebase", *(self.apps or [package.label])])
                return (
                    f"`{command} --onto {rev}` keeps the names of those {rev} has and "
                    "moves the others after them"
                )
        which = (
            "no commit of this branch"
            if len(commits) < ONTO_CANDIDATES
            else f"none of this branch's last {ONTO_CANDIDATES} commits"
        )
        return (
            f"{which} has one side without the other: join them with "
            f"`python manage.py makemigrations --merge {package.label}`"
        )

    def keeps_one_side(self, package: MigrationPackage, commit: str) -> bool:
        """Whether `--onto commit` moves a single chain after a single leaf of this app."""
        listed = self.repo.run(
            "ls-tree",
            "-r",
            "-z",
            "--name-only",
            "--full-tree",
            "--end-of-options",
            commit,
            "--",
            package.path,
        )
        paths = {os.fsdecode(path) for path in listed.split(b"\0") if path}
        moving = {n for n, f in package.migrations.items() if f.path not in paths}
        if not moving:
            return False
        try:
            _refuse_squash(package, moving)
            _, roots = chain_in_order(self.graph, package.label, moving)
            ends = leaves_among(self.graph, package.label, moving)
            staying = set(package.migrations) - moving
            leaf = single_leaf(self.graph, package.label, staying)
        except RebaseRefused:
            return False
        return len(roots) == 1 and len(ends) == 1 and leaf is not None

    def rename(self, package: MigrationPackage, renamed: dict[str, str]) -> None:
        """Record each new name, in the map references follow and as a file rename."""
        for old, new in renamed.items():
            self.global_map[(package.label, old)] = (package.label, new)
            old_path = package.migrations[old].path
            self.plan.renames.append(
                Rename(package.label, old, new, old_path, f"{dirname(old_path)}/{new}.py")
            )

    def point_roots(
        self, package: MigrationPackage, roots: list[str], staying: set[str], base_leaf: str
    ) -> None:
        """Each root's dependency on the fork point is to read the base's leaf instead."""
        for root in roots:
            fork = {
                (package.label, d.written): (package.label, base_leaf)
                for d in same_app_deps(package, root, self.remembered)
                if d.name in staying and d.name != base_leaf
            }
            if fork:
                self.root_maps[package.migrations[root].path] = fork

    def renames_nothing(self) -> bool:
        """Whether no reference anywhere can need rewriting: nothing renamed, now or before."""
        return not self.plan.renames and not self.root_maps and not self.remembered

    def plan_rewrite(self, package: MigrationPackage, migration_file: MigrationFile) -> None:
        """Rewrite the file's references to renamed migrations, noting other apps' ones."""
        mapping = {**self.global_map, **self.root_maps.get(migration_file.path, {})}
        parsed = migration_file.migration
        if parsed is None or not _refers_to(parsed, mapping):
            return  # unreadable files were refused above for the apps that move
        _refuse_link(self.repo, migration_file.path)
        try:
            original = (self.repo.root / migration_file.path).read_bytes()
            rewritten = rewrite_dependencies(original, mapping)
        except (OSError, SyntaxError, ValueError):
            return
        if rewritten == original:
            return
        self.plan.contents[migration_file.path] = rewritten
        self.note_other_apps(package, migration_file.path, original)

    def note_other_apps(self, package: MigrationPackage, path: str, original: bytes) -> None:
        """Name each rename of another app's migration that the rewritten file mentions."""
        renamed_keys = {k: v for k, v in self.global_map.items() if k not in self.remembered}
        for key, target in sorted(renamed_keys.items()):
            if key[0] != package.label and key[1].encode() in original:
                self.plan.notes.append(
                    f"updated {path}: its dependency on {key[0]}.{key[1]} "
                    f"now reads {target[0]}.{target[1]}"
                )


def apply_plan(repo: GitRepo, plan: RebasePlan) -> list[str]:
    """Write the plan and stage it; on any failure put every file back and raise."""
    try:
        final, removed = _final_files(repo, plan)
    except OSError as err:
        raise RebaseRefused(f"{err}; nothing was changed") from err
    sources = {*plan.contents, *(r.old_path for r in plan.renames)}
    tracked = set(repo.index_entries(tuple(f":(literal){path}" for path in sorted(sources))))
    to_stage = [path for path in plan.contents if path in tracked]
    for rename in plan.renames:
        if rename.old_path in tracked:
            to_stage += [rename.old_path, rename.new_path]
    to_stage += list(plan.max_migrations)
    originals = {path: _read_original(repo, path) for path in sorted({*final, *removed})}
    try:
        for path in removed:
            (repo.root / path).unlink()
        for path, (content, mode) in final.items():
            _write(repo, path, content, mode)
        if to_stage:
            literal = [f":(literal){path}" for path in dict.fromkeys(to_stage)]
            repo.run("add", "--all", "--", *literal)
    except (OSError, MigrailError) as err:
        _put_back(repo, originals)
        raise RebaseRefused(f"{err}; nothing was changed") from err
    lines = [f"renamed {r.old_path} -> {r.new_path}" for r in plan.renames]
    lines += [f"wrote {p}: {c.decode().strip()}" for p, c in plan.max_migrations.items()]
    lines += plan.notes
    if plan.operation.kind == "rebase":
        remember_renames(repo, plan.operation, [(r.app, r.old, r.new) for r in plan.renames])
    return lines


_Content = tuple[bytes, int | None]  # bytes and permission bits (None: a new file's default)
_Original = _Content | None  # None where there was no file


def _final_files(repo: GitRepo, plan: RebasePlan) -> tuple[dict[str, _Content], set[str]]:
    """Every file as the plan leaves it, and the paths it removes.

    Computed from the files as they are, so a rename whose destination is
    another renamed file (0003_x -> 0004_x while 0004_x -> 0005_x) needs no order.
    Refuses a destination that is taken by anything the plan does not move.
    """
    renamed_from = {r.old_path for r in plan.renames}
    final: dict[str, _Content] = {}
    for path, content in plan.contents.items():
        if path not in renamed_from:
            final[path] = (content, _mode(repo, path))
    for rename in plan.renames:
        if rename.old_path in plan.contents:
            content = plan.contents[rename.old_path]
        else:
            content = (repo.root / rename.old_path).read_bytes()
        final[rename.new_path] = (content, _mode(repo, rename.old_path))
    for path, content in plan.max_migrations.items():
        _refuse_link(repo, path)
        final[path] = (content, _mode(repo, path) if os.path.lexists(repo.root / path) else None)
    for rename in plan.renames:
        if os.path.lexists(repo.root / rename.new_path) and rename.new_path not in renamed_from:
            raise RebaseRefused(
                f"{rename.new_path} already exists and is not a migration being moved; "
                "nothing was changed. Move it away, then run `migrail rebase` again."
            )
    return final, renamed_from - set(final)


def _mode(repo: GitRepo, path: str) -> int:
    return stat.S_IMODE((repo.root / path).lstat().st_mode)


def _read_original(repo: GitRepo, path: str) -> _Original:
    target = repo.root / path
    if not os.path.lexists(target):
        return None
    return target.read_bytes(), _mode(repo, path)


def _write(repo: GitRepo, path: str, content: bytes, mode: int | None) -> None:
    target = repo.root / path
    target.write_bytes(content)
    if mode is not None:
        os.chmod(target, mode)


def _put_back(repo: GitRepo, originals: dict[str, _Original]) -> None:
    for path, original in originals.items():
        if original is None:
            (repo.root / path).unlink(missing_ok=True)
        else:
            _write(repo, path, *original)


def run_rebase(repo: GitRepo, plan: RebasePlan) -> int:
    if published := plan.operation.published:
        where = ", ".join(f"{path} is on {remote}" for path, remote in published)
        print(
            f"migrail: {where} already (databases deployed from there may have applied "
            f"{'them' if len(published) > 1 else 'it'}), so the migrations of MERGE_HEAD move "
            "after it instead"
        )
    if plan.is_empty:
        print(f"migrail: {plan.nothing_to_do}")
        return EXIT_CLEAN
    for line in apply_plan(repo, plan):
        print(f"migrail: {line}")
    follow_up = {
        "merge": "review, then `git commit`",
        "rebase": "review, then `git rebase --continue`",
        "cherry-pick": "review, then `git cherry-pick --continue`",
        "none": "review, then commit",
    }[plan.operation.kind]
    print(f"migrail: staged; {follow_up}")
    return EXIT_CLEAN


def _refers_to(parsed: ParsedMigration, mapping: dict[Key, Key]) -> bool:
    named = (*parsed.dependencies, *parsed.run_before, *parsed.replaces)
    return any((d.app, d.name) in mapping for d in named)


def _refuse_link(repo: GitRepo, path: str) -> None:
    """Never edit or rename through a link: its target may lie outside the work tree."""
    if (repo.root / path).is_symlink():
        raise RebaseRefused(
            f"{path} is a symbolic link; migrail rebase does not edit or rename links: "
            "replace it with the file it points to, then run `migrail rebase` again"
        )
    directory = Path(os.path.realpath(repo.root / dirname(path)))
    if not directory.is_relative_to(os.path.realpath(repo.root)):
        raise RebaseRefused(
            f"{path} lies outside the work tree through a symbolic link to a directory; "
            "migrail rebase does not edit or rename files there"
        )


def _refuse_broken(package: MigrationPackage) -> None:
    for migration_file in package.migrations.values():
        if isinstance(migration_file.parsed, ParseProblem):
            raise RebaseRefused(
                f"{migration_file.path}:{migration_file.parsed.line}: {migration_file.name} "
                f"{migration_file.parsed.message}; fix it first, then run `migrail rebase` again"
            )


def _refuse_squash(package: MigrationPackage, moving: set[str]) -> None:
    """A squash among this branch's migrations would need its name and `replaces` renumbered
    with its originals: not done."""
    for name in sorted(moving):
        parsed = package.migrations[name].migration
        if parsed is not None and parsed.replaces:
            raise RebaseRefused(
                f"{package.migrations[name].path} is a squash (it has `replaces`) among the "
                "migrations to move; migrail rebase does not renumber squashes: join the fork "
                f"with `python manage.py makemigrations --merge {package.label}` instead; "
                "nothing was changed"
            )
