"""The snapshots a database has, kept in order: the status line, renamed branches,
pruning beyond `snapshots_kept`."""

from __future__ import annotations

import re

from migrail.snapshots.branches import (
    branch_exists,
    current_branch,
    drop_snapshot,
    snapshot_store,
)
from migrail.snapshots.steps import Engine
from migrail.snapshots.store import Snapshot, SnapshotStore
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sync.identity import DatabaseIdentity, identity_of


def status_line(repo: GitRepo, config: Config, alias: str) -> str | None:
    """For `migrail status`: which branches a switch would restore a snapshot for."""
    if not config.snapshots:
        return None
    from django.conf import settings
    from django.db import connections

    identity = identity_of(alias, connections[alias].vendor, settings.DATABASES[alias])
    snapshots = snapshot_store(repo).all(identity)
    if not snapshots:
        return "  snapshots: on; none saved yet (the next switch saves this branch's)"
    here = current_branch(repo)
    owner = live_owner(repo, snapshot_store(repo), identity, here)
    names = {here, *former_names(repo, here)}  # its snapshot may wait under a former name
    own = next((s for s in snapshots if s.branch in names and not s.named), None)
    if own is not None and owner is not None and owner != here:
        return (
            f"  snapshots: on; the database holds the data of {owner!r} (the switch here did "
            f"not swap it): `migrail sync` saves it as the snapshot of {owner!r} and restores "
            "this branch's"
        )
    if own is not None and owner is None and branch_exists(repo, here):
        return (
            "  snapshots: on; whose data the database holds is not known (a sync ran with "
            "snapshots off): a switch saves it as this branch's and keeps this branch's "
            "earlier snapshot under a name of its own"
        )
    # By the name each branch has now: one renamed since its snapshot was saved is relabelled
    # by the next switch there.
    now = (existing_name(repo, s.branch) for s in snapshots if not s.named)
    branches = [b for b in now if b is not None and b not in names]
    if not branches:
        return (
            "  snapshots: on; no other branch has one (`migrail snapshot list` shows them); "
            "a switch saves this branch's and goes on"
        )
    return (
        "  snapshots: on; a switch to "
        + ", ".join(repr(b) for b in branches)
        + " restores its snapshot; to any other branch, it saves this one and goes on"
    )


DETACHED = re.compile(r"[0-9a-f]{40}")  # a detached HEAD's owner: its commit
RENAMED = re.compile(r"^Branch: renamed refs/heads/(.+) to refs/heads/(.+)$")


def former_names(repo: GitRepo, branch: str) -> list[str]:
    """What `branch` was called before `git branch -m` (its reflog moves with it)."""
    out = repo.run(
        "reflog", "show", "--format=%gs", f"refs/heads/{branch}", "--", check=False
    ).decode(errors="replace")
    names, current = [], branch
    for line in out.splitlines():  # newest first
        match = RENAMED.match(line)
        if match and match.group(2) == current:
            current = match.group(1)
            names.append(current)
    return names


def named_now(repo: GitRepo, branch: str) -> str:
    """`branch` as it is called now: the local branch renamed from it (`git branch -m`; its
    reflog says so) when no branch has that name any more; else `branch` itself."""
    if DETACHED.fullmatch(branch):
        return branch
    return existing_name(repo, branch) or branch


def existing_name(repo: GitRepo, branch: str) -> str | None:
    """The local branch `branch` is now: itself, or the branch renamed from it when no branch
    has that name any more; None when there is neither (deleted, or a detached HEAD's commit).
    Whether each branch exists is asked of git once."""
    if branch_exists(repo, branch):
        return branch
    if DETACHED.fullmatch(branch):
        return None
    out = repo.run("for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads/").decode()
    for now in out.split():
        if branch in former_names(repo, now):
            return now
    return None


def listed_names(repo: GitRepo, snapshots: list[Snapshot]) -> list[str]:
    """What `snapshot list` calls each snapshot: a branch's by the name it has now (renamed
    since the save, and not relabelled yet: read-only), as status offers it, unless another
    snapshot has that name already (a switch would not relabel it either); a detached HEAD's
    by its short commit; a named one by its own name."""
    taken = {s.branch for s in snapshots}
    names = []
    for snapshot in snapshots:
        now = snapshot.branch if snapshot.named else named_now(repo, snapshot.branch)
        names.append(snapshot.shown_name if now in taken else now)
        taken.add(now)
    return names


def live_owner(
    repo: GitRepo, store: SnapshotStore, identity: DatabaseIdentity, here: str = ""
) -> str | None:
    """The branch whose data the live database holds (as the last swap recorded it), by the
    name it has now; read-only (`status`), the record keeps the name it was given. `here`:
    the branch checked out, if known (its own name needs no git)."""
    recorded = store.owner(identity)
    return recorded if recorded in (None, here) else named_now(repo, recorded)


def prune_beyond_kept(
    repo: GitRepo,
    engine: Engine,
    store: SnapshotStore,
    identity: DatabaseIdentity,
    kept: int,
    *,
    keep: str = "",
) -> list[Snapshot]:
    """Drop the oldest snapshots of this database beyond `kept` (never `keep`): those of
    detached HEADs and gone branches first (a `git bisect` must not evict every branch's).

    Named snapshots (`migrail snapshot save NAME`) neither count nor go.
    """
    snapshots = [s for s in store.all(identity) if s.id != keep and not s.named]
    if len(snapshots) + (1 if keep else 0) <= max(kept, 0):
        return []
    branches = set(
        repo.run("for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads/").decode().split()
    )
    snapshots.sort(key=lambda s: (s.branch in branches, s.created))
    excess = len(snapshots) + (1 if keep else 0) - max(kept, 0)
    dropped = snapshots[: max(excess, 0)]
    for snapshot in dropped:
        drop_snapshot(engine, store, identity, snapshot)
    return dropped


def dropped_beyond_kept(snapshot: Snapshot, alias: str, kept: int) -> str:
    return (
        f"migrail: dropped the snapshot of {snapshot.shown_name!r} (database {alias!r}): beyond "
        f"snapshots_kept = {kept}"
    )
