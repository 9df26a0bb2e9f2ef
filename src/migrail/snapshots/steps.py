"""Copy, park and un-park a database as journalled steps; the steps are the engine's.

Each engine module under `migrail.engines` has its `SnapshotSteps`:
PostgreSQL `CREATE DATABASE … TEMPLATE` copies, `ALTER DATABASE … RENAME` parks and
un-parks (no copy, whatever the size); both need nobody else connected.
MySQL/MariaDB: a schema per snapshot; `RENAME TABLE` moves every table at once
across schemas; a copy is `SHOW CREATE TABLE` plus `INSERT … SELECT`.
SQLite: the online backup API, both ways (safe while a dev server holds the file).

A step is a JSON list (`["rename", "a", "b"]`) so the journal can replay it; each
one can run again after a kill and reach the same end. This module writes the journal
before the steps run and replays what a killed run left in it.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from migrail.engines import find_engine, is_lock_timeout
from migrail.engines.base import (
    CopyGaveUp,
    SnapshotSteps,
    SnapshotUnavailable,
    Step,
    StepBlocked,
)
from migrail.engines.programs import lock_wait_seconds
from migrail.errors import MigrailError
from migrail.snapshots.store import OBJECT_PREFIX, Snapshot, SnapshotStore
from migrail.sync.identity import DatabaseIdentity

Engine = SnapshotSteps  # the name branch_snapshots knows the steps by


@contextmanager
def open_engine(connection: Any, store: SnapshotStore) -> Iterator[Engine]:
    """The engine for Django's `connection`, which is closed first: renames need it gone."""
    live = str(connection.settings_dict.get("NAME") or "")
    connection.close()
    engine = find_engine(connection.vendor)
    if engine is None:
        raise SnapshotUnavailable(f"migrail takes no snapshots of {connection.vendor} databases")
    with engine.snapshot_steps(connection, live, store) as steps:
        yield steps


def run_journalled(
    engine: Engine,
    store: SnapshotStore,
    identity: DatabaseIdentity,
    steps: list[Step],
    *,
    record: Snapshot | None = None,
    forget: list[str] | None = None,
    owner: str | None = None,
) -> None:
    """Write the journal, run each step, update the catalogue, clear the journal.

    `owner`: whose data the live database holds once the steps are done (`""`: not known),
    recorded right after the journal, so a kill before it changes nothing and a kill after
    it is finished by the next run with the owner the steps lead to.

    A step that fails while only old snapshots were dropped ends cleanly
    (`SnapshotUnavailable`); later, the journal stays for the next run to finish.
    """
    from dataclasses import asdict

    journal: dict[str, Any] = {
        "vendor": engine.vendor,
        "steps": steps,
        "done": 0,
        "record": asdict(record) if record else None,
        "forget": forget or [],
    }
    if owner is not None:
        journal["owner"] = owner
    store.write_journal(identity, journal)
    _set_owner(store, identity, journal)
    _killed_here_for_tests(0)
    for number, step in enumerate(steps):
        try:
            engine.run(step)
        except Exception as err:
            gave_up = isinstance(err, CopyGaveUp)  # the steps before it only made copies
            if is_lock_timeout(err) and all(e[0] in ("drop", "create") for e in steps[:number]):
                err = CopyGaveUp(  # nothing moved yet: a RENAME TABLE is all or nothing
                    f"another session holds a lock on a table of database {identity.name!r} (a "
                    f"shell or server in an open transaction?), and migrail gave up after "
                    f"{lock_wait_seconds()}s (MIGRAIL_LOCK_WAIT)"
                )
                gave_up = True
            if gave_up or all(earlier[0] == "drop" for earlier in steps[:number]):
                if record is not None:  # the snapshot it replaced is gone or torn
                    engine.run(["drop", engine.place(record)])
                    store.forget([record.id])
                store.clear_journal(identity)
                if gave_up:
                    raise err from None
                raise SnapshotUnavailable(f"{type(err).__name__}: {err}".strip()) from err
            raise SwitchStopped(
                f"a snapshot switch of database {identity.labelled()} stopped at step "
                f"{number + 1} of {len(steps)} ({err}); run `migrail sync` to finish it"
            ) from err
        journal["done"] = number + 1
        store.write_journal(identity, journal)
        _killed_here_for_tests(number + 1)
    _finish(store, identity, journal)


class SwitchStopped(MigrailError):
    """A switch's steps stopped midway; the message says the one command that finishes it."""

    retry_said = True  # the hook adds no other retry line


def _killed_here_for_tests(done: int) -> None:
    """The kill the reliability tests place at an exact step (`MIGRAIL_KILL_AFTER_SNAPSHOT_STEP`),
    as a power cut or `kill -9` would leave it; unset, nothing happens."""
    if os.environ.get("MIGRAIL_KILL_AFTER_SNAPSHOT_STEP") == str(done):
        os.kill(os.getpid(), signal.SIGKILL)


def finish_journal(engine: Engine, store: SnapshotStore, identity: DatabaseIdentity) -> bool:
    """Carry out what an interrupted run left in the journal; False when there was none."""
    journal = store.read_journal(identity)
    if journal is None:
        return False
    _check_names(engine, store, identity, journal)
    _set_owner(store, identity, journal)
    steps: list[Step] = journal["steps"]
    engine.settle(steps[int(journal["done"]) :])
    for number in range(int(journal["done"]), len(steps)):
        try:
            engine.run(steps[number])
        except StepBlocked as err:
            raise MigrailError(_blocked(identity, engine.live, err)) from None
        journal["done"] = number + 1
        store.write_journal(identity, journal)
    _finish(store, identity, journal, engine)
    return True


def _blocked(identity: DatabaseIdentity, live: str, err: StepBlocked) -> str:
    """The step would overwrite one of two databases that both hold data. The one made
    since the kill is the live name (people make their database again; nobody makes a
    snapshot object), whether the step moved it away or back."""
    remade = live if live in (err.source, err.target) else err.target
    other = err.target if remade == err.source else err.source
    return (
        f"the interrupted snapshot switch of database {identity.alias!r} cannot finish: "
        f"{remade!r} holds data again (made since the switch stopped?), and {other!r} holds "
        f"the data the switch was moving; nothing was changed. Move {remade!r} aside (rename "
        "or drop it, once you have kept what you need of it), then run `migrail sync`"
    )


def _check_names(
    engine: Engine, store: SnapshotStore, identity: DatabaseIdentity, journal: dict[str, Any]
) -> None:
    """A journal replays only steps on this database's own name and migrail's own snapshot
    objects, in this engine: one edited to drop or move anything else is refused whole."""
    if journal["vendor"] != engine.vendor:
        problem = f"it is for {journal['vendor']!r}, not {engine.vendor!r}"
    else:
        stray = next((n for s in journal["steps"] for n in s[1:] if not _ours(engine, n)), None)
        if stray is not None:
            problem = f"{stray[:80]!r} is neither database {engine.live!r} nor a snapshot of it"
        else:
            problem = _leaves_live_gone(engine, journal["steps"]) or ""
        if not problem:
            return
    raise MigrailError(
        f"{store.journal_path(identity)}: unreadable snapshot journal ({problem}); nothing was "
        "done: look at it, then remove it"
    )


def _leaves_live_gone(engine: Engine, steps: list[list[str]]) -> str | None:
    """Why the steps are not a shape migrail writes: each one that drops or moves the live
    database away is followed by one that puts a snapshot in its place (a swap, a restore),
    and nothing else is ever put there. None when they are."""
    live, gone = engine.live, False
    for op, *names in steps:
        if op in ("drop", "rename", "move") and names[0] == live:
            gone = True
        elif op in ("copy", "rename", "move") and names[-1] == live:
            if names[0] == live:
                return f"it copies database {live!r} onto itself"
            gone = False
    return f"it would leave database {live!r} dropped" if gone else None


OBJECT_NAME_PREFIX = "[A-Za-z0-9_]*"  # `snapshot_prefix`, as the configuration cleans it


def _named_ours(store: SnapshotStore, identity: DatabaseIdentity, name: str) -> bool:
    """The live database's name, or a snapshot object's as any engine places it."""
    stem = Path(name).name.removesuffix(".sqlite3")
    found = re.fullmatch(f"{OBJECT_NAME_PREFIX}{OBJECT_PREFIX}[0-9a-f]{{20}}", stem)
    if found is None:
        return name == identity.name
    return name == found.group(0) or Path(name).parent == store.directory


def _ours(engine: Engine, name: str) -> bool:
    if name == engine.live:
        return True
    found = re.search(f"({OBJECT_NAME_PREFIX}){OBJECT_PREFIX}([0-9a-f]{{20}})", name)
    if found is None:
        return False
    identity = DatabaseIdentity(engine.vendor, engine.live, "", "", "")
    stand_in = Snapshot(found.group(2), "", "", identity, prefix=found.group(1))
    return engine.place(stand_in) == name


def pending_note(store: SnapshotStore, identity: DatabaseIdentity) -> str | None:
    """What `status` and `snapshot list` say of a switch a kill left half done, or None."""
    journal = store.read_journal(identity)
    if journal is None:
        return None
    stray = next(
        (n for s in journal["steps"] for n in s[1:] if not _named_ours(store, identity, n)), None
    )
    if stray is not None:  # no engine here: its own check (`_check_names`) is stricter
        raise MigrailError(
            f"{store.journal_path(identity)}: unreadable snapshot journal ({stray[:80]!r} is "
            f"neither database {identity.name!r} nor a snapshot of it); nothing was done: look "
            "at it, then remove it"
        )
    left = f" (step {journal['done'] + 1} of {len(journal['steps'])} left to do)"
    return (
        f"migrail: a snapshot switch of database {identity.alias!r} was interrupted{left}; "
        "the database is not what its branch holds until `migrail sync` finishes it"
    )


def _set_owner(store: SnapshotStore, identity: DatabaseIdentity, journal: dict[str, Any]) -> None:
    """The owner the journal's steps lead to, if it names one."""
    owner = journal.get("owner")
    if owner:
        store.set_owner(identity, owner)
    elif owner == "":
        store.clear_owner(identity)


def _finish(
    store: SnapshotStore,
    identity: DatabaseIdentity,
    journal: dict[str, Any],
    engine: Engine | None = None,
) -> None:
    from migrail.snapshots.store import snapshot_from_json

    forget = set(journal["forget"])
    if engine is not None:  # a replay: a snapshot whose copy is still there is kept
        forget -= {s.id for s in store.all(identity) if s.id in forget and engine.exists(s)}
    store.forget(sorted(forget))
    if journal["record"]:
        store.record(snapshot_from_json(journal["record"]))
    store.clear_journal(identity)


__all__ = [
    "CopyGaveUp",
    "Engine",
    "SnapshotUnavailable",
    "Step",
    "finish_journal",
    "open_engine",
    "pending_note",
    "run_journalled",
]
