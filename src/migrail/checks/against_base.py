"""`check --base REV`: the findings a merge into REV's tip would add to this branch's own.

CI on a pull request checks the tree as it will be once merged (REV's files plus this
branch's changes since the merge base), not a merge ref made when the pull request was
opened: two pull requests from one leaf each pass alone, and the second to land forks
the graph. The result is cached by the two commits and this branch's listing, as `check`
caches its own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from migrail import __version__
from migrail.errors import GitCommandError
from migrail.sources.pickle_file import load_pickle, store_pickle
from migrail.sources.trees import Commit, Source

if TYPE_CHECKING:
    from migrail.checks.findings import CheckResult, Finding
    from migrail.sources.config import Config
    from migrail.sources.gitrepo import GitRepo
    from migrail.sources.merged_tree import MergedTree

CACHE = "check-base-result.pickle"


@dataclass(frozen=True)
class Merge:
    rev: str  # as the user named it: messages repeat it
    base: Commit
    merge_base: Commit
    branch: Source


def base_findings(
    repo: GitRepo,
    branch: Source,
    *,
    tip: str | None,
    rev: str,
    config: Config,
    own: CheckResult,
) -> list[Finding]:
    """What merging `branch` (whose commit is `tip`) into `rev` adds to its own findings."""
    base_sha = repo.resolve(rev)
    if tip is None:
        raise GitCommandError(f"--base {rev}: this branch has no commit yet")
    merge_base = _merge_base(repo, base_sha, tip, rev)
    # Two commits' trees never change: their ids stand for their listings in the key.
    key = _fingerprint(f"{rev}\0{base_sha}\0{merge_base}", branch, config, own)
    stored = load_pickle(repo.migrail_dir / CACHE)
    if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == key:
        cached: list[Finding] = stored[1]
        return cached
    merge = Merge(rev, Commit(repo, rev), Commit(repo, merge_base), branch)
    found = _compute(repo, merge, config, own)
    if not any(blob.startswith("unreadable:") for blob in branch.entries().values()):
        store_pickle(repo.migrail_dir / CACHE, (key, found))
    return found


def _merge_base(repo: GitRepo, base: str, tip: str, rev: str) -> str:
    out = repo.run("merge-base", base, tip, check=False).decode().strip()
    if not out:
        shallow = repo.run("rev-parse", "--is-shallow-repository", check=False).strip()
        why = (
            "this clone is shallow: fetch the history (`git fetch --unshallow`, or "
            "`fetch-depth: 0` in actions/checkout)"
            if shallow == b"true"
            else "they share no history"
        )
        raise GitCommandError(f"--base {rev}: no merge base with this branch; {why}")
    return out.splitlines()[0]


def _compute(repo: GitRepo, merge: Merge, config: Config, own: CheckResult) -> list[Finding]:
    from migrail.checks.lint import load_packages, parse_cache
    from migrail.checks.published import Sides, published_findings
    from migrail.checks.rules import check_packages
    from migrail.sources.merged_tree import MergedTree

    rev, base, branch = merge.rev, merge.base, merge.branch
    merged = MergedTree(
        repo, base, branch, merge.merge_base.entries(), f"{rev} merged with this branch"
    )
    cache = parse_cache(repo)
    merged_packages = load_packages(repo, merged, config, cache)
    result = check_packages(merged_packages, swappable=config.swappable)
    found = [*_forks(rev, merged, result, own), *_broken_dependencies(rev, result, own)]
    if any(path.endswith(".py") for path in merged.changed & base.entries().keys()):
        # Only then can a migration the base has have been touched: read the base's packages.
        sides = Sides(
            rev,
            merge.merge_base.entries(),
            branch.entries(),
            base.entries(),
            branch.read,
            base.read,
        )
        base_packages = load_packages(repo, base, config, cache)
        found += published_findings(sides, base_packages, merged_packages)
    cache.save()
    found.sort(key=lambda f: (f.path, f.line, f.code))
    return found


def _forks(rev: str, merged: MergedTree, result: CheckResult, own: CheckResult) -> list[Finding]:
    """E012 for each app the merge forks and this branch alone does not."""
    from migrail.checks import findings as codes
    from migrail.checks.findings import Finding

    forked_here = {f.app for f in own.findings if f.code == codes.FORKED_GRAPH}
    found = []
    for fork in result.findings:
        if fork.code != codes.FORKED_GRAPH or fork.app in forked_here:
            continue
        app = result.apps[fork.app]
        paths = {name: f"{app.path}/{name}.py" for name in app.leaves}
        ours = [name for name in app.leaves if paths[name] in merged.changed]
        theirs = [name for name in app.leaves if paths[name] not in merged.changed]
        if not ours:
            continue  # the base forked by itself: not this branch's doing
        found.append(
            Finding(
                codes.FORKED_WITH_BASE,
                fork.app,
                paths[ours[0]],
                1,
                f"app {fork.app!r} forks once merged into {rev}: {_names(ours)} on this "
                f"branch, {_names(theirs)} on {rev}",
                f"bring {rev} in (`git merge {rev}` or `git rebase {rev}`), then run "
                f"`migrail rebase --onto {rev} {fork.app}` to move this branch's migrations "
                f"after {_names(theirs)}",
            )
        )
    return found


def _broken_dependencies(rev: str, result: CheckResult, own: CheckResult) -> list[Finding]:
    """A dependency the merge leaves dangling or closes into a cycle (the base removed or
    squashed away a migration this branch depends on)."""
    from dataclasses import replace

    from migrail.checks import findings as codes

    kinds = (codes.DANGLING_DEPENDENCY, codes.DEPENDENCY_CYCLE)
    already = {(f.code, f.path, f.line) for f in own.findings}
    return [
        replace(f, message=f"{f.message}, once merged into {rev}")
        for f in result.findings
        if f.code in kinds and (f.code, f.path, f.line) not in already
    ]


def _names(names: list[str]) -> str:
    return ", ".join(names) or "(none)"


def _fingerprint(commits: str, branch: Source, config: Config, own: CheckResult) -> str:
    digest = hashlib.sha1(f"{__version__}\0{config!r}\0{commits}\0".encode())
    entries = branch.entries()
    for path in sorted(entries):
        digest.update(f"\0{path}\0{entries[path]}".encode())
    digest.update(repr(sorted((f.code, f.path, f.line) for f in own.findings)).encode())
    return digest.hexdigest()
