"""`migrail check`: read a source's packages (through the parse cache) and lint them."""

from __future__ import annotations

from migrail.checks import CheckResult, MaxMigrationFix, check_packages
from migrail.config import Config
from migrail.gitrepo import GitRepo
from migrail.packages import MigrationPackage, discover_packages
from migrail.parse_cache import ParseCache
from migrail.sources import Source


def load_packages(repo: GitRepo, source: Source, config: Config) -> list[MigrationPackage]:
    cache = ParseCache(repo.migrail_dir / "parse-cache.pickle")
    packages = discover_packages(source, config, cache)
    cache.save()
    return packages


def lint(repo: GitRepo, source: Source, config: Config) -> CheckResult:
    return check_packages(load_packages(repo, source, config), swappable=config.swappable)


def write_fixes(repo: GitRepo, fixes: list[MaxMigrationFix]) -> list[str]:
    written = []
    for fix in fixes:
        (repo.root / fix.path).write_bytes(fix.content)
        written.append(fix.path)
    return written
