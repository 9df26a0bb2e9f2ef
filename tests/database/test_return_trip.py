"""A return trip to a branch whose snapshot is current starts no Django (SQLite), and one
that has anything to sync still does."""

from __future__ import annotations

import re
from pathlib import Path

from tests.by_hand import database_dump
from tests.djangoproject import (
    DjangoProject,
    git,
    migration_source,
    real_project,
)
from tests.scenarios import feature_branch, main_branch, sync


def switch(project: DjangoProject, branch: str) -> tuple[str, bool]:
    """`git switch BRANCH` through the hooks: (its output, whether the hook imported Django)."""
    out = git(project.root, "switch", branch, env=project.env)
    imports = [line for line in out.splitlines() if line.startswith("import time:")]
    assert imports, out  # the hook ran Python
    said = "\n".join(line for line in out.splitlines() if not line.startswith("import time:"))
    return said, any(re.search(r"\|\s*django$", line.rstrip()) for line in imports)


def two_branches(project: DjangoProject) -> None:
    """main and feature, each switched to once with snapshots on (both have one); every
    Python says what it imports (the same environment throughout: the settings' inputs)."""
    project.env["PYTHONPROFILEIMPORTTIME"] = "1"
    project.write("pyproject.toml", "[tool.migrail]\nsnapshots = true\n")
    main_branch(project)
    assert project.migrail("install").returncode == 0
    sync(project)
    feature_branch(project)  # `git switch -c feature` saved main's snapshot
    sync(project)


def names(project: DjangoProject) -> list[object]:
    return [row[0] for row in project.query("SELECT name FROM shop_item ORDER BY id")]


def test_a_return_trip_to_current_snapshots_starts_no_django(project: DjangoProject) -> None:
    two_branches(project)
    project.query("INSERT INTO shop_item (name, stock) VALUES ('feature row', 1)")

    out, django = switch(project, "main")
    assert not django, out
    assert (
        "saved database 'default' as the snapshot of 'feature' and restored the snapshot of "
        "'main'" in out
    )
    assert project.query("SELECT app, name FROM django_migrations WHERE app = 'shop'") == [
        ["shop", "0001_initial"]
    ]
    project.query("INSERT INTO shop_item (name) VALUES ('main row')")

    left_main = database_dump(project)  # every table, every row, as main leaves it
    out, django = switch(project, "feature")
    assert not django, out
    assert names(project) == ["feature row"]
    out, django = switch(project, "main")
    assert not django, out
    assert names(project) == ["main row"]
    assert database_dump(project) == left_main  # the same database, table by table
    assert project.migrail("status").returncode == 0


def test_a_snapshot_migrated_by_hand_since_is_synced_on_return(project: DjangoProject) -> None:
    two_branches(project)
    assert project.manage("migrate", "billing", "0001").returncode == 0  # by hand, on feature
    switch(project, "main")

    out, django = switch(project, "feature")
    assert django, out  # billing.0002_seen is missing from feature's snapshot: sync applies it
    assert "+ billing.0002_seen" in out or "applying billing.0002_seen" in out, out
    assert ["billing", "0002_seen"] in project.query("SELECT app, name FROM django_migrations")


def test_changed_settings_or_migration_files_take_the_way_with_django(
    project: DjangoProject,
) -> None:
    two_branches(project)
    switch(project, "main")
    settings = project.root / "project/settings.py"
    settings.write_text(settings.read_text() + "\n# edited, not committed\n")
    out, django = switch(project, "feature")
    assert django, out

    switch(project, "main")  # the settings as they are now are recorded again
    out, django = switch(project, "feature")
    assert not django, out

    project.write("extra/migrations/0001_initial.py", "")  # untracked: the sync looks
    out, django = switch(project, "main")
    assert django, out


def test_a_snapshot_synced_under_other_settings_is_synced_on_return(
    project: DjangoProject,
) -> None:
    """Settings that install another app, recorded by the switch that started Django: feature's
    snapshot was synced without that app, so the return to feature syncs it (it said
    "matches", the app's migrations missing)."""
    two_branches(project)
    switch(project, "main")
    switch(project, "feature")
    settings = project.root / "project/settings.py"
    sites = ["sites", "0001_initial"]
    installed = "'billing', 'django.contrib.sites']"
    settings.write_text(settings.read_text().replace("'billing']", installed))  # uncommitted
    out, django = switch(project, "main")  # the settings changed: Django, sites applied
    assert django, out
    out, django = switch(project, "feature")  # feature's snapshot predates sites
    assert django, out
    assert sites in project.query("SELECT app, name FROM django_migrations")
    out, django = switch(project, "main")  # both are synced with sites now: no Django
    assert not django, out
    assert sites in project.query("SELECT app, name FROM django_migrations")


def test_a_package_that_gained_a_migration_is_synced_on_return(tmp_path: Path) -> None:
    """An app installed outside the work tree gets a migration (a package upgrade): the
    return trip syncs it, as `manage.py migrate` would apply it."""
    project = real_project(tmp_path / "repo", tmp_path / "packages")
    two_branches(project)
    switch(project, "main")
    out, django = switch(project, "feature")
    assert not django, out
    upgrade = tmp_path / "packages/taglib/migrations/0002_upgrade.py"
    upgrade.write_text(migration_source([("taglib", "0001_initial")], ""))
    out, django = switch(project, "main")
    assert django, out
    assert ["taglib", "0002_upgrade"] in project.query("SELECT app, name FROM django_migrations")


def test_a_switch_killed_right_after_its_journal_is_finished_by_the_next_sync(
    project: DjangoProject,
) -> None:
    """The owner a switch leads to is written with its journal: killed there, the next sync
    finishes the swap (the owner was written before the journal: a kill between them made
    feature's data main's, and main's snapshot was lost)."""
    two_branches(project)
    project.query("INSERT INTO shop_item (name, stock) VALUES ('feature row', 1)")
    killed = git(
        project.root,
        "switch",
        "main",
        check=False,
        env={**project.env, "MIGRAIL_KILL_AFTER_SNAPSHOT_STEP": "0"},
    )
    assert "Switched to branch 'main'" in killed
    status = project.migrail("status")
    assert status.returncode != 0, status.stdout
    synced = project.migrail("sync")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "finished an interrupted snapshot switch of database 'default'" in synced.stdout
    assert names(project) == []  # main's data
    switch(project, "feature")
    assert names(project) == ["feature row"]
