"""A plan carried out as `manage.py migrate` carries it out.

Django's `migrate` command does more than run the executor: it imports every app's
`management` module (where handlers register), sends `pre_migrate` with the plan and
the project state before it, runs the plan, re-renders the models and sends
`post_migrate`. Those signals are how contenttypes renames a renamed model's content
type back when its `RenameModel` is unapplied, how permissions are created, and how a
project's own handlers run. `run_plan` does the same, for a rollback (`migrate APP
TARGET`) and for the forward part (`migrate`), and reports each migration through a
callback as it starts and ends, with its time: the core reports, the caller prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from migrail.errors import EXIT_FINDINGS, MigrailError
from migrail.graph.parser import Key
from migrail.sync.errors import driver_words

Plan = list[tuple[Any, bool]]  # Django's: (Migration, backwards)

# True while migrail itself runs a plan: its sync keeps the applied sources itself, so the
# Django app's `post_migrate` receiver (for `manage.py migrate` by hand) stands aside.
running_plan: ContextVar[bool] = ContextVar("migrail_running_plan", default=False)


@dataclass(frozen=True)
class Progress:
    """One migration started (`seconds` None) or done, forwards or backwards."""

    key: Key
    backwards: bool
    seconds: float | None = None
    failed: bool = False


ProgressCallback = Callable[[Progress], None]


class MigrationFailed(MigrailError):
    """A migration raised; `key` names it, `cause` is the database's (or Python's) word.
    What ran before it stays as it is: work left undone (exit 1)."""

    exit_status = EXIT_FINDINGS
    without_from = True  # what was unapplied stays so: a plain `migrail sync` goes on

    def __init__(self, key: Key, backwards: bool, cause: BaseException, then: str = "") -> None:
        self.key = key
        self.backwards = backwards
        self.cause = cause
        super().__init__(f"migration {key[0]}.{key[1]} failed: {describe_cause(cause)}{then}")


def describe_cause(err: BaseException) -> str:
    """The database's own first line (`no such table: x`); for any other error, its class
    too (`KeyError: ('shop', 'item')`), which alone says what went wrong."""
    from django.db import DatabaseError

    lines = [line.strip() for line in driver_words(err).splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    return lines[0] if isinstance(err, DatabaseError) else f"{type(err).__name__}: {lines[0]}"


def run_plan(executor: Any, plan: Plan, progress: ProgressCallback | None = None) -> None:
    """`plan` through `executor` with `pre_migrate`/`post_migrate` sent as `migrate` sends them.

    A plan is all forwards or all backwards, as Django's executor requires. A failing
    migration raises `MigrationFailed` naming it; what the executor had committed before it
    stays committed (the caller's transaction, if any, decides).
    """
    token = running_plan.set(True)
    try:
        _run_plan(executor, plan, progress)
    finally:
        running_plan.reset(token)


def _run_plan(executor: Any, plan: Plan, progress: ProgressCallback | None) -> None:
    from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal

    _import_management_modules()
    alias = executor.connection.alias
    before = executor._create_project_state(with_applied_migrations=True)
    emit_pre_migrate_signal(0, False, alias, apps=before.apps, plan=plan)
    reporter = _Reporter(progress)
    executor.progress_callback = reporter
    targets = [] if any(backwards for _, backwards in plan) else _leaves(executor)
    try:
        after = executor.migrate(targets, plan=plan, state=before.clone())
    except BaseException as err:
        running = reporter.current
        if running is None:
            raise
        reporter.failed()
        if isinstance(err, MigrailError) or not isinstance(err, Exception):
            raise
        raise MigrationFailed(running, reporter.backwards, err) from err
    finally:
        executor.progress_callback = None
    emit_post_migrate_signal(0, False, alias, apps=_rendered(after), plan=plan)


def forward_plan(executor: Any) -> Plan:
    """What `manage.py migrate` would apply: its checks, then the plan to every leaf."""
    loader = executor.loader
    loader.check_consistent_history(executor.connection)
    conflicts = loader.detect_conflicts()
    if conflicts:
        names = "; ".join(f"{', '.join(n)} in {app}" for app, n in sorted(conflicts.items()))
        raise MigrailError(f"`migrate` refuses conflicting migrations: {names}")
    return list(executor.migration_plan(_leaves(executor)))


def _leaves(executor: Any) -> list[Key]:
    return list(executor.loader.graph.leaf_nodes())


def _import_management_modules() -> None:
    """As `migrate` does, so that handlers registered there receive the signals."""
    from importlib import import_module

    from django.apps import apps
    from django.utils.module_loading import module_has_submodule

    for app_config in apps.get_app_configs():
        if module_has_submodule(app_config.module, "management"):
            import_module(".management", app_config.name)


def _rendered(state: Any) -> Any:
    """The state's apps, with the real apps' models re-rendered from the registry, as
    `migrate` hands them to `post_migrate`."""
    from django.apps import apps
    from django.db.migrations.state import ModelState

    state.clear_delayed_apps_cache()
    rendered = state.apps
    with rendered.bulk_update():
        keys = []
        for model_state in rendered.real_models:
            key = model_state.app_label, model_state.name_lower
            keys.append(key)
            rendered.unregister_model(*key)
    rendered.render_multiple([ModelState.from_model(apps.get_model(*key)) for key in keys])
    return rendered


class _Reporter:
    """Django's progress callback turned into `Progress` events, remembering which
    migration is running so that a failure can name it."""

    def __init__(self, progress: ProgressCallback | None) -> None:
        self.progress = progress
        self.current: Key | None = None
        self.backwards = False
        self.started = 0.0

    def __call__(self, action: str, migration: Any = None, fake: bool = False) -> None:
        if action in ("apply_start", "unapply_start"):
            self.current = (migration.app_label, migration.name)
            self.backwards = action == "unapply_start"
            self.started = time.monotonic()
            if self.progress:
                self.progress(Progress(self.current, self.backwards))
        elif action in ("apply_success", "unapply_success") and self.current is not None:
            seconds = time.monotonic() - self.started
            done, self.current = self.current, None
            if self.progress:
                self.progress(Progress(done, self.backwards, seconds))

    def failed(self) -> None:
        if self.progress and self.current is not None:
            seconds = time.monotonic() - self.started
            self.progress(Progress(self.current, self.backwards, seconds, failed=True))
