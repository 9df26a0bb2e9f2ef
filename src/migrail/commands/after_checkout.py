"""The sync after git moved HEAD, as the post-* hooks, `migrail switch` and `migrail
worktree init` run it (see `AfterCheckout`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from migrail.errors import EXIT_CLEAN, EXIT_FINDINGS
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo

if TYPE_CHECKING:
    from migrail.snapshots.switching import Arrival


@dataclass
class AfterCheckout:
    """The sync after git moved HEAD from `from_rev`, as the post-* hooks run it and
    `migrail switch` runs it after its `git switch`: in this process, which must not have
    set Django up before the move (the new checkout's settings and code migrate).

    With snapshots, a `switch` of branches (left, arriving) first saves the database as
    the branch left's snapshot and restores the arriving branch's, which moves `from_rev`
    to the commit whose code applied what is live now. Raises `MigrailError`.
    """

    repo: GitRepo
    config: Config
    from_rev: str | None
    switch: tuple[str, str] | None = None
    # The migrations differ: sync even when no snapshot was restored (None: ask git, when
    # a return trip without Django did not settle it).
    changed: bool | None = True
    database: str | None = None
    backup: bool = True
    head: str | None = None  # the commit checked out, when the caller knows it

    def run(self) -> int:
        arrival = self._return_trip()
        if arrival is not None and arrival.exact:
            return EXIT_CLEAN  # the snapshot restored holds what this checkout migrates to
        from migrail.commands.features import sync_feature
        from migrail.commands.sync import run_sync
        from migrail.sync.errors import database_errors
        from migrail.sync.session import SyncOptions

        repo, config = self.repo, self.config
        if self.changed is None:
            from migrail.sources.checkout_decision import checkout_needs_sync

            assert self.from_rev is not None
            to_rev = self.head or "HEAD"
            self.changed = checkout_needs_sync(self.from_rev, to_rev, "1", cwd=repo.root)
        status: int | None = EXIT_FINDINGS
        switched = None
        try:
            with database_errors():
                if self.switch is not None:
                    from migrail.snapshots.switching import arrive_after_checkout

                    assert self.from_rev is not None
                    if arrival is None:
                        arrival = arrive_after_checkout(
                            repo, config, self.from_rev, self.switch, database=self.database
                        )
                    self.from_rev, switched = arrival.from_rev, arrival.record
                    if not (self.changed or arrival.restored):
                        status = None  # the database goes on as it was, under a new branch
                        return EXIT_CLEAN
                options = SyncOptions(
                    from_rev=self.from_rev,
                    database=self.database,
                    backup=self.backup,
                    feature=sync_feature(repo, config, switched),
                )
                status = run_sync(repo, config, options)
                return status
        finally:
            if config.snapshots and status is not None:
                from migrail.snapshots.branches import note_sync_result

                note_sync_result(
                    repo, config, self.from_rev, synced=status == EXIT_CLEAN, database=self.database
                )

    def _return_trip(self) -> Arrival | None:
        """With snapshots, a switch made without Django when it can be (`return_trip`)."""
        if self.switch is None or not self.config.snapshots or self.database is not None:
            return None
        from migrail.snapshots.return_trip import return_trip

        assert self.from_rev is not None
        return return_trip(self.repo, self.config, self.from_rev, self.switch, self.head)


def retry_command(repo: GitRepo, from_rev: str | None) -> str:
    """The command that finishes this sync later: with the commit, since ORIG_HEAD moves on."""
    from migrail.errors import MigrailError

    try:
        return (
            f"`migrail sync --from {repo.resolve(from_rev)[:12]}`" if from_rev else "`migrail sync`"
        )
    except MigrailError:
        return "`migrail sync`"


def said_interrupted(repo: GitRepo, from_rev: str | None) -> int:
    """Ctrl-C during the sync after a checkout (git's work, or `git switch`'s, is done): what
    was left and the command that finishes it; exit 130, as a shell's for an interrupt."""
    import sys

    print("migrail: interrupted: the sync did not finish", file=sys.stderr)
    print(f"migrail: to finish, run {retry_command(repo, from_rev)}", file=sys.stderr)
    return 130
