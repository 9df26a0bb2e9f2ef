"""Django's `MigrationLoader`, built once per sync, its errors turned into one message.

A sync needs two views of the migrations: the working tree's (to decide, plan and
remember sources) and, when orphans are to be unapplied, one with their sources
restored (to plan the rollback and to carry it out). `LoadedMigrations` builds
each once and hands the second to Django's executor, instead of every step
building its own.
"""

from __future__ import annotations

import traceback
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

from migrail.errors import MigrailError
from migrail.graph.parser import Key
from migrail.sync.orphan_sources import ROLLBACK_PACKAGE_PREFIX, materialised


def load_migrations(connection: Any) -> Any:
    """Django's `MigrationLoader`, its errors turned into one message."""
    from django.db.migrations.loader import MigrationLoader
    from django.db.utils import InterfaceError, OperationalError

    try:
        return MigrationLoader(connection, ignore_no_migrations=True)
    except (OperationalError, InterfaceError):
        raise  # the database, not the migrations: `database_errors` names it
    except Exception as err:
        raise MigrailError(
            f"Django cannot load the migrations: {type(err).__name__}: {err}"
        ) from err


class LoadedMigrations:
    """One sync's loaders; a context manager, as the orphans' package lives until it exits.

    `tree` is the working tree's loader. `with_orphans()` restores the orphans' sources
    once (pointing `MIGRATION_MODULES` at them until exit) and loads them once.
    """

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.tree = load_migrations(connection)
        self._stack = ExitStack()
        self._with_orphans: Any = None
        self._restored: tuple[dict[Key, bytes], list[Key]] | None = None

    def __enter__(self) -> LoadedMigrations:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Put `MIGRATION_MODULES` back and remove the orphans' package."""
        self._stack.close()
        self._with_orphans = None
        self._restored = None

    def reload_tree(self) -> None:
        """Read the applied migrations again: another process changed them."""
        self.tree.build_graph()

    def with_orphans(self, sources: dict[Key, bytes], hidden: list[Key]) -> Any:
        """The loader with `sources` restored and `hidden` left out, built once."""
        if self._with_orphans is not None:
            if self._restored != (sources, hidden):
                raise RuntimeError("the orphans of one sync were restored twice, differently")
            return self._with_orphans
        directory = self._stack.enter_context(materialised(self.tree, sources, hidden))
        try:
            self._with_orphans = _load_with_orphans(self.connection, directory)
        except BaseException:
            self.close()  # the settings as they were, for whoever handles the error
            raise
        self._restored = (sources, hidden)
        return self._with_orphans

    def executor(self, sources: dict[Key, bytes], hidden: list[Key]) -> Any:
        """Django's `MigrationExecutor` on the loader the plan was made with."""
        from django.db.migrations.executor import MigrationExecutor
        from django.db.migrations.recorder import MigrationRecorder

        loader = self.with_orphans(sources, hidden) if sources or hidden else self.tree

        class PlannedExecutor(MigrationExecutor):  # type: ignore[misc]
            """The executor as Django builds it, but on a loader already built."""

            def __init__(self, connection: Any) -> None:
                self.connection = connection
                self.loader = loader
                self.recorder = MigrationRecorder(connection)
                self.progress_callback = None

        return PlannedExecutor(self.connection)


def _load_with_orphans(connection: Any, directory: Path) -> Any:
    """The loader with the orphans' sources restored; an import failure names the orphan."""
    try:
        return load_migrations(connection)
    except MigrailError as err:
        cause = err.__cause__
        if not isinstance(cause, ImportError):
            raise
        orphan: Key | None = None
        for frame in traceback.extract_tb(cause.__traceback__):
            path = Path(frame.filename)
            if directory in path.parents and path.parent.name.startswith(ROLLBACK_PACKAGE_PREFIX):
                orphan = (path.parent.name[len(ROLLBACK_PACKAGE_PREFIX) :], path.stem)
        if orphan is None:
            raise
        raise OrphanUnloadable(orphan, f"{type(cause).__name__}: {cause}") from cause


class OrphanUnloadable(MigrailError):
    """An orphan's restored source imports what this checkout's code lacks."""

    def __init__(self, orphan: Key, reason: str, commit: str | None = None) -> None:
        self.orphan = orphan
        self.cause = reason
        self.reason = (
            f"cannot load {orphan[0]}.{orphan[1]} to unapply it with this checkout's code: {reason}"
        )
        if commit:
            self.way_out = f"run `migrail sync --from {commit[:12]}`"
            message = f"Its code is in commit {commit[:12]}: {self.way_out}"
        else:
            self.way_out = "run `migrail sync --from REV` with the commit that applied it"
            message = "Its code is in the commit that applied it: run `migrail sync --from REV`"
        super().__init__(f"{self.reason}; nothing was changed. {message}")

    def in_commit(self, commit: str) -> OrphanUnloadable:
        """The same error, naming the commit that has the orphan's code."""
        error = OrphanUnloadable(self.orphan, self.cause, commit)
        error.__cause__ = self.__cause__
        return error
