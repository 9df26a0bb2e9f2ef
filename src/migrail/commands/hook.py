"""`migrail hook NAME ARGS…`: what each git hook does.

The guards (pre-commit, pre-merge-commit, pre-push, the pre-commit framework's check)
run `check`. post-checkout, post-merge and post-rewrite sync the database after git
moved HEAD: the installed hook script already returned when no migration changed (and
snapshots are off); this repeats those checks for callers that skip the script (the
pre-commit framework's `migrail-sync` entry) before importing Django. With snapshots
on, a checkout that moved to another branch swaps snapshots even with the same
migrations.
"""

from __future__ import annotations

import io
import os
import sys

from migrail.commands.after_checkout import AfterCheckout, retry_command, said_interrupted
from migrail.errors import EXIT_CLEAN, EXIT_FINDINGS, MigrailError
from migrail.sources.checkout_decision import (
    COMMITS_THAT_MOVE_THE_TREE,
    ZERO_SHA,
    checkout_needs_sync,
    is_branch_checkout,
)
from migrail.sources.config import Config, load_config
from migrail.sources.gitrepo import GitRepo

SYNC_HOOKS = (
    "post-checkout",
    "post-merge",
    "post-rewrite",
    "post-commit",
    "reference-transaction",
    "pre-commit-sync",
)


def run(name: str, args: list[str]) -> int:
    # git sends a hook's stdout to the same place as its stderr: a "stopped" line must not
    # overtake the findings it refers to, which a block-buffered stdout would let it do.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    if os.environ.get("MIGRAIL_SKIP") == "1":
        return EXIT_CLEAN
    if name in ("pre-commit", "pre-merge-commit"):
        from migrail.commands import check

        return _blocking(name, check.run(staged=True))
    if name == "pre-push":
        return _pre_push(sys.stdin.read(), remote=args[0] if args else "")
    if name == "check":
        return _pre_commit_framework_check()
    if name in SYNC_HOOKS:
        return run_sync_hook(name, args)
    raise MigrailError(f"unknown hook {name!r}")


def _blocking(name: str, status: int) -> int:
    if status != EXIT_CLEAN:
        print(
            f"migrail: {name} stopped: fix the findings above (or skip once with MIGRAIL_SKIP=1)",
            file=sys.stderr,
        )
    return status


def _pre_push(lines: str, *, remote: str) -> int:
    """Check each pushed tip from git objects, whatever is checked out; a tip the remote
    already has (a tag or branch of a commit pushed before) adds nothing to check."""
    status = EXIT_CLEAN
    for line in lines.splitlines():
        fields = line.split()
        if len(fields) != 4 or fields[1] == ZERO_SHA:
            continue
        local_ref, local_sha, _, remote_sha = fields
        if _on_the_remote_already(local_sha, remote, remote_sha):
            continue
        from migrail.commands import check

        result = check.run(rev=local_sha)
        if result != EXIT_CLEAN:
            print(
                f"migrail: push of {local_ref} stopped: its migration graph has the findings above",
                file=sys.stderr,
            )
            status = max(status, result)
    return status


def _on_the_remote_already(local_sha: str, remote: str, remote_sha: str) -> bool:
    """Whether every commit up to `local_sha` is on the remote: reachable from its
    remote-tracking refs (none for a remote given as a URL) or from what the ref there was."""
    import subprocess

    if not all(c in "0123456789abcdef" for c in local_sha + remote_sha):
        return False
    seen = []
    if remote and not any(c in remote for c in "*?[") and not remote.startswith("-"):
        seen.append(f"--remotes={remote}")
    if remote_sha != ZERO_SHA:
        known = subprocess.run(
            ["git", "cat-file", "-e", f"{remote_sha}^{{commit}}"], capture_output=True
        )
        if known.returncode == 0:
            seen.append(remote_sha)
    if not seen:
        return False
    new = subprocess.run(
        ["git", "rev-list", "-n1", local_sha, "--not", *seen], capture_output=True, text=True
    )
    return new.returncode == 0 and not new.stdout.strip()


def _pre_commit_framework_check() -> int:
    """The `migrail-check` pre-commit entry: the pushed tip at pre-push, else the index."""
    from migrail.commands import check

    to_ref = os.environ.get("PRE_COMMIT_TO_REF")
    if to_ref and "PRE_COMMIT_CHECKOUT_TYPE" not in os.environ:
        remote = os.environ.get("PRE_COMMIT_REMOTE_NAME", "")
        was = os.environ.get("PRE_COMMIT_FROM_REF") or ZERO_SHA
        if _on_the_remote_already(to_ref, remote, was):
            return EXIT_CLEAN
        return _blocking("pre-push", check.run(rev=to_ref))
    return _blocking("commit", check.run(staged=True))


def run_sync_hook(name: str, args: list[str]) -> int:
    repo = GitRepo.discover()
    config = load_config(repo.root)
    if os.environ.get("CI") and not config.sync_in_ci:
        return EXIT_CLEAN
    if name == "pre-commit-sync":
        name, args = _from_pre_commit_environment()
    if name == "post-checkout":
        return _post_checkout(repo, config, args)
    if name == "post-merge":
        return _sync_if_changed(repo, config, "ORIG_HEAD")
    if name == "post-rewrite":
        from_rev = "ORIG_HEAD" if args[:1] == ["rebase"] else "HEAD@{1}"
        return _sync_if_changed(repo, config, from_rev)
    if name == "post-commit":  # a revert, a cherry-pick, a merge's concluding commit
        if not repo.newest_reflog_subject().startswith(COMMITS_THAT_MOVE_THE_TREE):
            return EXIT_CLEAN  # a commit of what the work tree holds: nothing moved
        return _sync_if_changed(repo, config, "HEAD@{1}")
    if name == "reference-transaction":  # a reset: git's input names where HEAD was
        return _after_reset(repo, config, sys.stdin.read())
    raise MigrailError(f"unknown hook {name!r}")


def _after_reset(repo: GitRepo, config: Config, transaction: str) -> int:
    for line in transaction.splitlines():
        old, _, rest = line.partition(" ")
        if rest.endswith(" HEAD") and old != ZERO_SHA:
            return _sync_if_changed(repo, config, old)
    return EXIT_CLEAN


def _sync_if_changed(repo: GitRepo, config: Config, from_rev: str) -> int:
    """Sync after HEAD moved from `from_rev`, when a migration or settings file changed (a
    message-only amend, or a merge of other files, changes nothing to sync)."""
    from migrail.sources.checkout_decision import checkout_needs_sync

    try:
        old = repo.resolve(from_rev)
    except MigrailError:
        return _sync(repo, config, from_rev)  # the sync says what is wrong with it
    if not checkout_needs_sync(old, "HEAD", "1", cwd=repo.root) and not (
        config.snapshots and _live_data_elsewhere(repo)
    ):
        return EXIT_CLEAN
    return _sync(repo, config, from_rev)


def _live_data_elsewhere(repo: GitRepo) -> bool:
    from migrail.snapshots.branches import live_data_elsewhere

    return live_data_elsewhere(repo)


def _post_checkout(repo: GitRepo, config: Config, args: list[str]) -> int:
    """Sync when the migrations changed; with snapshots, swap on any switch of branch."""
    if len(args) != 3:
        return EXIT_CLEAN
    for state in ("rebase-merge", "rebase-apply"):
        if (repo.git_dir / state).exists():
            return EXIT_CLEAN  # post-rewrite syncs once the rebase is done
    old, new, flag = args
    if old == ZERO_SHA and flag == "1" and config.worktree_databases:  # `git worktree add`?
        from migrail.commands.worktree import databases_for_new_worktree

        made = databases_for_new_worktree(repo, config)
        if made is not None:
            return _sync(repo, config, made.from_rev)
    if not is_branch_checkout(old, flag):
        return EXIT_CLEAN
    if config.snapshots:
        from migrail.snapshots.branches import branch_switch

        switch = branch_switch(repo, old)
        if switch is not None:  # whether the migrations changed is asked only if it matters
            return _sync(repo, config, old, switch=switch, changed=None, head=new)
    changed = checkout_needs_sync(old, new, flag, cwd=repo.root)
    return _sync(repo, config, old) if changed else EXIT_CLEAN


def _sync(
    repo: GitRepo,
    config: Config,
    from_rev: str | None,
    *,
    switch: tuple[str, str] | None = None,
    changed: bool | None = True,
    head: str | None = None,
) -> int:
    """Sync from `from_rev` (after the snapshot swap of a `switch` of branches); a failure
    is said with the command that finishes the sync later, git's work being done."""
    after = AfterCheckout(repo, config, from_rev, switch=switch, changed=changed, head=head)
    try:
        return after.run()
    except KeyboardInterrupt:
        return said_interrupted(repo, after.from_rev)
    except MigrailError as err:
        print(f"migrail: the sync did not finish: {err}", file=sys.stderr)
        if getattr(err, "retry_said", False):
            return EXIT_FINDINGS  # its message names the one command that finishes it
        without_from = getattr(err, "without_from", False)
        retry = "`migrail sync`" if without_from else retry_command(repo, after.from_rev)
        print(f"migrail: when that is fixed, run {retry}", file=sys.stderr)
        return EXIT_FINDINGS


def _from_pre_commit_environment() -> tuple[str, list[str]]:
    env = os.environ
    if "PRE_COMMIT_CHECKOUT_TYPE" in env:
        return "post-checkout", [
            env.get("PRE_COMMIT_FROM_REF", ZERO_SHA),
            env.get("PRE_COMMIT_TO_REF", ""),
            env["PRE_COMMIT_CHECKOUT_TYPE"],
        ]
    if "PRE_COMMIT_REWRITE_COMMAND" in env:
        return "post-rewrite", [env["PRE_COMMIT_REWRITE_COMMAND"]]
    if "PRE_COMMIT_IS_SQUASH_MERGE" in env:
        return "post-merge", []
    return "post-commit", []  # the one stage pre-commit tells nothing of
