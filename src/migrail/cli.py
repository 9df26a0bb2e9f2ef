"""The `migrail` command: argument parsing over plain functions.

Exit status: 0 clean, 1 findings or work left undone, 2 usage or environment error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from migrail.errors import EXIT_CLEAN, EXIT_FINDINGS, MigrailError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="migrail", description="Keep Django migrations linear across git branches."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="lint the migration graph and max_migration.txt files")
    where = check.add_mutually_exclusive_group()
    where.add_argument("--rev", help="check this commit's migrations instead of the working tree")
    where.add_argument(
        "--staged", action="store_true", help="check the index (what a commit holds)"
    )
    check.add_argument("--format", choices=("text", "json", "github"), default="text")
    check.add_argument(
        "--fix", action="store_true", help="write missing or stale max_migration.txt"
    )

    hook = sub.add_parser("hook", help="run a git hook (called by the installed hook scripts)")
    hook.add_argument("name")
    hook.add_argument("args", nargs="*")

    sub.add_parser("install", help="install migrail's git hooks, chaining existing ones")
    sub.add_parser("uninstall", help="remove migrail's git hooks, restoring chained ones")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except MigrailError as err:
        print(f"migrail: error: {err}", file=sys.stderr)
        return err.exit_status
    except KeyboardInterrupt:
        print("migrail: interrupted", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "check":
        return run_check(rev=args.rev, staged=args.staged, fmt=args.format, fix=args.fix)
    if args.command == "hook":
        from migrail.hook import run_hook

        return run_hook(args.name, args.args)
    if args.command in ("install", "uninstall"):
        from migrail import install
        from migrail.gitrepo import GitRepo

        repo = GitRepo.discover()
        done = install.install(repo) if args.command == "install" else install.uninstall(repo)
        for line in done:
            print(line)
        return EXIT_CLEAN
    raise AssertionError(args.command)  # pragma: no cover


def run_check(
    *, rev: str | None = None, staged: bool = False, fmt: str = "text", fix: bool = False
) -> int:
    from migrail.config import load_config
    from migrail.gitrepo import GitRepo
    from migrail.lint import lint, write_fixes
    from migrail.report import render_report
    from migrail.sources import Commit, Index, Source, WorkingTree

    if fix and (rev or staged):
        raise MigrailError(
            "--fix writes files in the working tree; it cannot be used with --rev or --staged"
        )
    repo = GitRepo.discover()
    config = load_config(repo.root)
    source: Source = Commit(repo, rev) if rev else Index(repo) if staged else WorkingTree(repo)
    result = lint(repo, source, config)
    written = write_fixes(repo, result.fixes) if fix else []
    if written:
        from migrail.sources import WorkingTree as Fresh

        result = lint(repo, Fresh(repo), config)
    output = render_report(result, fmt)
    if output:
        print(output)
    for path in written:
        print(f"migrail: wrote {path}", file=sys.stderr)
    if not result.apps and fmt == "text":
        print(
            f"migrail: no Django migration packages found in {source.description}", file=sys.stderr
        )
    return EXIT_FINDINGS if result.errors or written else EXIT_CLEAN


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
