"""Snapshot journals and records edited by hand (or by anyone who can write `.git/`): a replay
carries out only migrail's own steps, and what cannot be read is named, never a traceback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from migrail.sync.identity import identity_of
from tests.database.test_snapshots import start
from tests.djangoproject import DjangoProject, run_env


def journal_path(project: DjangoProject) -> Path:
    settings = {"NAME": str(project.root / "db.sqlite3")}
    key = identity_of("default", "sqlite", settings).key
    return project.root / f".git/migrail/snapshots/journal-{key}.json"


def journal(*steps: list[object], **fields: object) -> dict[str, object]:
    return {"vendor": "sqlite", "steps": list(steps), "done": 0, "record": None, "forget": []} | (
        fields
    )


def test_a_journal_step_on_a_file_elsewhere_is_refused(
    project: DjangoProject, tmp_path: Path
) -> None:
    start(project, snapshots=True)
    victim = tmp_path / "elsewhere.txt"
    victim.write_text("keep me")
    path = journal_path(project)
    path.write_text(json.dumps(journal(["drop", str(victim)])))
    for command in (["sync"], ["status"], ["snapshot", "list"]):
        proc = project.migrail(*command)
        assert proc.returncode != 0, proc.stdout + proc.stderr
        said = (proc.stdout + proc.stderr).strip()
        assert "Traceback" not in said, said
        (line,) = [x for x in said.splitlines() if "unreadable snapshot journal" in x]
        assert line.startswith(f"migrail: error: {path}: unreadable snapshot journal ("), said
        assert "neither database" in line, said
    assert victim.read_text() == "keep me"
    assert path.exists()  # left for the user to look at


def test_a_journal_that_would_drop_the_live_database_is_refused(project: DjangoProject) -> None:
    """Its own name passes the name check, but migrail never writes a drop of the live
    database that no snapshot then replaces: such a journal is refused, the data kept."""
    start(project, snapshots=True)
    live = project.root / "db.sqlite3"
    rows = project.query("SELECT name FROM shop_item ORDER BY id")
    path = journal_path(project)
    path.write_text(json.dumps(journal(["drop", str(live)])))
    proc = project.migrail("sync")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr == (
        f"migrail: error: {path}: unreadable snapshot journal (it would leave database "
        f"{str(live)!r} dropped); nothing was done: look at it, then remove it\n"
    )
    assert live.exists()
    assert project.query("SELECT name FROM shop_item ORDER BY id") == rows


@pytest.mark.parametrize(
    "written",
    [
        {"steps": [["drop", "/somewhere/else"]]},
        journal(done="x"),
        journal(["drop"]),
        journal(["format", "c:"]),
        journal([5, 6]),
        journal(forget=["../../../config"]),
        journal(record={"id": "x", "branch": 5}),
        [],
        "{",
    ],
    ids=["no-done", "done-x", "arity", "unknown-op", "ints", "forget", "record", "list", "torn"],
)
def test_a_malformed_journal_is_one_line_naming_it(project: DjangoProject, written: object) -> None:
    start(project, snapshots=True)
    path = journal_path(project)
    path.write_text(written if isinstance(written, str) else json.dumps(written))
    for command in (["sync"], ["status"]):
        proc = project.migrail(*command)
        said = (proc.stdout + proc.stderr).strip()
        assert proc.returncode != 0, said
        assert "Traceback" not in said, said
        (line,) = [x for x in said.splitlines() if "unreadable snapshot journal" in x]
        assert line.startswith(f"migrail: error: {path}: unreadable snapshot journal ("), line


@pytest.mark.parametrize(
    ("field", "value"), [("branch", 5), ("synced", "x"), ("leaves", []), ("id", "../../x")]
)
def test_a_record_with_wrong_types_is_named_by_list(
    project: DjangoProject, field: str, value: object
) -> None:
    start(project, snapshots=True)
    project.git("switch", "main")  # feature's saved
    (record,) = [
        p
        for p in (project.root / ".git/migrail/snapshots").glob("*.json")
        if not p.name.startswith("journal-")
    ]
    edited = json.dumps(json.loads(record.read_text()) | {field: value})
    record.write_text(edited)
    proc = project.migrail("snapshot", "list")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"migrail: {record} is no snapshot record migrail can read")
    switched = subprocess.run(
        ["git", "switch", "feature"], cwd=project.root, env=run_env(), capture_output=True
    )
    assert switched.returncode == 0, switched.stderr
    assert b"Traceback" not in switched.stderr, switched.stderr
    assert record.read_text() == edited  # left as it is, never overwritten or followed
