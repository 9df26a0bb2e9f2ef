"""Unapply orphans with the code of the commit that applied them, in a child process.

An orphan's module often imports what only its own branch has (a helper, a custom
field, a whole app), so the parent writes that commit's files outside the working
tree (`old_tree`) and starts `python` there: that tree first on `sys.path`, then the
live project directory (untracked local settings still import); that commit's
settings module and `INSTALLED_APPS`; the parent's evaluated `DATABASES`, so the
live database is the one rolled back, even a SQLite file named relative to `BASE_DIR`.
The parent holds the lock and took the backup; the child plans, refuses what it
cannot undo before changing anything, prints the plan and unapplies. The child starts
with the writing of the files and waits for its spec (`warm_child`).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrail.engines import stores_in_file
from migrail.errors import EXIT_FINDINGS, MigrailError
from migrail.graph.parser import Key
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sources.old_tree import commit_tree, start_with_each_tree
from migrail.sync.effects import Effect
from migrail.sync.local_copies import bring_local_files, project_dir_in
from migrail.sync.plan import Target
from migrail.sync.sync_feature import SyncFeature
from migrail.sync.warm_child import Warm, WarmChild, child_environment, die_with_parent

# Each commit's tree gets its child as its files start being written.
start_with_each_tree(WarmChild.start)


@dataclass(frozen=True)
class RollbackSpec:
    """What the child needs, written by the parent to a 0600 file."""

    repo_root: str
    git_dir: str
    common_dir: str
    tree_dir: str
    live_project_dir: str
    rev: str
    alias: str
    databases: dict[str, Any]
    target: Target
    dry_run: bool
    backup: bool
    config: Config
    result_path: str
    feature: SyncFeature  # pickled: the child never chooses (nor imports) a feature itself
    cwd: str  # the project directory in the tree: where the child runs
    env: dict[str, str]  # the child's environment


@dataclass(frozen=True)
class OldCodeRollback:
    """What the child did: the migrations it unapplied (or would, for a dry run), and the
    backup it took first, if any."""

    unapplied: list[Key]
    backup: str | None


class OldCodeCannotStart(MigrailError):
    """The commit's code does not start Django here: `--from` cannot help, plain sync can."""

    without_from = True


class OldCodeRollbackFailed(MigrailError):
    """The child stopped; it printed why."""

    exit_status = EXIT_FINDINGS


def roll_back_with_commit(
    repo: GitRepo,
    config: Config,
    rev: str,
    alias: str,
    target: Target,
    *,
    dry_run: bool,
    backup: bool,
    feature: SyncFeature,
) -> OldCodeRollback:
    """Run the child on `rev`'s files; return what it unapplied (or would, for a dry run)."""
    import pickle

    from django.conf import settings

    from migrail.sync.settings import project_directory

    commit = repo.resolve(rev)
    with commit_tree(repo, commit) as tree_dir:
        old_project_dir = project_dir_in(tree_dir, repo)
        bring_local_files(tree_dir, repo, old_project_dir)
        spec_path = tree_dir.with_name(tree_dir.name + ".spec")
        result_path = tree_dir.with_name(tree_dir.name + ".result")
        env = child_environment()
        spec = RollbackSpec(
            repo_root=str(repo.root),
            git_dir=str(repo.git_dir),
            common_dir=str(repo.common_dir),
            tree_dir=str(tree_dir),
            live_project_dir=str(project_directory()),
            rev=commit,
            alias=alias,
            databases=live_databases(settings.DATABASES),
            target=target,
            dry_run=dry_run,
            backup=backup,
            config=config,
            result_path=str(result_path),
            feature=feature,
            cwd=str(old_project_dir),
            env=env,
        )
        fd = os.open(spec_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(spec, handle, protocol=pickle.HIGHEST_PROTOCOL)
            sys.stdout.flush()
            returncode = WarmChild.run(tree_dir, spec_path, old_project_dir, env)
            try:
                result = json.loads(result_path.read_text())
            except (OSError, ValueError):
                result = {}
            if "error" in result:
                kind = OldCodeCannotStart if result.get("without_from") else OldCodeRollbackFailed
                error = kind(result["error"])
                error.exit_status = result["exit_status"]
                raise error
            if returncode != 0 or "unapplied" not in result:
                raise OldCodeRollbackFailed(
                    f"the rollback with the code of {commit[:12]} stopped (see above)"
                )
            unapplied = [(app, name) for app, name in result["unapplied"]]
            return OldCodeRollback(unapplied, result.get("backup"))
        finally:
            spec_path.unlink(missing_ok=True)
            result_path.unlink(missing_ok=True)


def live_databases(databases: dict[str, Any]) -> dict[str, Any]:
    """`DATABASES` as this process opens them, for a child working in another directory.

    Django opens a relative SQLite NAME against the working directory, and the child's
    is the old commit's tree: name the live file absolutely.
    """
    live = {}
    for alias, given in databases.items():
        settings_dict = dict(given)
        name = settings_dict.get("NAME")
        if (
            stores_in_file(settings_dict)
            and isinstance(name, (str, os.PathLike))
            and str(name) != ":memory:"
            and not str(name).startswith("file:")
        ):
            settings_dict["NAME"] = os.path.abspath(name)
        live[alias] = settings_dict
    return live


def warm_main(fd: str) -> int:
    """The child started early: preloads, then waits for the spec's path on pipe `fd`."""
    die_with_parent()
    warm = Warm()
    spec_path = warm.spec_path(fd)
    return 0 if spec_path is None else child_main(spec_path, warm)


def child_main(spec_path: str, warm: Warm | None = None) -> int:
    """The child: `warm` when it started before the spec was written (`warm_child`)."""
    import pickle

    die_with_parent()
    from migrail.errors import MigrailError

    with open(spec_path, "rb") as handle:
        spec: RollbackSpec = pickle.load(handle)
    if warm is not None:
        warm.enter(spec_path, spec.cwd, spec.env)
    result = Path(spec.result_path)
    from migrail.sync.errors import database_errors

    try:
        with database_errors():
            _child(spec, warm, spec_path)
    except MigrailError as err:  # the parent says it, as it would had it failed itself
        result.write_text(
            json.dumps(
                {
                    "error": str(err),
                    "exit_status": err.exit_status,
                    "without_from": isinstance(err, OldCodeCannotStart),
                }
            )
        )
        return err.exit_status
    return 0


def _child(spec: RollbackSpec, warm: Warm | None, spec_path: str) -> None:
    from migrail.sources.config import load_config
    from migrail.sources.settings_location import settings_module
    from migrail.sync.loader import LoadedMigrations
    from migrail.sync.old_code_bytecode import compile_once
    from migrail.sync.old_code_paths import old_tree_path, point_editable_finders
    from migrail.sync.output import ProgressPrinter
    from migrail.sync.plan import plan_sync
    from migrail.sync.rollback import check_rollback, roll_back

    repo = GitRepo(Path(spec.repo_root), Path(spec.git_dir), Path(spec.common_dir))
    repo.known_commit(spec.rev)  # the parent resolved it
    tree_dir = Path(spec.tree_dir)
    config = load_config(tree_dir, git_root=repo.root)
    module, project_dir = settings_module(tree_dir, config)
    # This commit's code first, wherever the project imports from (its directory,
    # PYTHONPATH, src/, editable installs); the live project after it, for untracked
    # local modules.
    live_root = Path(spec.repo_root)
    sys.path[:] = old_tree_path(
        [str(project_dir), spec.live_project_dir, *sys.path], live_root, tree_dir
    )
    point_editable_finders(live_root, tree_dir)
    if warm is not None:
        warm.check_imports(spec_path)
    compile_once(tree_dir, repo.migrail_dir / "bytecode")
    try:
        _start_old_django(module, tree_dir, config, spec.databases)
    except Exception as err:  # settings that read a file the commit's tree lacks, say
        reason = str(err) if isinstance(err, MigrailError) else f"{type(err).__name__}: {err}"
        raise OldCodeCannotStart(
            f"the code of commit {spec.rev[:12]} (its files under .git/migrail/trees/, "
            f"to roll back with) cannot start Django: {reason}; `migrail sync` without "
            "--from rolls back with this checkout's code instead"
        ) from err

    from django.db import connections

    connection = connections[spec.alias]
    with LoadedMigrations(connection) as loaded:
        plan = plan_sync(repo, config, loaded, spec.rev, spec.target, code_root=tree_dir)
        print(describe_rollback(plan.alias, plan.vendor, spec.rev, plan.unapply, plan.effects))
        check_rollback(plan, repo, connection, spec.feature, spec.target)
        backup = None
        if not spec.dry_run and (plan.unapply or plan.squash_records):
            backup = roll_back(
                repo,
                spec.config,
                plan,
                loaded,
                spec.rev,
                backup=spec.backup,
                progress=ProgressPrinter(),
                data_of=spec.feature.data_of(repo, connection),
            )
    Path(spec.result_path).write_text(json.dumps({"unapplied": plan.unapply, "backup": backup}))


def _start_old_django(
    module: str, tree_dir: Path, config: Config, databases: dict[str, Any]
) -> None:
    """Django with `module`; when that is the environment's `DJANGO_SETTINGS_MODULE` and this
    commit has no such module (settings split into a package since), with the module this
    commit's own configuration or manage.py names."""
    from migrail.sources.settings_location import settings_module
    from migrail.sync.settings import start_django

    exported = os.environ.get("DJANGO_SETTINGS_MODULE") == module
    try:
        start_django(module, databases=databases)
    except MigrailError:
        if not exported:
            raise
        del os.environ["DJANGO_SETTINGS_MODULE"]
        try:
            own, _ = settings_module(tree_dir, config)
        except MigrailError:
            own = None
        if own is None or own == module:
            raise
        start_django(own, databases=databases)


def describe_rollback(
    alias: str, vendor: str, rev: str, keys: list[Key], effects: dict[Key, list[Effect]]
) -> str:
    lines = [
        f"migrail: database {alias!r} ({vendor}): {len(keys)} to unapply "
        f"with the code of {rev[:12]}"
    ]
    for key in keys:
        lines.append(f"  - {key[0]}.{key[1]}")
        lines += [f"      {effect.text}" for effect in effects.get(key, [])]
    return "\n".join(lines)
