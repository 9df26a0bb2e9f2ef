"""`migrail check`: lint a source and print the report; the guards (`hook`) run it too."""

from __future__ import annotations

import sys
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from migrail.errors import EXIT_CLEAN, EXIT_FINDINGS, MigrailError

if TYPE_CHECKING:
    from migrail.checks.findings import Finding
    from migrail.sources.gitrepo import GitRepo


def run(
    *, rev: str | None = None, staged: bool = False, fmt: str = "text", fix: bool = False
) -> int:
    from migrail.checks.lint import lint, write_fixes
    from migrail.checks.report import render_report
    from migrail.sources.config import load_config
    from migrail.sources.gitrepo import GitRepo
    from migrail.sources.trees import Commit, Index, Source, WorkingTree

    if fix and (rev is not None or staged):
        raise MigrailError(
            "--fix writes files in the working tree; it cannot be used with --rev or --staged"
        )
    repo = GitRepo.discover()
    config = load_config(repo.root)
    source: Source = (
        Commit(repo, rev) if rev is not None else Index(repo) if staged else WorkingTree(repo)
    )
    result = lint(repo, source, config)
    if staged:
        result.findings[:] = [_unstaged_migration_hint(repo, f) for f in result.findings]
    written = write_fixes(repo, result.fixes) if fix else []
    if written:
        result = lint(repo, WorkingTree(repo), config)  # listed anew: the fixes changed files
    output = render_report(result, fmt)
    if output:
        print(output)
    # What --fix wrote belongs to the text report; JSON and GitHub keep stdout parseable.
    written_to = sys.stdout if fmt == "text" else sys.stderr
    for path in written:
        print(f"migrail: wrote {path}", file=written_to)
    if not result.apps and fmt == "text":
        print(
            f"migrail: no Django migration packages found in {source.description}", file=sys.stderr
        )
    return EXIT_FINDINGS if result.errors or written else EXIT_CLEAN


def _unstaged_migration_hint(repo: GitRepo, finding: Finding) -> Finding:
    """A staged max_migration.txt naming a migration that is in the working tree but not in
    the index (`git commit -a` leaves new files out): `git add` it, not `check --fix`."""
    from dataclasses import replace

    from migrail.checks.findings import STALE_MAX_MIGRATION

    if finding.code != STALE_MAX_MIGRATION or "which does not exist" not in finding.message:
        return finding
    staged = repo.run("show", f":{finding.path}", check=False).decode(errors="replace").strip()
    migration = PurePosixPath(finding.path).parent / f"{staged}.py"
    if not staged or not (repo.root / migration).is_file():
        return finding
    return replace(finding, hint=f"it is not staged: `git add {migration}`")
