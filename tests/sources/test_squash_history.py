"""History's `replaces`, read once per commit: a later sync reads only what is new."""

from __future__ import annotations

from migrail.sources.gitrepo import GitRepo
from migrail.sources.squash_history import _seen, replaces_in_history
from tests.djangoproject import DjangoProject, create_model, migration_source

SQUASH = "    replaces = [('shop', '0001_initial'), ('shop', '0002_stock')]\n"


def read(p: DjangoProject) -> dict[str, frozenset[tuple[str, str]]]:
    _seen.clear()  # as a new process would: only the cache file carries over
    return replaces_in_history(GitRepo.discover(p.root), ["shop/migrations"])


def test_a_later_read_finds_new_squashes_and_keeps_old_ones(project: DjangoProject) -> None:
    project.linear_app("shop", max_migration=False)
    project.commit("base")
    assert read(project) == {}
    assert (project.root / ".git/migrail/squash-history.pickle").is_file()

    squash = "shop/migrations/0001_squashed_0002_stock.py"
    project.write(squash, migration_source([], create_model("Item"), extra=SQUASH))
    project.commit("squash")
    replaced = frozenset({("shop", "0001_initial"), ("shop", "0002_stock")})
    assert read(project) == {squash: replaced}

    project.write(squash, migration_source([], create_model("Item")))  # the squash completed
    project.commit("complete the squash")
    assert read(project) == {squash: replaced}  # what an earlier commit said still holds
    project.write(".git/migrail/squash-history.pickle", "damaged")
    assert read(project) == {squash: replaced}  # read again from history, all of it
