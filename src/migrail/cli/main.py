"""The `migrail` command: the argument parser, dispatching to `migrail.commands`.

Exit status: 0 clean, 1 findings or work left undone, 2 usage or environment error.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from migrail import __version__
from migrail.cli.reported import reported


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="migrail", description="Keep Django migrations linear across git branches."
    )
    parser.add_argument("--version", action="version", version=f"migrail {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="lint the migration graph and max_migration.txt files")
    where = check.add_mutually_exclusive_group()
    where.add_argument("--rev", help="check this commit's migrations instead of the working tree")
    where.add_argument(
        "--staged", action="store_true", help="check the index (what a commit holds)"
    )
    check.add_argument(
        "--base",
        metavar="REV",
        help="also check the tree as merged into REV's tip (CI on a pull request: its base "
        "branch): a fork that appears only then, and migrations REV has that this branch "
        "edits, renames or deletes",
    )
    check.add_argument(
        "--format",
        choices=("text", "json", "github", "sarif", "gitlab", "junit"),
        default="text",
        help="the report: text, JSON, GitHub annotations (and a job summary with "
        "GITHUB_STEP_SUMMARY set), SARIF 2.1.0, GitLab Code Quality, JUnit XML",
    )
    check.add_argument(
        "--fix", action="store_true", help="write missing or stale max_migration.txt"
    )

    hook = sub.add_parser("hook", help="run a git hook (called by the installed hook scripts)")
    hook.add_argument("name")
    hook.add_argument("args", nargs="*")

    sync = sub.add_parser("sync", help="make the database match the working tree")
    sync.add_argument(
        "--from",
        dest="from_rev",
        metavar="REV",
        help="commit holding the source of migrations to unapply",
    )
    sync.add_argument("--dry-run", action="store_true", help="print the plan only")
    sync.add_argument("--database", metavar="ALIAS", help="sync this database alias only")
    sync.add_argument("--no-backup", action="store_true", help="do not back up before a rollback")
    sync.add_argument(
        "--redo-edited",
        action="store_true",
        help="unapply migrations changed since they were applied (with the applied version's "
        "code) and apply them again",
    )
    sync.add_argument(
        "--accept-edited",
        action="store_true",
        help="take migrations changed since they were applied as applied in their new form "
        "(an edit that changes nothing in the database); nothing is run",
    )
    sync.add_argument(
        "--yes", action="store_true", help="do not ask (sync never asks; accepted for scripts)"
    )

    rebase = sub.add_parser("rebase", help="move this branch's migrations after the other side's")
    rebase.add_argument("apps", nargs="*", metavar="APP", help="only these app labels")
    rebase.add_argument("--onto", metavar="REV", help="the side to keep when no merge/rebase runs")
    rebase.add_argument(
        "--unapply",
        action="store_true",
        help="roll back the migrations to move if a local database has them",
    )
    rebase.add_argument(
        "--no-db-check",
        action="store_true",
        help="rename even when the local database cannot be consulted (settings or connection "
        "fail); only when no database has the migrations to move applied",
    )

    snapshot = sub.add_parser("snapshot", help="per-branch copies of the database")
    actions = snapshot.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="the snapshots of each database, with sizes and ages")
    save = actions.add_parser("save", help="save the database as a snapshot (of this branch)")
    save.add_argument("name", nargs="?", metavar="NAME", help="a branch name (default: this one)")
    drop = actions.add_parser("drop", help="drop a snapshot")
    drop.add_argument("name", metavar="NAME")
    actions.add_parser(
        "prune", help="drop snapshots whose branch is gone, and beyond snapshots_kept"
    )
    restore_snapshot = actions.add_parser(
        "restore", help="replace the database by a copy of a snapshot (the snapshot is kept)"
    )
    restore_snapshot.add_argument("name", metavar="NAME")
    for action in (save, drop, restore_snapshot):
        action.add_argument("--database", metavar="ALIAS")

    worktree = sub.add_parser("worktree", help="the databases of linked git worktrees")
    worktree_actions = worktree.add_subparsers(dest="action", required=True, metavar="ACTION")
    worktree_actions.add_parser("list", help="each worktree, its branch, its database and size")
    worktree_actions.add_parser("prune", help="drop the databases of worktrees git no longer has")
    worktree_actions.add_parser(
        "init", help="make this linked worktree's databases as `git worktree add` would"
    )

    status = sub.add_parser("status", help="show what sync would unapply and apply (read-only)")
    status.add_argument("--database", metavar="ALIAS")

    switch = sub.add_parser(
        "switch",
        help="roll back, git switch BRANCH, migrate (no hooks needed)",
        description="`git switch` with the database following, as the hooks move it: the "
        "migrations the destination lacks are unapplied with the code of the commit left "
        "(after a backup), git switches, then `migrate` applies the destination's; with "
        "snapshots on, the branch left is saved and the destination's snapshot restored. "
        "Refuses before anything changes what git would refuse (uncommitted changes, an "
        "untracked file in the way, untracked migrations, a branch checked out elsewhere).",
        epilog="examples: migrail switch main | migrail switch -c topic | "
        "migrail switch -c hotfix v1.2 | migrail switch --detach v1.2",
    )
    switch.add_argument(
        "branch",
        nargs="?",
        metavar="BRANCH",
        help="a local branch (or the one remote branch of that name, tracked as git "
        "guesses; `-`: the branch checked out before); with -c, the commit to start at; "
        "with --detach, the commit",
    )
    how = switch.add_mutually_exclusive_group()
    how.add_argument(
        "-c", "--create", metavar="NEW", help="make branch NEW (at BRANCH, else HEAD) and switch"
    )
    how.add_argument("--detach", action="store_true", help="switch to a commit, detached")
    switch.add_argument("--database", metavar="ALIAS", help="only this database")
    switch.add_argument(
        "--no-backup", action="store_true", help="no backup before the rollback or a drop"
    )

    restore = sub.add_parser("restore", help="list the backups sync took, or restore one")
    chosen = restore.add_mutually_exclusive_group()
    chosen.add_argument("backup", nargs="?", help="backup file name (from the list)")
    chosen.add_argument(
        "--list", action="store_true", help="list this database's backups (the default)"
    )
    restore.add_argument("--database", metavar="ALIAS", default="default")

    demo = sub.add_parser("demo", help="show migrail at work in a throwaway repository (SQLite)")
    demo.add_argument("--keep", action="store_true", help="keep the demo repository")

    for command in (sync, status, switch, rebase):
        command.add_argument(
            "--settings",
            metavar="MODULE",
            help="the Django settings module (else DJANGO_SETTINGS_MODULE, the configuration, "
            "then manage.py's default)",
        )

    sub.add_parser("install", help="install migrail's git hooks, chaining existing ones")
    sub.add_parser("uninstall", help="remove migrail's git hooks, restoring chained ones")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "settings", None):
        os.environ["DJANGO_SETTINGS_MODULE"] = args.settings  # as django-admin's --settings does
    return reported(lambda: _dispatch(args))


def _dispatch(args: argparse.Namespace) -> int:
    """Each command's `run`, imported only when it is the one asked for."""
    if args.command == "check":
        from migrail.commands import check

        return check.run(
            rev=args.rev, staged=args.staged, fmt=args.format, fix=args.fix, base=args.base
        )
    if args.command == "hook":
        from migrail.commands import hook

        return hook.run(args.name, args.args)
    if args.command == "rebase":
        from migrail.commands import rebase

        return rebase.run(
            args.apps, onto=args.onto, unapply=args.unapply, db_check=not args.no_db_check
        )
    if args.command == "demo":
        from migrail.commands import demo

        return demo.run(keep=args.keep)
    if args.command == "snapshot":
        from migrail.commands import snapshot

        return snapshot.run(
            args.action, getattr(args, "name", None), getattr(args, "database", None)
        )
    if args.command == "worktree":
        from migrail.commands import worktree

        return worktree.run(args.action)
    if args.command == "status":
        from migrail.commands import status

        return status.run(database=args.database)
    if args.command == "restore":
        from migrail.commands import restore

        return restore.run(backup=args.backup, database=args.database)
    if args.command == "switch":
        from migrail.commands import switch

        return switch.run(
            branch=args.branch,
            create=args.create,
            detach=args.detach,
            database=args.database,
            backup=not args.no_backup,
        )
    if args.command == "sync":
        from migrail.commands import sync

        return sync.run(
            from_rev=args.from_rev,
            dry_run=args.dry_run,
            database=args.database,
            backup=not args.no_backup,
            redo_edited=args.redo_edited,
            accept_edited=args.accept_edited,
        )
    if args.command in ("install", "uninstall"):
        from migrail.commands import install

        return install.run(args.command)
    raise AssertionError(args.command)  # pragma: no cover
