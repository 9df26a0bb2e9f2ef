"""The snapshot catalogue under `<git common dir>/migrail/snapshots/`: what each snapshot is.

A snapshot belongs to one database (its identity: engine, host, port, name) and one
branch (or a detached HEAD's commit). Its id, and the name of the database object
that holds it, are hashed from both, so no branch name ever reaches SQL. Files are
0600 in a 0700 directory. A journal written before a park or un-park names the steps,
so a killed switch is finished by the next run.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from migrail.errors import MigrailError
from migrail.snapshots import OWNERS
from migrail.sync.identity import DatabaseIdentity, identity_of
from migrail.sync.private_files import private_directory, write_private_json

OBJECT_PREFIX = "migrail_snap_"


def snapshot_id(identity: DatabaseIdentity, branch: str) -> str:
    return hashlib.sha256(f"{identity.key}\0{branch}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Unsynced:
    """A failed sync's note (`SnapshotStore.mark_unsynced`): the database holds what
    `commit`'s code applied; `leaves`, the last applied migration of each app then (None:
    not known); `partway`, `commit`'s own migrate stopped partway (not all of its applied)."""

    commit: str
    leaves: dict[str, str] | None
    partway: bool = False


@dataclass(frozen=True)
class Snapshot:
    id: str
    branch: str
    commit: str
    identity: DatabaseIdentity
    leaves: dict[str, str] = field(default_factory=dict)
    created: float = 0.0
    # False: saved after a sync that failed, so it holds the migrations `commit`'s code
    # applied, not its branch's; restoring it syncs from `commit` like any other.
    synced: bool = True
    # Saved by `migrail snapshot save NAME` with a NAME that is no branch: kept by `prune`
    # and by `snapshots_kept`; only `migrail snapshot drop NAME` removes it.
    named: bool = False
    prefix: str = ""  # `snapshot_prefix` when it was saved: its copy keeps the name it got
    # Holds exactly the migrations of `commit`'s tree under the settings this key names (a
    # sync there succeeded with no migration file changed in the work tree, and none
    # applied since): restored at `commit` with those settings, it needs no sync (see
    # `return_trip.settings_key`). "" when not known.
    exact: str = ""
    # When its branch was made (the reflog's oldest entry, whole seconds) as the save found it;
    # None when not known (a detached HEAD, a named snapshot, a record from before).
    branch_made: float | None = None

    @property
    def detached(self) -> bool:
        """Saved on leaving a detached HEAD: recorded under its full commit id."""
        return self.branch == self.commit or bool(re.fullmatch(r"[0-9a-f]{40}", self.branch))

    @property
    def shown_name(self) -> str:
        """The branch's name; a detached HEAD's commit, short as git shows it."""
        return self.branch[:12] if self.detached else self.branch

    @property
    def object_name(self) -> str:
        """The database (PostgreSQL), schema (MySQL) or file stem (SQLite) holding it."""
        return self.prefix + OBJECT_PREFIX + self.id


def new_snapshot(
    identity: DatabaseIdentity,
    branch: str,
    commit: str,
    leaves: dict[str, str],
    *,
    synced: bool = True,
    prefix: str = "",
    exact: str = "",
    branch_made: float | None = None,
) -> Snapshot:
    sid = snapshot_id(identity, branch)
    return Snapshot(
        sid,
        branch,
        commit,
        identity,
        leaves,
        time.time(),
        synced,
        prefix=prefix,
        exact=exact,
        branch_made=branch_made,
    )


SNAPSHOT_ID = re.compile(r"[0-9a-f]{20}")


class NotARecord(ValueError):
    """A snapshot record or journal that is not what migrail writes (torn, edited, foreign)."""


def _typed(value: object, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
        raise NotARecord(f"{what} has the wrong type")
    return value


def snapshot_from_json(given: object) -> Snapshot:
    """A record as `record` wrote it; `NotARecord` (a ValueError) for anything else."""
    data: dict[str, Any] = _typed(given, dict, "the record")
    try:
        identity = _typed(data["identity"], dict, "identity")
        fields = {key: _typed(identity[key], str, key) for key in ("alias", "vendor", "name")}
        fields |= {key: _typed(identity.get(key, ""), str, key) for key in ("host", "port")}
        if "settings_host" in identity:
            fields["settings_host"] = _typed(identity["settings_host"], str, "settings_host")
        leaves = _typed(data["leaves"], dict, "leaves")
        if not SNAPSHOT_ID.fullmatch(_typed(data["id"], str, "id")):
            raise NotARecord("id is not a snapshot id")
        return Snapshot(
            data["id"],
            _typed(data["branch"], str, "branch"),
            _typed(data["commit"], str, "commit"),
            _identity_from_json(fields),
            {_typed(k, str, "app"): _typed(v, str, "leaf") for k, v in leaves.items()},
            float(_typed(data["created"], (int, float), "created")),
            _typed(data.get("synced", True), bool, "synced"),
            _typed(data.get("named", False), bool, "named"),  # absent from older files
            _typed(data.get("prefix", ""), str, "prefix"),
            _exact_key(data.get("exact", "")),
            _branch_made(data.get("branch_made")),
        )
    except KeyError as err:
        raise NotARecord(f"no {err}") from None


def _branch_made(value: object) -> float | None:
    return None if value is None else float(_typed(value, (int, float), "branch_made"))


def _exact_key(value: object) -> str:
    if isinstance(value, bool):  # written before the key was kept: not known
        return ""
    return str(_typed(value, str, "exact"))


STEP_ARITY = {"drop": 1, "copy": 2, "rename": 2, "move": 2, "create": 2}


def journal_from_json(data: object) -> dict[str, Any]:
    """A journal as `run_journalled` writes it: its shape checked, not yet its names (the
    engine's, `steps.check_names`). `NotARecord` (a ValueError) for anything else."""
    journal: dict[str, Any] = _typed(data, dict, "the journal")
    try:
        _typed(journal["vendor"], str, "vendor")
        steps = _typed(journal["steps"], list, "steps")
        for step in steps:
            _typed(step, list, "a step")
            if not step or STEP_ARITY.get(step[0]) != len(step) - 1:
                raise NotARecord(f"unknown step {str(step)[:60]}")
            for name in step:
                _typed(name, str, "a step's name")
        done = _typed(journal["done"], int, "done")
        if not 0 <= done <= len(steps):
            raise NotARecord(f"done is not 0 to {len(steps)}")
        if journal["record"] is not None:
            snapshot_from_json(journal["record"])
        _typed(journal.get("owner", ""), str, "owner")
        for sid in _typed(journal["forget"], list, "forget"):
            if not isinstance(sid, str) or not SNAPSHOT_ID.fullmatch(sid):
                raise NotARecord("forget names no snapshot id")
    except KeyError as err:
        raise NotARecord(f"no {err}") from None
    return journal


def _identity_from_json(data: dict[str, Any]) -> DatabaseIdentity:
    if "settings_host" in data:
        return DatabaseIdentity.from_json(data)
    # Written before snapshots shared sync's identity: the settings as they spelled them.
    settings = {"NAME": data["name"], "HOST": data.get("host", ""), "PORT": data.get("port", "")}
    return identity_of(str(data["alias"]), str(data["vendor"]), settings)


class SnapshotStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def ensure(self) -> Path:
        return private_directory(self.directory)

    def file_for(self, snapshot: Snapshot) -> Path:
        """Where SQLite keeps a snapshot's copy."""
        return self.ensure() / f"{snapshot.object_name}.sqlite3"

    def all(self, identity: DatabaseIdentity | None = None) -> list[Snapshot]:
        found = []
        for path in sorted(self.directory.glob("*.json")) if self.directory.is_dir() else []:
            if path.name.startswith("journal-"):
                continue
            try:
                snapshot = snapshot_from_json(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue  # a torn or foreign file is not a snapshot
            if identity is None or snapshot.identity.key == identity.key:
                found.append(snapshot)
        return sorted(found, key=lambda s: s.created)

    def unreadable(self) -> list[Path]:
        """Records `all` skips: torn by hand or by a full disk, or another tool's files."""
        found = []
        for path in sorted(self.directory.glob("*.json")) if self.directory.is_dir() else []:
            if path.name.startswith("journal-"):
                continue
            try:
                snapshot_from_json(json.loads(path.read_text()))
            except (OSError, ValueError):
                found.append(path)
        return found

    def find(self, identity: DatabaseIdentity, branch: str) -> Snapshot | None:
        """`branch`'s snapshot: by name, so one relabelled after `git branch -m` is found."""
        return next((s for s in self.all(identity) if s.branch == branch), None)

    def record(self, snapshot: Snapshot) -> None:
        write_private_json(self.ensure() / f"{snapshot.id}.json", asdict(snapshot))

    def forget(self, snapshot_ids: list[str]) -> None:
        for sid in snapshot_ids:
            (self.directory / f"{sid}.json").unlink(missing_ok=True)

    def journal_path(self, identity: DatabaseIdentity) -> Path:
        return self.directory / f"journal-{identity.key}.json"

    def write_journal(self, identity: DatabaseIdentity, journal: dict[str, Any]) -> None:
        write_private_json(self.ensure() / f"journal-{identity.key}.json", journal)

    def read_journal(self, identity: DatabaseIdentity) -> dict[str, Any] | None:
        path = self.journal_path(identity)
        if not path.exists():
            return None
        try:
            return journal_from_json(json.loads(path.read_text()))
        except (OSError, ValueError) as err:
            raise MigrailError(
                f"{path}: unreadable snapshot journal ({err}); nothing was done: look at it, "
                "then remove it"
            ) from None

    def has_journals(self) -> bool:
        return self.directory.is_dir() and any(self.directory.glob("journal-*.json"))

    def clear_journal(self, identity: DatabaseIdentity) -> None:
        self.journal_path(identity).unlink(missing_ok=True)

    def _unsynced_path(self, identity: DatabaseIdentity) -> Path:
        return self.directory / "unsynced" / f"{identity.key}.json"

    def mark_unsynced(
        self,
        identity: DatabaseIdentity,
        commit: str,
        leaves: dict[str, str] | None,
        *,
        partway: bool = False,
    ) -> None:
        """The live database's last sync failed: it holds what `commit`'s code applied
        (`partway`: `commit`'s own migrate stopped partway, so not all of them)."""
        path = private_directory(self.ensure() / "unsynced") / f"{identity.key}.json"
        write_private_json(path, {"commit": commit, "leaves": leaves, "partway": partway})

    def unsynced(self, identity: DatabaseIdentity) -> Unsynced | None:
        """The failed sync `mark_unsynced` noted, if any."""
        try:
            data = json.loads(self._unsynced_path(identity).read_text())
            leaves = data["leaves"]
            if leaves is not None and not all(
                isinstance(k, str) and isinstance(v, str) for k, v in leaves.items()
            ):
                return None
            partway = _typed(data.get("partway", False), bool, "partway")
            return Unsynced(_typed(data["commit"], str, "commit"), leaves, partway)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def clear_unsynced(self, identity: DatabaseIdentity) -> None:
        self._unsynced_path(identity).unlink(missing_ok=True)

    def _exact_path(self, identity: DatabaseIdentity) -> Path:
        return self.directory / "exact" / f"{identity.key}.json"

    def mark_exact(
        self, identity: DatabaseIdentity, commit: str, leaves: dict[str, str], settings: str
    ) -> None:
        """The live database holds exactly the migrations of `commit`'s tree (`leaves`) under
        the settings `settings` names (`return_trip.settings_key`)."""
        path = private_directory(self.ensure() / "exact") / f"{identity.key}.json"
        write_private_json(path, {"commit": commit, "leaves": leaves, "settings": settings})

    def exact(self, identity: DatabaseIdentity) -> tuple[str, dict[str, str], str] | None:
        """(commit, applied leaves then, settings key) of the last `mark_exact`, if any."""
        try:
            data = json.loads(self._exact_path(identity).read_text())
            leaves = _typed(data["leaves"], dict, "leaves")
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in leaves.items()):
                return None
            commit = _typed(data["commit"], str, "commit")
            return commit, leaves, _typed(data["settings"], str, "settings")
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def clear_exact(self, identity: DatabaseIdentity) -> None:
        self._exact_path(identity).unlink(missing_ok=True)

    def _owner_path(self, identity: DatabaseIdentity) -> Path:
        return self.directory / OWNERS / f"{identity.key}.json"

    def set_owner(self, identity: DatabaseIdentity, branch: str) -> None:
        """The live database now holds `branch`'s data (restored, or gone on from as it)."""
        path = private_directory(self.ensure() / OWNERS) / f"{identity.key}.json"
        write_private_json(path, {"branch": branch})

    def clear_owner(self, identity: DatabaseIdentity) -> None:
        """Unknown again (a detached HEAD): the next switch saves by the branch git left."""
        self._owner_path(identity).unlink(missing_ok=True)

    def owner(self, identity: DatabaseIdentity) -> str | None:
        """The branch whose data the live database holds, as the last swap left it."""
        try:
            data = json.loads(self._owner_path(identity).read_text())
            return str(_typed(data["branch"], str, "branch"))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def describe_age(created: float, now: float) -> str:
    seconds = max(0, int(now - created))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def describe_size(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover
