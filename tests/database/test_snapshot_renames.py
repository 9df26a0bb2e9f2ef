"""A checked-out branch renamed with `git branch -m`: status, switches and syncs name it as it
is called now (its reflog says what it was called), through real git and hooks."""

from __future__ import annotations

from pathlib import Path

from tests.database.test_snapshots import skipped_switch, start, stored
from tests.djangoproject import DjangoProject


def records(project: DjangoProject) -> tuple[list[dict[str, object]], list[str]]:
    """Every snapshot record and note: what a read-only command must leave as it is."""
    directory = project.root / ".git/migrail/snapshots"
    notes = sorted(p.read_text() for p in directory.glob("*/*.json"))
    return stored(project), notes


def test_status_names_a_renamed_branch_as_it_is_called_now(project: DjangoProject) -> None:
    """feature's data is live and its snapshot saved; feature is renamed wip: status names
    no 'feature', changes nothing, and the next switch saves the data as wip's."""
    start(project, snapshots=True)
    project.query("INSERT INTO shop_item (name, stock) VALUES (2, 9)")
    assert project.migrail("snapshot", "save").returncode == 0  # feature's own
    project.git("branch", "-m", "feature", "wip")
    before = records(project)
    out = project.migrail("status").stdout
    assert "'feature'" not in out
    assert (
        "  snapshots: on; no other branch has one (`migrail snapshot list` shows them); "
        "a switch saves this branch's and goes on\n"
    ) in out
    assert records(project) == before  # read-only
    proc = project.migrail("snapshot", "prune")  # relabels feature's snapshot as wip's
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = project.migrail("status").stdout
    assert "'feature'" not in out
    assert "no other branch has one" in out

    out = project.git("switch", "main")
    assert "holds the data of" not in out
    assert "saved database 'default' as the snapshot of 'wip'" in out
    out = project.git("switch", "wip")
    assert "restored the snapshot of 'wip'" in out
    assert project.query("SELECT name, stock FROM shop_item") == [[2, 9]]
    assert sorted(str(s["branch"]) for s in stored(project)) == ["main"]


def test_status_after_a_switch_that_did_not_swap_follows_the_rename(
    project: DjangoProject,
) -> None:
    """main's data is live on feature (a skipped switch), feature's snapshot waits; feature is
    renamed wip: status still says `migrail sync` swaps, and the sync restores wip's rows."""
    start(project, snapshots=True)
    project.query("INSERT INTO shop_item (name, stock) VALUES (2, 9)")
    project.git("switch", "main")  # feature's snapshot saved
    project.query("INSERT INTO shop_item (name) VALUES (1)")
    skipped_switch(project, "feature")
    project.git("branch", "-m", "feature", "wip")
    before = records(project)
    out = project.migrail("status").stdout
    assert (
        "  snapshots: on; the database holds the data of 'main' (the switch here did not swap "
        "it): `migrail sync` saves it as the snapshot of 'main' and restores this branch's\n"
    ) in out
    assert records(project) == before

    proc = project.migrail("sync")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "restored the snapshot of 'wip'" in proc.stdout
    assert project.query("SELECT name, stock FROM shop_item") == [[2, 9]]


def test_a_renamed_branchs_live_data_is_saved_under_its_new_name(tmp_path: Path) -> None:
    """The reproduction of the trial: rename the branch checked out, switch away and back."""
    project = DjangoProject(tmp_path / "repo")
    start(project, snapshots=True)
    project.query("INSERT INTO shop_item (name, stock) VALUES (2, 9)")
    project.git("branch", "-m", "feature", "wip")
    out = project.migrail("status").stdout
    assert "'feature'" not in out
    out = project.git("switch", "main")
    assert "holds the data of 'feature'" not in out
    assert "saved database 'default' as the snapshot of 'wip'" in out
    out = project.git("switch", "wip")
    assert "the snapshot of 'feature'" not in out
    assert project.query("SELECT name, stock FROM shop_item") == [[2, 9]]


def test_a_renamed_other_branchs_snapshot_is_offered_and_restored_by_its_new_name(
    project: DjangoProject,
) -> None:
    """feature's snapshot is saved, then feature is renamed wip from main: status names wip as
    a branch whose snapshot a switch restores, and `snapshot restore wip` finds it."""
    start(project, snapshots=True)
    project.query("INSERT INTO shop_item (name, stock) VALUES (2, 9)")
    project.git("switch", "main")  # feature's snapshot saved
    project.git("branch", "-m", "feature", "wip")
    before = records(project)

    out = project.migrail("status").stdout
    assert "  snapshots: on; a switch to 'wip' restores its snapshot" in out
    assert records(project) == before  # read-only
    proc = project.migrail("snapshot", "restore", "wip")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert project.query("SELECT name, stock FROM shop_item") == [[2, 9]]


def test_snapshot_list_names_a_renamed_branch_as_it_is_called_now(
    project: DjangoProject,
) -> None:
    """feature's snapshot is saved, then feature is renamed wip: `snapshot list` shows it as
    wip's, as status offers it, and rewrites no record (prune or a switch relabels it); once
    wip has a snapshot of its own, the old one keeps its old name, as a switch leaves it."""
    start(project, snapshots=True)
    project.git("switch", "main")  # feature's snapshot saved
    project.git("branch", "-m", "feature", "wip")
    before = records(project)

    proc = project.migrail("snapshot", "list")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = [line.split()[0] for line in proc.stdout.splitlines()[2:]]
    assert names == ["wip"], proc.stdout
    assert records(project) == before  # read-only
    assert sorted(str(s["branch"]) for s in stored(project)) == ["feature"]

    assert project.migrail("snapshot", "save", "wip").returncode == 0
    proc = project.migrail("snapshot", "list")
    names = [line.split()[0] for line in proc.stdout.splitlines()[2:]]
    assert sorted(names) == ["feature", "wip"], proc.stdout


def test_status_asks_git_once_whether_a_snapshots_branch_exists(
    project: DjangoProject, tmp_path: Path
) -> None:
    """feature's snapshot waits, as does that of a renamed branch: status offers both by the
    names they have now, asking git whether each branch exists once (a rev-parse each)."""
    start(project, snapshots=True)
    project.git("switch", "main")  # feature's snapshot saved
    project.git("switch", "-c", "old")
    project.git("switch", "main")  # old's snapshot saved
    project.git("branch", "-m", "old", "new")
    trace = tmp_path / "git-trace"
    out = project.migrail("status", env={"GIT_TRACE": str(trace)}).stdout
    assert "  snapshots: on; a switch to 'feature', 'new' restores its snapshot" in out
    asked = [
        line.split("rev-parse", 1)[1].split()[-1]
        for line in trace.read_text().splitlines()
        if "rev-parse --verify --quiet refs/heads/" in line
    ]
    assert sorted(asked) == ["refs/heads/feature", "refs/heads/old"], asked
