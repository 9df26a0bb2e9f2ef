"""`migrail check`: lint a source and print the report; the guards (`hook`) run it too."""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from migrail.errors import EXIT_CLEAN, EXIT_FINDINGS, MigrailError

if TYPE_CHECKING:
    from migrail.checks.findings import CheckResult, Finding
    from migrail.sources.config import Config
    from migrail.sources.gitrepo import GitRepo
    from migrail.sources.trees import Source


def run(
    *,
    rev: str | None = None,
    staged: bool = False,
    fmt: str = "text",
    fix: bool = False,
    base: str | None = None,
) -> int:
    try:
        return _run(rev=rev, staged=staged, fmt=fmt, fix=fix, base=base)
    except MigrailError as err:
        from migrail.checks.report import render_failure

        document = render_failure(fmt, str(err))
        if document is not None:
            print(document)  # a valid report for the upload step; the error goes on stderr
        raise


def _run(*, rev: str | None, staged: bool, fmt: str, fix: bool, base: str | None) -> int:
    from migrail.sources.gitrepo import GitRepo
    from migrail.sources.trees import Commit, Index, WorkingTree

    if fix and rev is not None:
        raise MigrailError("--fix writes files in the working tree; it cannot be used with --rev")
    if fix and base is not None:
        raise MigrailError("--fix cannot be used with --base: it checks a merge, not the files")
    from migrail.sources.config import load_config

    repo = GitRepo.discover()
    config = load_config(repo.root)
    if rev is None and not staged:
        working_tree = WorkingTree(repo)
        working_tree.start_listing()  # git lists while the checks are imported
    from migrail.checks.lint import lint, write_fixes

    source: Source = (
        Commit(repo, rev) if rev is not None else Index(repo) if staged else working_tree
    )
    result = lint(repo, source, config)
    if base is not None:
        result = _with_base(repo, source, base, result, config)
    if staged:
        result.findings[:] = [_unstaged_migration_hint(repo, f) for f in result.findings]
    written = write_fixes(repo, result.fixes) if fix else []
    if written and staged:
        result = _fixed(result, written)  # the index holds what it held until `git add`
    elif written:
        result = lint(repo, WorkingTree(repo), config)  # listed anew: the fixes changed files
    _report(result, fmt, written, source.description, base, staged=staged)
    return EXIT_FINDINGS if result.errors or written else EXIT_CLEAN


def _fixed(result: CheckResult, written: list[str]) -> CheckResult:
    """The index's findings without the missing or stale max_migration.txt just written."""
    from migrail.checks.findings import MISSING_MAX_MIGRATION, STALE_MAX_MIGRATION
    from migrail.checks.findings import CheckResult as Result

    fixed = (MISSING_MAX_MIGRATION, STALE_MAX_MIGRATION)
    kept = [f for f in result.findings if not (f.code in fixed and f.path in written)]
    return Result(result.apps, kept, [])


def _report(
    result: CheckResult,
    fmt: str,
    written: list[str],
    checked: str,
    base: str | None,
    *,
    staged: bool = False,
) -> None:
    from migrail.checks.report import render_report

    output = render_report(result, fmt)
    if output:
        print(output)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if fmt == "github" and summary:
        _append_summary(Path(summary), result, checked, base)
    # What --fix wrote belongs to the text report; the other formats keep stdout parseable.
    written_to = sys.stdout if fmt == "text" else sys.stderr
    for path in written:
        staging = f"; stage it: `git add {path}`" if staged else ""
        print(f"migrail: wrote {path}{staging}", file=written_to)
    if not result.apps and fmt == "text":
        print(f"migrail: no Django migration packages found in {checked}", file=sys.stderr)


def _with_base(
    repo: GitRepo, source: Source, base: str, result: CheckResult, config: Config
) -> CheckResult:
    """The branch's own findings, then what merging it into `base`'s tip would add."""
    from migrail.checks.against_base import base_findings
    from migrail.checks.findings import CheckResult as Result
    from migrail.sources.trees import Commit

    tip = source.sha if isinstance(source, Commit) else repo.head()
    added = base_findings(repo, source, tip=tip, rev=base, config=config, own=result)
    return Result(result.apps, [*result.findings, *added], result.fixes)


def _append_summary(path: Path, result: CheckResult, checked: str, base: str | None) -> None:
    from migrail.checks.summary import render_summary

    what = f"{checked} merged into {base}" if base is not None else checked
    try:
        with path.open("a", encoding="utf-8") as summary:
            summary.write(render_summary(result, what))
    except OSError as err:
        print(f"migrail: cannot write the step summary {path}: {err}", file=sys.stderr)


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
