"""A repository's files never lead migrail outside the work tree, and are never echoed at length."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from migrail.sources.gitrepo import TreeEntry
from migrail.sources.trees import StoredTree, Unreadable, follow_link, leaves_work_tree
from tests.djangoproject import DjangoProject, add_field, migration_source

LEAVES = "is a symbolic link that leads outside the work tree; migrail does not follow it"
LOOP = "is a symbolic link loop, or a chain of more than 40 links"
SOURCES = ((), ("--staged",), ("--rev", "HEAD"))
SECRETS = "SECRET_TOKEN=hunter2\0AWS_SECRET_ACCESS_KEY=abc123\0PATH=/usr/bin\0"


def shop(p: DjangoProject) -> None:
    p.linear_app("shop", "0002_price")


def link(p: DjangoProject, path: str, target: str | Path) -> None:
    (p.root / path).unlink(missing_ok=True)
    os.symlink(target, p.root / path)


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_fix_never_writes_through_a_link_out_of_the_tree(
    project: DjangoProject, tmp_path: Path, relative: bool
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("0001_initial\n")  # stale: a fix would rewrite it
    shop(project)
    link(project, "shop/migrations/max_migration.txt", "../../../victim" if relative else victim)
    project.commit()
    proc = project.migrail("check", "--fix")
    assert victim.read_text() == "0001_initial\n"
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0] == (
        f"shop/migrations/max_migration.txt:1: E011 max_migration.txt cannot be read: {LEAVES}"
    )
    assert "wrote" not in proc.stderr


def test_fix_never_writes_through_an_ignored_link(project: DjangoProject, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    shop(project)
    (project.root / "shop/migrations/max_migration.txt").unlink()
    project.write(".gitignore", "max_migration.txt\n")
    link(project, "shop/migrations/max_migration.txt", victim)
    proc = project.migrail("check", "--fix")
    assert victim.read_text() == "keep me\n"
    assert proc.returncode == 1


def test_annotations_never_print_a_linked_files_content(
    project: DjangoProject, tmp_path: Path
) -> None:
    secrets = tmp_path / "environ"
    secrets.write_text(SECRETS)
    shop(project)
    link(project, "shop/migrations/max_migration.txt", secrets)
    project.commit()
    for args in ((), ("--staged",), ("--rev", "HEAD")):
        proc = project.migrail("check", "--format", "github", *args)
        assert (proc.returncode, proc.stdout.splitlines()) == (
            1,
            [
                "::error file=shop/migrations/max_migration.txt,line=1,title=migrail E011::"
                f"max_migration.txt cannot be read: {LEAVES}. "
                "Hint: replace the link with the file itself, or with a link inside the repository"
            ],
        ), args
        assert "hunter2" not in proc.stdout + proc.stderr


def test_a_migration_linked_out_of_the_tree_is_e011(project: DjangoProject, tmp_path: Path) -> None:
    outside = tmp_path / "0003_outside.py"
    outside.write_text(migration_source([("shop", "0009_gone")]))
    shop(project)
    link(project, "shop/migrations/0003_outside.py", outside)
    project.write("shop/migrations/max_migration.txt", "0003_outside\n")
    project.commit()
    for args in ((), ("--staged",), ("--rev", "HEAD")):
        proc = project.migrail("check", "--format", "json", *args)
        found = json.loads(proc.stdout)["findings"]
        assert (proc.returncode, [(f["code"], f["path"], f["message"]) for f in found]) == (
            1,
            [
                (
                    "E011",
                    "shop/migrations/0003_outside.py",
                    f"0003_outside cannot be read: {LEAVES}",
                )
            ],
        ), args


def test_a_link_into_gits_own_directory_leaves_the_work_tree(project: DjangoProject) -> None:
    shop(project)
    link(project, "shop/migrations/max_migration.txt", "../../.git/description")
    proc = project.migrail("check", "--fix")
    assert proc.stdout.splitlines()[0].endswith(LEAVES)
    assert "0002_price" not in (project.root / ".git/description").read_text()


def test_the_guard(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "app/migrations").mkdir(parents=True)
    (root / "app/real.txt").write_text("x")
    os.symlink("../real.txt", root / "app/migrations/inside")
    os.symlink("../../../elsewhere", root / "app/migrations/outside")
    os.symlink(tmp_path, root / "app/linked_dir")
    assert not leaves_work_tree(root, "app/migrations/inside")
    assert not leaves_work_tree(root, "app/migrations/missing.txt")
    assert leaves_work_tree(root, "app/migrations/outside")
    assert leaves_work_tree(root, "app/linked_dir/elsewhere.txt")


def test_following_a_link_stored_in_git(tmp_path: Path) -> None:
    # Blobs of mode 120000 hold the target's name; the tree is what the index or a commit has.
    root = tmp_path / "repo"
    blobs = {"f" * 40: b"x = 1\n"}
    tree = {"app/real.py": TreeEntry("100644", "f" * 40), "app/deep/er/x": TreeEntry("100644", "0")}

    def links(**named: str) -> None:
        for path, target in named.items():
            blob = f"{len(blobs):040x}"
            blobs[blob] = target.encode()
            tree[path.replace("__", "/")] = TreeEntry("120000", blob)

    def follow(path: str) -> str:
        try:
            return follow_link(
                path, StoredTree(tree), blobs.__getitem__, root=root, description="the index"
            )
        except Unreadable as err:
            return str(err)

    links(
        app__migrations__file="../real.py",
        app__migrations__absolute=f"{root}/app/real.py",
        app__migrations__chain="file",
        app__linked="deep/er",  # a linked directory, two levels down
        app__migrations__via_dir="../linked/../../real.py",  # `..` from app/deep, not app
        app__missing="deep/not/there",
        app__migrations__via_missing="../missing/../../real.py",
        app__migrations__up="../..",  # the top of the tree
        app__migrations__escape="up/../x",  # above the top, though the text says inside
        app__migrations__outside="../../../x",
        app__migrations__elsewhere="/etc/passwd",
        app__migrations__git="../../.git/config",
        app__migrations__loop="loop",
        app__migrations__dangling="../gone.py",
        app__migrations__directory="..",
    )
    assert follow("app/migrations/file") == "f" * 40
    assert follow("app/migrations/absolute") == "f" * 40
    assert follow("app/migrations/chain") == "f" * 40
    assert follow("app/migrations/via_dir") == "f" * 40
    for leaves in ("escape", "outside", "elsewhere", "git"):
        assert follow(f"app/migrations/{leaves}") == LEAVES, leaves
    assert follow("app/migrations/loop") == LOOP
    assert follow("app/migrations/dangling") == (
        "is a dangling symbolic link: the index has no app/gone.py"
    )
    assert follow("app/migrations/via_missing") == (
        "is a dangling symbolic link: the index has no app/deep/not/there"
    )
    assert follow("app/migrations/directory") == (
        "is a symbolic link to a directory (app), not a file"
    )
    # Forty links are followed, as Linux follows them; one more is a loop.
    links(**{f"chain__{n}": f"{n + 1}" for n in range(39)}, chain__39="../app/real.py")
    assert follow("chain/0") == "f" * 40
    links(app__migrations__longer="../../chain/0")
    assert follow("app/migrations/longer") == LOOP


def test_messages_quote_only_an_excerpt(project: DjangoProject) -> None:
    shop(project)
    project.write("shop/migrations/max_migration.txt", "0009_" + "x" * 200 + "\n")
    proc = project.migrail("check")
    assert (proc.returncode, "0009_xxxxx" in proc.stdout) == (1, True)
    assert "x" * 60 not in proc.stdout
    project.write("shop/migrations/max_migration.txt", "0009_" + "x" * 5000 + "\n")
    proc = project.migrail("check", "--format", "json")
    assert (proc.returncode, "x" * 60 in proc.stdout) == (1, False)
    assert json.loads(proc.stdout)["findings"][0]["message"] == (
        "max_migration.txt of shop is not a migration name (too long)"
    )
    project.migration("shop", "0003_far", migration_source([("shop", "y" * 5000)]))
    proc = project.migrail("check")
    assert (proc.returncode, "shop.yyyyy" in proc.stdout) == (1, True)
    assert "y" * 60 not in proc.stdout
    conflict = "<<<<<<< HEAD\n" + "a" * 3000 + "\n=======\n" + "b" * 3000 + "\n>>>>>>> x\n"
    project.write("shop/migrations/max_migration.txt", conflict)
    proc = project.migrail("check")
    assert "ours aaaaa" in proc.stdout
    assert "theirs bbbbb" in proc.stdout
    assert "a" * 60 not in proc.stdout
    assert "b" * 60 not in proc.stdout


def stock(parent: str = "0002_price") -> str:
    return migration_source([("shop", parent)], add_field("item", "stock"))


def each_source(p: DjangoProject) -> list[tuple[int, str]]:
    """What `check` says on the working tree, the index and HEAD."""
    return [
        (proc.returncode, proc.stdout) for proc in (p.migrail("check", *args) for args in SOURCES)
    ]


# Each way a migration can be a link to a file that stays in the tree: the file it reaches.
INSIDE = {
    "file": ({"shop/migrations/0003_stock.py": "../../shared/stock.py"}, "shared/stock.py"),
    "chain": (
        {
            "shop/migrations/0003_stock.py": "../../shared/current.py",
            "shared/current.py": "v2/stock.py",
        },
        "shared/v2/stock.py",
    ),
    "linked directory": (
        {"shop/migrations/0003_stock.py": "../../linked/stock.py", "linked": "vendor/shared"},
        "vendor/shared/stock.py",
    ),
    # `..` climbs from where the link led (vendor/shared), not from the text (the top).
    "parent of a linked directory": (
        {"shop/migrations/0003_stock.py": "../../linked/../stock.py", "linked": "vendor/shared"},
        "vendor/stock.py",
    ),
    "absolute": ({"shop/migrations/0003_stock.py": "{root}/shared/stock.py"}, "shared/stock.py"),
}


@pytest.mark.parametrize("kind", INSIDE)
def test_a_link_inside_the_tree_is_followed_by_every_source(
    project: DjangoProject, kind: str
) -> None:
    links, target = INSIDE[kind]
    shop(project)
    project.write(target, stock())
    project.write("vendor/shared/README", "")  # the directory `linked` names, in git too
    for path, to in links.items():
        (project.root / path).parent.mkdir(parents=True, exist_ok=True)
        link(project, path, to.format(root=project.root))
    project.write("shop/migrations/max_migration.txt", "0003_stock\n")
    project.commit()
    assert each_source(project) == [(0, "")] * 3


def test_a_linked_migration_is_checked_with_its_targets_content(project: DjangoProject) -> None:
    # The link's own blob is the same before and after; what it leads to is not.
    shop(project)
    project.write("shared/stock.py", stock())
    link(project, "shop/migrations/0003_stock.py", "../../shared/stock.py")
    link(project, "shop/migrations/max_migration.txt", "../../shared/max_migration.txt")
    project.write("shared/max_migration.txt", "0003_stock\n")
    project.commit()
    assert each_source(project) == [(0, "")] * 3
    project.write("shared/stock.py", stock("0001_initial"))
    project.git("add", "shared/stock.py")
    forked = (
        "shop/migrations/max_migration.txt:1: E001 app 'shop' has 2 leaf migrations: 0002_price, "
        "0003_stock"
    )
    assert [(code, out.splitlines()[:1]) for code, out in each_source(project)] == [
        (1, [forked]),
        (1, [forked]),
        (0, []),
    ]
    project.write("shared/max_migration.txt", "0002_price\n")
    project.write("shared/stock.py", stock())
    project.git("add", "shared")
    stale = (
        "shop/migrations/max_migration.txt:1: E003 max_migration.txt of shop names 0002_price, "
        "but the latest migration is 0003_stock"
    )
    assert [(code, out.splitlines()[:1]) for code, out in each_source(project)] == [
        (1, [stale]),
        (1, [stale]),
        (0, []),
    ]


def test_a_link_to_a_file_that_is_not_staged_is_e011_in_the_index(
    project: DjangoProject,
) -> None:
    # The working tree has the file; the commit being made would not.
    shop(project)
    project.commit()
    project.write("shared/stock.py", stock())
    link(project, "shop/migrations/0003_stock.py", "../../shared/stock.py")
    project.write("shop/migrations/max_migration.txt", "0003_stock\n")
    project.git("add", "shop")
    assert project.migrail("check").returncode == 0
    proc = project.migrail("check", "--staged")
    assert (proc.returncode, proc.stdout.splitlines()) == (
        1,
        [
            "shop/migrations/0003_stock.py:1: E011 0003_stock cannot be read: is a dangling "
            "symbolic link: the index has no shared/stock.py",
            "    hint: `git add` the file the link points to, or replace the link with the file "
            "itself",
            "migrail: 1 error, 0 warnings (1 app checked)",
        ],
    )
    project.git("add", "shared")
    assert project.migrail("check", "--staged").returncode == 0


# Links that cannot be followed: the working tree's message (the OS's), then git's.
BROKEN = {
    "dangling": (
        {"shop/migrations/0003_stock.py": "../../shared/gone.py"},
        "No such file or directory",
        "is a dangling symbolic link: {source} has no shared/gone.py",
    ),
    "loop": (
        {
            "shop/migrations/0003_stock.py": "../../shared/a.py",
            "shared/a.py": "b.py",
            "shared/b.py": "a.py",
        },
        "Too many levels of symbolic links",
        LOOP,
    ),
    "41 links": (
        {
            "shop/migrations/0003_stock.py": "../../shared/0",
            **{f"shared/{n}": f"{n + 1}" for n in range(39)},
            "shared/39": "stock.py",
        },
        "Too many levels of symbolic links",
        LOOP,
    ),
    "directory": (
        {"shop/migrations/0003_stock.py": "../../shared"},
        "Is a directory",
        "is a symbolic link to a directory (shared), not a file",
    ),
    # The text stays inside (shop/migrations/x.py); the link `up` is the top of the tree.
    "above the top through a link": (
        {"shop/migrations/0003_stock.py": "up/../x.py", "shop/migrations/up": "../.."},
        LEAVES,
        LEAVES,
    ),
}


@pytest.mark.parametrize("kind", BROKEN)
def test_a_link_that_cannot_be_followed_is_e011_in_every_source(
    project: DjangoProject, tmp_path: Path, kind: str
) -> None:
    links, on_disk, in_git = BROKEN[kind]
    shop(project)
    project.write("shared/stock.py", stock())
    project.write("shop/migrations/x.py", stock())  # what the text of `up/../x.py` names
    (tmp_path / "x.py").write_text(stock())  # what it really names
    for path, to in links.items():
        link(project, path, to)
    project.write("shop/migrations/max_migration.txt", "0003_stock\n")
    head = project.commit()
    messages = [
        on_disk,
        in_git.format(source="the index"),
        in_git.format(source=f"HEAD ({head[:12]})"),
    ]
    assert each_source(project) == [
        (
            1,
            f"shop/migrations/0003_stock.py:1: E011 0003_stock cannot be read: {message}\n"
            f"    hint: {hint}\nmigrail: 1 error, 0 warnings (1 app checked)\n",
        )
        for message, hint in zip(messages, HINTS[kind], strict=True)
    ]


WORKING_TREE_HINT = "make it a UTF-8 Python file git can check out"
LINK_HINT = "point the link at a file inside the repository, or replace it with the file itself"
HINTS = {
    "dangling": [
        WORKING_TREE_HINT,
        *["`git add` the file the link points to, or replace the link with the file itself"] * 2,
    ],
    "loop": [WORKING_TREE_HINT, LINK_HINT, LINK_HINT],
    "41 links": [WORKING_TREE_HINT, LINK_HINT, LINK_HINT],
    "directory": [WORKING_TREE_HINT, LINK_HINT, LINK_HINT],
    "above the top through a link": [
        "replace the link with the file itself, or with a link inside the repository"
    ]
    * 3,
}
