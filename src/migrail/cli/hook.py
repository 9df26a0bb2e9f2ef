"""`migrail hook NAME ARGS…`: what each git hook does."""

from __future__ import annotations

import io
import os
import sys

from migrail.cli.check_command import run_check
from migrail.errors import EXIT_CLEAN, MigrailError
from migrail.sources.gitrepo import ZERO_SHA


def run_hook(name: str, args: list[str]) -> int:
    # git sends a hook's stdout to the same place as its stderr: a "stopped" line must not
    # overtake the findings it refers to, which a block-buffered stdout would let it do.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    if os.environ.get("MIGRAIL_SKIP") == "1":
        return EXIT_CLEAN
    if name in ("pre-commit", "pre-merge-commit"):
        return _blocking(name, run_check(staged=True))
    if name == "pre-push":
        return _pre_push(sys.stdin.read(), remote=args[0] if args else "")
    if name == "check":
        return _pre_commit_framework_check()
    if name in ("post-checkout", "post-merge", "post-rewrite", "pre-commit-sync"):
        from migrail.cli.sync_hook import run_sync_hook

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
        result = run_check(rev=local_sha)
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
    to_ref = os.environ.get("PRE_COMMIT_TO_REF")
    if to_ref and "PRE_COMMIT_CHECKOUT_TYPE" not in os.environ:
        remote = os.environ.get("PRE_COMMIT_REMOTE_NAME", "")
        was = os.environ.get("PRE_COMMIT_FROM_REF") or ZERO_SHA
        if _on_the_remote_already(to_ref, remote, was):
            return EXIT_CLEAN
        return _blocking("pre-push", run_check(rev=to_ref))
    return _blocking("commit", run_check(staged=True))
