"""The phases of `plan_sync`, in process on small graphs, as Django's `test_executor.py` tests
the executor: the app `library`'s migrations are a package each test writes in a git
repository (`MIGRATION_MODULES` points at it), what is applied is rows in an in-memory SQLite
database, and each phase's result is compared with the values it should have."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from migrail.errors import MigrailError
from migrail.graph.parser import Key
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from migrail.sync.effects import Effect
from migrail.sync.loader import LoadedMigrations
from migrail.sync.plan import SyncPlan, describe_edited, plan_sync
from migrail.sync.plan_phases import (
    Applied,
    Orphans,
    Restored,
    applied_and_target,
    gone_from_target,
    orphans_and_squashes,
    redo_takes,
    restored_sources,
    rollback,
    tree_state,
)
from migrail.sync.target import Target, tree_target
from tests.in_process_django import configure_django

configure_django()

from django.db import connection  # noqa: E402  (after the settings above)
from django.db.migrations.recorder import MigrationRecorder  # noqa: E402
from django.test.utils import override_settings  # noqa: E402


def lib(name: str) -> Key:
    return ("library", name)


def migration(
    *dependencies: str, operations: str = "", replaces: tuple[str, ...] = (), head: str = ""
) -> str:
    """A migration of `library`: its dependencies and `replaces` by name, its operations."""
    return (
        "from django.db import migrations, models\n"
        f"{head}\n\n"
        "def forwards(apps, schema_editor):\n"
        "    pass\n\n\n"
        "class Migration(migrations.Migration):\n"
        f"    dependencies = {[('library', d) for d in dependencies]!r}\n"
        f"    replaces = {[('library', r) for r in replaces]!r}\n"
        f"    operations = [{operations}]\n"
    )


def create(model: str) -> str:
    return f"migrations.CreateModel({model!r}, [('id', models.AutoField(primary_key=True))])"


RUN_ONE_WAY = "migrations.RunPython(forwards)"


@dataclass
class Project:
    """A git repository holding `library`'s migrations package, and the database's rows."""

    repo: GitRepo
    package: str

    @property
    def directory(self) -> Path:
        return self.repo.root / self.package

    def write(self, **files: str) -> None:
        for name, source in files.items():
            (self.directory / f"{name}.py").write_text(source)

    def remove(self, *names: str) -> None:
        for name in names:
            (self.directory / f"{name}.py").unlink()

    def commit(self, message: str) -> str:
        self.repo.run("add", "-A")
        self.repo.run("commit", "-q", "-m", message)
        return self.repo.run("rev-parse", "HEAD").decode().strip()

    def applied(self, *keys: Key) -> None:
        recorder = MigrationRecorder(connection)
        for app, name in keys:
            recorder.record_applied(app, name)

    def load(self) -> LoadedMigrations:
        importlib.invalidate_caches()
        return LoadedMigrations(connection)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    for key, value in [("user.name", "Test"), ("user.email", "test@example.com")]:
        subprocess.run(["git", "config", key, value], cwd=root, check=True)
    package = f"library_{uuid.uuid4().hex[:12]}"
    (root / package).mkdir()
    (root / package / "__init__.py").write_text("")
    sys.path.insert(0, str(root))
    recorder = MigrationRecorder(connection)
    recorder.ensure_schema()
    recorder.flush()  # nothing applied (Django keeps an in-memory database open)
    try:
        with override_settings(MIGRATION_MODULES={"library": package}):
            yield Project(GitRepo.discover(root), package)
    finally:
        recorder.flush()
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.startswith(package)]:
            del sys.modules[name]


def branch_gone(project: Project) -> str:
    """0001 in the tree; 0002 (a table) and 0003 (a table, and Python with no way back) were
    applied on a branch whose files are gone. Returns the commit that had them."""
    project.write(
        **{
            "0001_initial": migration(operations=create("Book")),
            "0002_author": migration("0001_initial", operations=create("Author")),
            "0003_fill": migration("0002_author", operations=f"{create('Shelf')}, {RUN_ONE_WAY}"),
        }
    )
    branch = project.commit("the branch")
    project.remove("0002_author", "0003_fill")
    project.commit("back to main")
    project.applied(lib("0001_initial"), lib("0002_author"), lib("0003_fill"))
    return branch


def phases_up_to_sources(
    project: Project, loaded: LoadedMigrations, *, redo_edited: bool = False
) -> tuple[Applied, Orphans, Restored]:
    root = project.repo.root
    applied = applied_and_target(project.repo, loaded.tree, connection, None, None)
    gone = gone_from_target(project.repo, loaded.tree, applied, root)
    orphans = orphans_and_squashes(
        project.repo, loaded.tree, applied, gone, from_rev=None, root=root, redo_edited=redo_edited
    )
    restored = restored_sources(
        project.repo, loaded.tree, applied, orphans, from_rev=None, root=root
    )
    return applied, orphans, restored


# Phase 1: what is applied, and the target -----------------------------------------------


def test_the_target_is_the_trees_and_the_applied_rows_are_read(project: Project) -> None:
    project.write(
        **{"0001_initial": migration(), "0002_more": migration("0001_initial")},
    )
    project.commit("two")
    project.applied(lib("0001_initial"), ("shop", "0001_initial"))
    with project.load() as loaded:
        applied = applied_and_target(project.repo, loaded.tree, connection, None, None)
        assert applied.keys == {lib("0001_initial"), ("shop", "0001_initial")}
        assert set(applied.records) == applied.keys
        assert applied.first_party == {"library"}  # contrib and the other fixtures are outside
        assert applied.target == tree_target(loaded.tree)
        assert {lib("0001_initial"), lib("0002_more")} <= applied.target.keys
        assert applied.edited == []


def test_a_given_target_keeps_outside_apps_but_those_it_uninstalls(project: Project) -> None:
    project.write(**{"0001_initial": migration()})
    project.commit("one")
    given = Target(frozenset({lib("0001_initial")}), frozenset({"library"}), frozenset({"shop"}))
    with project.load() as loaded:
        applied = applied_and_target(project.repo, loaded.tree, connection, given, None)
        shop = {k for k in tree_target(loaded.tree).keys if k[0] == "shop"}
        assert shop
        assert not shop & applied.target.keys  # uninstalled: rolled back to zero
        assert ("contenttypes", "0001_initial") in applied.target.keys  # outside: kept
        assert ("broken", "0001_initial") in applied.target.keys
        assert lib("0001_initial") in applied.target.keys
        assert applied.target.apps == {"library", "shop"}
        assert applied.edited == []  # only against the working tree's own code


# Phase 2: orphans and squashes ----------------------------------------------------------


def test_orphans_are_the_applied_migrations_the_tree_lacks(project: Project) -> None:
    branch = branch_gone(project)
    project.applied(("gone_app", "0001_initial"))
    with project.load() as loaded:
        applied = applied_and_target(project.repo, loaded.tree, connection, None, None)
        gone = gone_from_target(project.repo, loaded.tree, applied, project.repo.root)
        assert gone.candidates == [lib("0002_author"), lib("0003_fill")]
        assert gone.not_installed == ["gone_app"]
        assert gone.history == {}
        assert gone.record == {}
        orphans = orphans_and_squashes(
            project.repo,
            loaded.tree,
            applied,
            gone,
            from_rev=None,
            root=project.repo.root,
            redo_edited=False,
        )
    assert orphans.orphans == [lib("0002_author"), lib("0003_fill")]
    assert orphans.squash_records == {}
    assert orphans.hidden == []
    assert orphans.missing == []
    assert orphans.sources == {
        key: project.repo.run("show", f"{branch}:{project.package}/{key[1]}.py")
        for key in orphans.orphans
    }


def test_a_squash_applied_elsewhere_is_kept_and_its_replaced_migrations_recorded(
    project: Project,
) -> None:
    """Applied on a branch that squashed 0001-0002; this tree has the replaced migrations:
    nothing to unapply, and the replaced ones are recorded as the squash stands for them."""
    project.write(
        **{
            "0001_initial": migration(operations=create("Book")),
            "0002_author": migration("0001_initial", operations=create("Author")),
            "0001_squashed_0002": migration(
                operations=f"{create('Book')}, {create('Author')}",
                replaces=("0001_initial", "0002_author"),
            ),
        }
    )
    project.commit("squashed")
    project.remove("0001_squashed_0002")
    project.commit("without the squash")
    project.applied(lib("0001_squashed_0002"))
    with project.load() as loaded:
        applied, orphans, restored = phases_up_to_sources(project, loaded)
        state = tree_state(loaded.tree, applied.keys, orphans.record, [])
    why = "library.0001_squashed_0002, applied, squashes it"
    assert orphans.orphans == []
    assert orphans.squash_records == {}
    assert orphans.record == {lib("0001_initial"): why, lib("0002_author"): why}
    assert restored == Restored({}, [])
    assert [key for key in state.apply if key[0] == "library"] == []


def test_a_completed_squash_keeps_what_it_replaced_and_is_recorded(project: Project) -> None:
    """The squash's `replaces` is gone with the replaced files; history still says the
    applied 0001 and 0002 are what the squash does: recorded, not rolled back nor run."""
    project.write(
        **{
            "0001_initial": migration(operations=create("Book")),
            "0002_author": migration("0001_initial", operations=create("Author")),
            "0001_squashed_0002": migration(
                operations=f"{create('Book')}, {create('Author')}",
                replaces=("0001_initial", "0002_author"),
            ),
        }
    )
    project.commit("squash")
    project.remove("0001_initial", "0002_author")
    project.write(
        **{"0001_squashed_0002": migration(operations=f"{create('Book')}, {create('Author')}")}
    )
    project.commit("squash completed")
    project.applied(lib("0001_initial"), lib("0002_author"))
    with project.load() as loaded:
        applied = applied_and_target(project.repo, loaded.tree, connection, None, None)
        gone = gone_from_target(project.repo, loaded.tree, applied, project.repo.root)
        state = tree_state(loaded.tree, applied.keys, gone.record, [])
    replaced = frozenset({lib("0001_initial"), lib("0002_author")})
    assert gone.history == {lib("0001_squashed_0002"): replaced}
    assert gone.candidates == []
    assert gone.record == {
        lib("0001_squashed_0002"): "it squashes library.0001_initial, library.0002_author, "
        "all applied"
    }
    assert [key for key in state.apply if key[0] == "library"] == []


def squash_goes(project: Project) -> None:
    """Applied on a branch with a squash of 0001-0002 and 0003 after it; this tree has 0001."""
    project.write(
        **{
            "0001_initial": migration(operations=create("Book")),
            "0002_author": migration("0001_initial", operations=create("Author")),
            "0001_squashed_0002": migration(
                operations=f"{create('Book')}, {create('Author')}",
                replaces=("0001_initial", "0002_author"),
            ),
            "0003_shelf": migration("0001_squashed_0002", operations=create("Shelf")),
        }
    )
    project.commit("the branch")
    project.remove("0002_author", "0001_squashed_0002", "0003_shelf")
    project.commit("back to main")
    project.applied(
        lib("0001_initial"), lib("0002_author"), lib("0001_squashed_0002"), lib("0003_shelf")
    )


def test_a_squash_that_goes_points_the_restored_orphans_past_it(project: Project) -> None:
    """The squash goes as a record, 0002 and 0003 are orphans, 0003's restored source
    depends on 0002 instead of the squash."""
    squash_goes(project)
    with project.load() as loaded:
        _, orphans, restored = phases_up_to_sources(project, loaded)
    assert orphans.orphans == [lib("0002_author"), lib("0003_shelf")]
    assert orphans.squash_records == {lib("0001_squashed_0002"): lib("0002_author")}
    assert orphans.hidden == []  # not on disk: nothing to hide from the loader
    assert b"0001_squashed_0002" not in restored.sources[lib("0003_shelf")]
    assert b"('library', '0002_author')" in restored.sources[lib("0003_shelf")]


@pytest.mark.xfail(
    strict=True,
    raises=MigrailError,
    reason="0003's applied parent, the squash, is restored too (found by its original "
    "source), and Django's loader then replaces 0001-0002 by it: 0002 is not in the graph",
)
def test_orphans_after_a_squash_that_goes_are_unapplied(project: Project) -> None:
    squash_goes(project)
    with project.load() as loaded:
        _, orphans, restored = phases_up_to_sources(project, loaded)
        rolled = rollback(project.repo, loaded, orphans, restored, project.repo.root, strict=True)
    assert rolled.unapply == [lib("0003_shelf"), lib("0002_author")]


# Phase 3: sources ------------------------------------------------------------------------


def test_an_orphan_without_a_source_is_missing_and_not_rolled_back(project: Project) -> None:
    project.write(**{"0001_initial": migration()})
    project.commit("one")
    project.applied(lib("0001_initial"), lib("0002_nowhere"))
    with project.load() as loaded:
        _, orphans, restored = phases_up_to_sources(project, loaded)
        rolled = rollback(project.repo, loaded, orphans, restored, project.repo.root, strict=True)
    assert orphans.orphans == [lib("0002_nowhere")]
    assert restored == Restored({}, [lib("0002_nowhere")])
    assert rolled.unapply == []


def test_a_migration_applied_after_an_orphan_is_restored_as_it_was_applied(
    project: Project,
) -> None:
    """0003 was applied after the orphan 0002; its file now depends on 0001 (0002 was dropped
    and 0003 re-pointed): migrail's applied copy puts it back after 0002, undone first."""
    applied_0003 = migration("0002_author", operations=create("Shelf"))
    project.write(
        **{
            "0001_initial": migration(operations=create("Book")),
            "0002_author": migration("0001_initial", operations=create("Author")),
            "0003_shelf": applied_0003,
        }
    )
    project.commit("applied")
    project.remove("0002_author")
    project.write(**{"0003_shelf": migration("0001_initial", operations=create("Shelf"))})
    project.commit("0002 dropped")
    copy = project.repo.migrail_dir / "sources" / "library" / "0003_shelf.py"
    copy.parent.mkdir(parents=True)
    copy.write_text(applied_0003)
    project.applied(lib("0001_initial"), lib("0002_author"), lib("0003_shelf"))
    with project.load() as loaded:
        _, orphans, restored = phases_up_to_sources(project, loaded)
        rolled = rollback(project.repo, loaded, orphans, restored, project.repo.root, strict=True)
    assert orphans.orphans == [lib("0002_author")]
    assert restored.sources[lib("0003_shelf")] == applied_0003.encode()
    assert rolled.unapply == [lib("0003_shelf"), lib("0002_author")]


# Phase 4: rollback -----------------------------------------------------------------------


def test_orphans_are_unapplied_in_order_with_their_effects(project: Project) -> None:
    branch_gone(project)
    with project.load() as loaded:
        _, orphans, restored = phases_up_to_sources(project, loaded)
        rolled = rollback(project.repo, loaded, orphans, restored, project.repo.root, strict=True)
    assert rolled.unapply == [lib("0003_fill"), lib("0002_author")]
    assert rolled.effects == {
        lib("0003_fill"): [
            Effect("drops table library_shelf", "library_shelf"),
            Effect("undoes: Raw Python operation"),
        ],
        lib("0002_author"): [Effect("drops table library_author", "library_author")],
    }
    assert rolled.irreversible == [
        "library.0003_fill: Raw Python operation (operation 2) is not reversible"
    ]
    assert rolled.unloadable is None


def test_an_orphan_that_does_not_load_is_named_for_status(project: Project) -> None:
    project.write(
        **{
            "0001_initial": migration(),
            "0002_import": migration("0001_initial", head="import library_helpers_nowhere"),
        }
    )
    branch = project.commit("the branch")
    project.remove("0002_import")
    project.commit("back")
    project.applied(lib("0001_initial"), lib("0002_import"))
    with project.load() as loaded:
        _, orphans, restored = phases_up_to_sources(project, loaded)
        rolled = rollback(project.repo, loaded, orphans, restored, project.repo.root, strict=False)
    assert rolled.unapply == []
    assert rolled.unloadable == (
        "cannot load library.0002_import to unapply it with this checkout's code: "
        "ModuleNotFoundError: No module named 'library_helpers_nowhere'; "
        f"run `migrail sync --from {branch[:12]}`"
    )


def test_a_migration_applied_before_its_dependency_is_unapplied_and_applied_again(
    project: Project,
) -> None:
    """A release deleted 0002 and pointed 0003 past it; the database ran that release. Back
    at the older code, where 0003 depends on 0002, `migrate` would refuse the history: 0003
    is unapplied first, then 0002 and 0003 are applied, as by hand in the careful order."""
    project.write(
        **{
            "0001_initial": migration(operations=create("Book")),
            "0002_author": migration("0001_initial", operations=create("Author")),
            "0003_shelf": migration("0002_author", operations=create("Shelf")),
        }
    )
    project.commit("the older release")
    project.applied(lib("0001_initial"), lib("0003_shelf"))
    with project.load() as loaded:
        target = tree_target(loaded.tree, frozenset(loaded.tree.applied_migrations))
        plan = plan_sync(project.repo, Config(), loaded, None)
    assert target.redo == {lib("0003_shelf")}
    assert plan.orphans == [lib("0003_shelf")]
    assert plan.unapply == [lib("0003_shelf")]
    assert [k for k in plan.apply if k[0] == "library"] == [lib("0002_author"), lib("0003_shelf")]


def test_a_given_targets_redo_is_unapplied_by_the_code_that_applied_it(project: Project) -> None:
    """In the newer release's code (0003 after 0001), the target of the older one says 0003 is
    to be redone: it is unapplied, though the target keeps it."""
    project.write(
        **{
            "0001_initial": migration(operations=create("Book")),
            "0003_shelf": migration("0001_initial", operations=create("Shelf")),
        }
    )
    project.commit("the newer release")
    project.applied(lib("0001_initial"), lib("0003_shelf"))
    older = {lib("0001_initial"), lib("0002_author"), lib("0003_shelf")}
    given = Target(frozenset(older), frozenset({"library"}), redo=frozenset({lib("0003_shelf")}))
    with project.load() as loaded:
        assert tree_target(loaded.tree, frozenset(loaded.tree.applied_migrations)).redo == set()
        plan = plan_sync(project.repo, Config(), loaded, None, given)
    assert plan.unapply == [lib("0003_shelf")]


# Phase 5: tree state ---------------------------------------------------------------------


def test_what_is_applied_next_and_what_it_drops(project: Project) -> None:
    project.write(
        **{
            "0001_initial": migration(operations=create("Book")),
            "0002_author": migration("0001_initial", operations=create("Author")),
            "0003_drop": migration("0002_author", operations="migrations.DeleteModel('Book')"),
        }
    )
    project.commit("three")
    project.applied(lib("0001_initial"))
    with project.load() as loaded:
        state = tree_state(loaded.tree, frozenset({lib("0001_initial")}), {}, [])
    assert state.leaves["library"] == ["0003_drop"]
    assert state.last_applied == {"library": "0001_initial"}
    library = [key for key in state.apply if key[0] == "library"]
    assert library == [lib("0002_author"), lib("0003_drop")]
    assert state.effects[lib("0003_drop")] == [Effect("drops table library_book", "library_book")]
    assert lib("0002_author") not in state.effects


def test_a_fork_has_two_leaves(project: Project) -> None:
    project.write(
        **{
            "0001_initial": migration(),
            "0002_left": migration("0001_initial"),
            "0002_right": migration("0001_initial"),
        }
    )
    project.commit("forked")
    with project.load() as loaded:
        state = tree_state(loaded.tree, frozenset(), {}, [])
    assert sorted(state.leaves["library"]) == ["0002_left", "0002_right"]


# All phases ------------------------------------------------------------------------------


def test_plan_sync_is_the_phases_results(project: Project) -> None:
    branch_gone(project)
    project.write(**{"0002_next": migration("0001_initial")})
    project.commit("next")
    with project.load() as loaded:
        plan = plan_sync(project.repo, Config(), loaded, None)
        assert loaded.with_orphans(plan.sources, plan.hidden) is not loaded.tree  # kept
    assert plan.orphans == [lib("0002_author"), lib("0003_fill")]
    assert plan.unapply == [lib("0003_fill"), lib("0002_author")]
    assert [key for key in plan.apply if key[0] == "library"] == [lib("0002_next")]
    assert plan.last_applied["library"] == "0003_fill"
    assert plan.tree_leaves["library"] == ["0002_next"]
    assert [key for key in plan.effects if key[0] == "library"] == [
        lib("0003_fill"),
        lib("0002_author"),
    ]
    assert plan.irreversible == [
        "library.0003_fill: Raw Python operation (operation 2) is not reversible"
    ]
    assert not plan.in_step


def test_plan_sync_only_applies_when_the_rollback_is_elsewhere(project: Project) -> None:
    branch_gone(project)
    project.write(**{"0002_next": migration("0001_initial")})
    project.commit("next")
    elsewhere = frozenset({lib("0002_author"), lib("0003_fill")})
    with project.load() as loaded:
        plan = plan_sync(project.repo, Config(), loaded, None, unapplied_elsewhere=elsewhere)
    assert plan.elsewhere
    assert plan.orphans == []
    assert plan.unapply == [lib("0002_author"), lib("0003_fill")]
    assert [key for key in plan.apply if key[0] == "library"] == [lib("0002_next")]
    assert plan.sources == {}
    assert plan.irreversible == []


def test_a_redo_is_advised_only_when_it_unapplies_nothing_else(project: Project) -> None:
    project.write(
        **{
            "0001_initial": migration(operations=create("Book")),
            "0002_author": migration("0001_initial", operations=create("Author")),
        }
    )
    project.commit("two")
    applied = frozenset({lib("0001_initial"), lib("0002_author")})
    with project.load() as loaded:
        takes = redo_takes(loaded.tree, [lib("0001_initial"), lib("0002_author")], applied)
    assert takes == {lib("0001_initial"): [lib("0002_author")], lib("0002_author"): []}
    plan = SyncPlan("default", "sqlite", [], [], [], {}, edited=sorted(takes))
    plan.edited_dependents = takes
    first, last, accept = describe_edited(plan)
    assert first.endswith(
        "; a redo would unapply 1 more applied migration after it (library.0002_author), "
        "so put the change in a new migration"
    )
    assert "--redo-edited" not in first
    assert last == (
        "library.0002_author changed since it was applied, and `migrate` does not re-run it: "
        "`migrail sync --redo-edited` unapplies the applied version and applies this one"
    )
    assert accept.endswith("`migrail sync --accept-edited` takes it as applied")
