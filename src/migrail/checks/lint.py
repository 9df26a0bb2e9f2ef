"""`migrail check`: read a source's packages (through the parse cache) and lint them.

Two caches make a repeated check cheap: parsed files by blob id, and the
whole result by a fingerprint of every listed path, its blob id and the
configuration, so an unchanged tree is answered without parsing anything.
"""

from __future__ import annotations

import gc
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from migrail import __version__
from migrail.errors import MigrailError
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sources.parse_cache import ParseCache
from migrail.sources.pickle_file import load_pickle, store_pickle
from migrail.sources.trees import Source, WorkingTree, leaves_work_tree

if TYPE_CHECKING:
    from migrail.checks.findings import CheckResult, Finding, MaxMigrationFix
    from migrail.sources.packages import MigrationPackage
    from migrail.sources.parallel_parse import ParsingAhead


def load_packages(
    repo: GitRepo,
    source: Source,
    config: Config,
    cache: ParseCache | None = None,
    ahead: ParsingAhead | None = None,
) -> list[MigrationPackage]:
    """The source's packages, parsed through `cache` (saved by its owner) or the repository's
    parse cache, loaded and saved here (with what was parsed `ahead` of the listing)."""
    from migrail.sources.packages import discover_packages

    if cache is not None:
        return discover_packages(source, config, cache)
    cache = parse_cache(repo)
    if ahead is not None:
        ahead.fill(cache, source.entries())
    packages = discover_packages(source, config, cache)
    cache.save()
    return packages


def parse_cache(repo: GitRepo) -> ParseCache:
    return ParseCache.of_repository(repo.migrail_dir)


def lint(repo: GitRepo, source: Source, config: Config) -> CheckResult:
    result = _lint_migrations(repo, source, config)
    both = linear_migrations_alongside(repo.root, config)
    if both is None:
        return result
    from migrail.checks.findings import CheckResult as Result

    return Result(result.apps, [*result.findings, both], result.fixes)


def linear_migrations_alongside(root: Path, config: Config) -> Finding | None:
    """W002 when the settings file lists django_linear_migrations and migrail (read as text)."""
    from migrail.sources.settings_location import settings_module

    try:
        module, project_dir = settings_module(root, config)
    except MigrailError:
        return None
    base = project_dir / Path(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file() and not leaves_work_tree(root, os.path.relpath(path, root)):
            text = path.read_text(errors="replace")
            break
    else:
        return None
    linear = re.search(r"""["']django_linear_migrations["']""", text)
    if linear is None or not re.search(r"""["']migrail(\.apps\.MigrailConfig)?["']""", text):
        return None
    from migrail.checks.findings import LINEAR_MIGRATIONS_INSTALLED, Finding

    return Finding(
        LINEAR_MIGRATIONS_INSTALLED,
        "",
        path.relative_to(root).as_posix(),
        text.count("\n", 0, linear.start()) + 1,
        "django_linear_migrations is in INSTALLED_APPS alongside migrail",
        "remove it: migrail reads and writes the same max_migration.txt files and provides "
        "the same commands",
    )


def _lint_migrations(repo: GitRepo, source: Source, config: Config) -> CheckResult:
    ahead = _parse_ahead(repo, source)
    try:
        return _lint_through_caches(repo, source, config, ahead)
    finally:
        if ahead is not None:
            ahead.discard()


def _parse_ahead(repo: GitRepo, source: Source) -> ParsingAhead | None:
    """A cold check of the work tree (no parse cache yet) has the files git's index lists
    parsed on every core while git looks at the work tree and the packages are sorted out."""
    if not isinstance(source, WorkingTree) or ParseCache.repository_has_one(repo.migrail_dir):
        return None
    from migrail.sources import parallel_parse
    from migrail.sources.packages import module_in_package

    files = {
        path: entry.blob
        for path, entry in source.tracked().items()
        if entry.is_file and module_in_package(path)
    }
    if not parallel_parse.worth_it(len(files)):
        return None
    return parallel_parse.ParsingAhead(repo.root, files)


def _lint_through_caches(
    repo: GitRepo, source: Source, config: Config, ahead: ParsingAhead | None
) -> CheckResult:
    # The checking machinery is imported only when the cached result cannot answer.
    fingerprint = _fingerprint(source.entries(), config)
    path = repo.migrail_dir / "check-result.pickle"
    stored = load_pickle(path)
    if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == fingerprint:
        cached: CheckResult = stored[1]
        return cached
    from migrail.checks.rules import check_packages

    with _collector_paused():
        packages = load_packages(repo, source, config, ahead=ahead)
        result = check_packages(packages, swappable=config.swappable)
    if not any(blob.startswith("unreadable:") for blob in source.entries().values()):
        store_pickle(path, (fingerprint, result))
    return result


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while the packages are read and checked: they make tens of
    thousands of objects that live until the check ends and hold no cycles, and each collection
    walks all of them again (on 10,000 files: some 200 collections, 25-40 ms of the main
    process's time). Forked parsers inherit it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def write_fixes(repo: GitRepo, fixes: list[MaxMigrationFix]) -> list[str]:
    """Write each fix, except through a symbolic link out of the work tree (E011 says why)."""
    written = []
    for fix in fixes:
        if leaves_work_tree(repo.root, fix.path):
            continue
        (repo.root / fix.path).write_bytes(fix.content)
        written.append(fix.path)
    return written


def _fingerprint(entries: dict[str, str], config: Config) -> str:
    digest = hashlib.sha1(f"{__version__}\0{config!r}".encode())
    for path in sorted(entries):
        digest.update(f"\0{path}\0{entries[path]}".encode())
    return digest.hexdigest()
