"""`migrail worktree list|prune|init`, the databases made for new worktrees, and status's line.

With `worktree_databases` on, the post-checkout hook of `git worktree add` (old HEAD the
null commit, in a linked worktree) calls `databases_for_new_worktree`: each database is
made as a copy of the main worktree's; the hook then syncs it from the main worktree's
HEAD (the commit whose code applied what the copy holds).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from migrail.errors import EXIT_CLEAN, EXIT_FINDINGS, MigrailError
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.worktree_names import LinkedWorktree, find_linked_worktree

OFF_NOTE = (
    "migrail: worktree databases are off (`git config migrail.worktreeDatabases true` "
    "turns them on; see docs/worktrees.md)"
)


@dataclass(frozen=True)
class GitWorktree:
    """One entry of `git worktree list --porcelain`."""

    path: str
    head: str
    branch: str  # the branch's short name, or "(detached)"
    main: bool


@dataclass(frozen=True)
class NewWorktree:
    from_rev: str | None  # the main worktree's HEAD when a copy holds its migrations


def run(action: str) -> int:
    """The command line's `migrail worktree ACTION`."""
    from migrail.sources.config import load_config
    from migrail.sync.errors import database_errors

    with database_errors():
        repo = GitRepo.discover()
        config = load_config(repo.root)
        if action == "init":
            return init(repo, config)  # says itself when the feature is off
        if not config.worktree_databases:
            print(OFF_NOTE)
        return list_worktrees(repo, config) if action == "list" else prune(repo, config)


def init(repo: GitRepo, config: Config) -> int:
    """`migrail worktree init`: a linked worktree made before worktree databases were on,
    or before `migrail install`, gets its databases as `git worktree add` would have made
    them (a copy of the main worktree's, synced to this checkout); one already there is
    left as it is and synced."""
    from migrail.commands.after_checkout import AfterCheckout

    if find_linked_worktree(str(repo.root)) is None:
        raise MigrailError(
            "this is not a linked worktree: `migrail worktree init` runs in one that "
            "`git worktree add` made"
        )
    if not config.worktree_databases:
        raise MigrailError(
            "worktree databases are off: `git config migrail.worktreeDatabases true` first"
        )
    made = databases_for_new_worktree(repo, config, keep=True)
    if made is None:
        return EXIT_FINDINGS  # the settings give it the main worktree's database: said
    return AfterCheckout(repo, config, made.from_rev).run()


def git_worktrees(repo: GitRepo) -> list[GitWorktree]:
    """Git's worktrees, the main one first (a bare repository's has no HEAD and no branch)."""
    out = repo.run("worktree", "list", "--porcelain", "-z").decode(errors="replace")
    found: list[GitWorktree] = []
    fields: dict[str, str] = {}
    for item in [*out.split("\0"), ""]:
        if item:
            key, _, value = item.partition(" ")
            fields[key] = value
        elif "worktree" in fields:
            branch = fields.get("branch", "").removeprefix("refs/heads/")
            if "bare" in fields:
                branch = "(bare)"
            found.append(
                GitWorktree(
                    fields["worktree"], fields.get("HEAD", ""), branch or "(detached)", not found
                )
            )
            fields = {}
    return found


def databases_for_new_worktree(
    repo: GitRepo, config: Config, *, keep: bool = False
) -> NewWorktree | None:
    """After `git worktree add`: this linked worktree's databases, copied from the main
    worktree's; None when this is no linked worktree (a clone), or when its settings give
    it the main worktree's database (not wrapped): that one is left alone, as with the
    feature off."""
    from migrail.sync.errors import database_errors
    from migrail.sync.session import refuse_unsafe
    from migrail.sync.settings import database_aliases, setup_django
    from migrail.worktrees.copy import make_database

    linked = find_linked_worktree(str(repo.root))
    if linked is None:
        return None
    main = git_worktrees(repo)[0] if linked.main_root else None
    copied = shared = False
    try:
        with database_errors():
            setup_django(repo.root, config)
            for alias in database_aliases(config):
                refuse_unsafe(alias, config)
                made = make_database(repo, config, alias, linked, keep=keep)
                print(made.line)
                copied, shared = copied or made.copied, shared or made.shared
    except MigrailError as err:
        print(f"migrail: no copy of the main worktree's database was made: {err}", file=sys.stderr)
    if shared:
        return None  # the main worktree's database moves with the main worktree only
    return NewWorktree(main.head if copied and main is not None and main.head else None)


def status_line(repo: GitRepo, aliases: list[str]) -> str:
    """Which database this worktree uses (`migrail status`, worktree databases on)."""
    from django.conf import settings

    from migrail.worktrees.copy import main_settings_of

    linked = find_linked_worktree(str(repo.root))
    names = ", ".join(f"{a} {settings.DATABASES[a].get('NAME')!s}" for a in aliases)
    if linked is None:
        return f"migrail: the main worktree's database: {names}"
    shared = [
        a
        for a in aliases
        if (main := main_settings_of(a, linked)) is None
        or str(main.get("NAME")) == str(settings.DATABASES[a].get("NAME"))
    ]
    if shared:
        return f"migrail: worktree {linked.name!r} shares the main worktree's database: {names}"
    from migrail.worktrees.catalogue import COPYING
    from migrail.worktrees.copy import catalogue

    record = catalogue(repo).find(linked.name)
    torn = [d.alias for d in record.databases if d.state == COPYING] if record else []
    warning = (
        f" (the copy into {', '.join(torn)} was interrupted: it may be incomplete; drop it, "
        "and `git worktree remove` then `add` again, or migrate it yourself)"
        if torn
        else ""
    )
    return f"migrail: worktree {linked.name!r} has a database of its own: {names}{warning}"


def _main_databases(linked: LinkedWorktree | None, aliases: list[str]) -> dict[str, dict[str, Any]]:
    from django.conf import settings

    from migrail.worktrees.copy import main_settings_of

    found = {}
    for alias in aliases:
        main = main_settings_of(alias, linked) if linked else dict(settings.DATABASES[alias])
        found[alias] = main if main is not None else dict(settings.DATABASES[alias])
    return found


def list_worktrees(repo: GitRepo, config: Config) -> int:
    """`worktree list`: each worktree, its branch, and per alias its database and size."""
    from django.db import connections

    from migrail.snapshots.store import describe_size
    from migrail.sync.session import refuse_unsafe
    from migrail.sync.settings import database_aliases, setup_django
    from migrail.worktrees.copy import Named, database_steps

    setup_django(repo.root, config)
    aliases = database_aliases(config)
    for alias in aliases:
        refuse_unsafe(alias, config, read_only=True)
    mains = _main_databases(find_linked_worktree(str(repo.root)), aliases)
    rows = [("WORKTREE", "BRANCH", "ALIAS", "DATABASE", "SIZE")]
    for alias in aliases:
        with database_steps(connections[alias], str(mains[alias].get("NAME") or "")) as steps:
            for worktree in git_worktrees(repo):
                name, note = _database_of(repo, config, worktree, alias, mains[alias])
                size = steps.size(Named(name)) if name else None
                shown = (describe_size(size) if size is not None else "(none)") + note
                rows.append((worktree.path, worktree.branch, alias, name, shown))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    for record in _gone(repo):
        print(
            f"migrail: worktree {record.worktree!r} ({record.path}) is gone; "
            "`migrail worktree prune` drops its databases"
        )
    return EXIT_CLEAN


def _database_of(
    repo: GitRepo, config: Config, worktree: GitWorktree, alias: str, main: dict[str, Any]
) -> tuple[str, str]:
    """(the name of `worktree`'s database of `alias`, a note for its size): the main's, the
    one recorded when it was made, else the one its settings would name."""
    from migrail.worktree_names import safe_prefix, worktree_settings
    from migrail.worktrees.catalogue import COPYING
    from migrail.worktrees.copy import catalogue

    linked = None if worktree.main else find_linked_worktree(worktree.path)
    if linked is None:
        return str(main.get("NAME") or ""), ""
    record = catalogue(repo).find(linked.name)
    known = record.database(alias) if record else None
    if known is not None:
        return known.name, " (copy interrupted)" if known.state == COPYING else ""
    renamed = worktree_settings(main, linked, safe_prefix(config.snapshot_prefix))
    return str(renamed.get("NAME") or ""), ""


def _gone(repo: GitRepo) -> list[Any]:
    """Records of worktrees git no longer has (its `<common dir>/worktrees/NAME` is gone)."""
    from migrail.worktrees.copy import catalogue

    admin = repo.common_dir / "worktrees"
    return [r for r in catalogue(repo).all() if not (admin / r.worktree).is_dir()]


def prune(repo: GitRepo, config: Config) -> int:
    """`worktree prune`: drop the databases migrail made for worktrees git no longer has;
    never a main worktree's, never one on another server than the settings' own."""
    from django.conf import settings
    from django.db import connections

    from migrail.sync.identity import identity_of
    from migrail.sync.session import refuse_unsafe
    from migrail.sync.settings import database_aliases, setup_django
    from migrail.worktrees.copy import catalogue, database_steps

    setup_django(repo.root, config)
    aliases = database_aliases(config)
    mains = _main_databases(find_linked_worktree(str(repo.root)), aliases)
    store = catalogue(repo)
    dropped = left = 0
    for record in _gone(repo):
        kept = []
        for database in record.databases:
            if database.alias not in aliases or not database.made:
                continue  # another settings' alias, or not migrail's: forgotten, not dropped
            alias = database.alias
            refuse_unsafe(alias, config)
            connection = connections[alias]
            main = identity_of(alias, connection.vendor, mains[alias])
            server = identity_of(alias, connection.vendor, settings.DATABASES[alias])
            where = {k: database.identity.get(k) for k in ("vendor", "host", "port")}
            if database.identity.get("name") == main.name or where != {
                "vendor": server.vendor,
                "host": server.host,
                "port": server.port,
            }:
                print(
                    f"migrail: kept {database.name!r} (worktree {record.worktree!r}): it is "
                    "not a worktree database of these settings' server"
                )
                continue
            try:
                with database_steps(connection, main.name) as steps:
                    steps.run(["drop", database.name])
            except Exception as err:
                why = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                print(
                    f"migrail: cannot drop {database.name!r} (worktree {record.worktree!r}): "
                    f"{why}; kept: `migrail worktree prune` again once it is closed",
                    file=sys.stderr,
                )
                kept.append(database)
                continue
            dropped += 1
            print(
                f"migrail: dropped {database.name!r} (database {alias!r} of worktree "
                f"{record.worktree!r}, which git no longer has)"
            )
        left += len(kept)
        if kept:
            from dataclasses import replace

            store.write(replace(record, databases=kept))
        else:
            store.forget(record.worktree)
    if not dropped and not left:
        print("migrail: no worktree databases to drop")
    return EXIT_FINDINGS if left else EXIT_CLEAN
