"""`migrail check --base REV` on real repositories: a fork only the moved base makes, and
migrations the base already has that the branch edits, renames or deletes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.djangoproject import DjangoProject, add_field, create_model, migration_source
from tests.scenarios import add_migration, base, rebase


def found(p: DjangoProject, *args: str) -> tuple[int, list[dict[str, object]]]:
    proc = p.migrail("check", "--format", "json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)["findings"]


def codes(p: DjangoProject, *args: str) -> list[tuple[object, object]]:
    return [(f["code"], f["path"]) for f in found(p, *args)[1]]


def test_second_pull_request_from_one_leaf_fails_once_the_first_is_merged(
    project: DjangoProject,
) -> None:
    base(project)
    project.git("switch", "-q", "-c", "size")
    add_migration(project, "shop", "0003_size", "0002_price")
    project.git("switch", "-q", "-c", "stock", "main")
    add_migration(project, "shop", "0003_stock", "0002_price")
    assert found(project, "--base", "main") == (0, [])  # main has not moved: both pass

    project.git("switch", "-q", "main")
    project.git("merge", "-q", "--no-ff", "--no-edit", "size")  # the first one lands
    project.git("switch", "-q", "stock")
    assert found(project) == (0, [])  # alone, the branch is still linear
    proc = project.migrail("check", "--base", "main")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines()[:2] == [
        "shop/migrations/0003_stock.py:1: E012 app 'shop' forks once merged into main: "
        "0003_stock on this branch, 0003_size on main",
        "    hint: bring main in (`git merge main` or `git rebase main`), then run "
        "`migrail rebase --onto main shop` to move this branch's migrations after 0003_size",
    ]
    assert proc.stdout.splitlines()[-1] == "migrail: 1 error, 0 warnings (1 app checked)"

    # The hint, followed, is the fix.
    project.git("merge", "main", check=False)
    rebase(project, "--onto", "main", "shop")
    project.git("commit", "-q", "--no-edit")
    assert found(project, "--base", "main") == (0, [])


def test_base_as_a_remote_branch_and_as_a_commit_rev(project: DjangoProject) -> None:
    base(project)
    project.git("switch", "-q", "-c", "feature")
    add_migration(project, "shop", "0003_stock", "0002_price")
    feature = project.git("rev-parse", "HEAD").strip()
    project.git("switch", "-q", "main")
    add_migration(project, "shop", "0003_size", "0002_price")
    project.git("update-ref", "refs/remotes/origin/main", "main")
    project.git("switch", "-q", "--detach", feature)
    assert codes(project, "--base", "origin/main") == [("E012", "shop/migrations/0003_stock.py")]
    project.git("switch", "-q", "main")  # --rev names the branch without checking it out
    assert codes(project, "--rev", feature, "--base", "origin/main") == [
        ("E012", "shop/migrations/0003_stock.py")
    ]
    assert found(project, "--base", "origin/main") == (0, [])  # main merged into itself


def test_edits_renames_and_deletions_of_published_migrations(project: DjangoProject) -> None:
    base(project)
    project.git("switch", "-q", "-c", "feature")
    price = "shop/migrations/0002_price.py"
    original = project.read(price)

    project.write(price, original.replace("name='price'", "name='cost'"))
    rc, edited = found(project, "--base", "main")
    assert rc == 1
    assert [(f["code"], f["path"], f["message"]) for f in edited] == [
        (
            "E013",
            price,
            "shop.0002_price is on main already, and this branch changes its code",
        )
    ]

    # Formatting and comments are not code: no finding.
    project.write(price, "# reformatted\n" + original.replace("    ", "  ").replace(", ", ","))
    assert found(project, "--base", "main") == (0, [])

    project.git("checkout", "--", price)
    project.git("mv", price, "shop/migrations/0002_cost.py")
    project.write("shop/migrations/max_migration.txt", "0002_cost\n")
    rc, renamed = found(project, "--base", "main")
    assert (rc, [(f["code"], f["path"]) for f in renamed]) == (
        1,
        [("E014", "shop/migrations/0002_cost.py")],
    )
    assert renamed[0]["message"] == (
        "shop.0002_price is on main already, and this branch renames it to 0002_cost"
    )
    # Annotated on the file the branch has (docs/ci.md), not on the name it no longer has.
    annotation = project.migrail("check", "--format", "github", "--base", "main").stdout
    assert annotation.startswith(
        "::error file=shop/migrations/0002_cost.py,line=1,title=migrail E014::"
    )

    project.git("rm", "-qf", "shop/migrations/0002_cost.py")
    project.write("shop/migrations/max_migration.txt", "0001_initial\n")
    assert found(project) == (0, [])  # alone, the branch is fine
    assert codes(project, "--base", "main") == [("E015", price)]
    project.commit("drop price")  # committed: the same
    assert codes(project, "--base", "main") == [("E015", price)]


def test_a_dependency_added_to_a_published_migration(project: DjangoProject) -> None:
    """Only placement changed, but databases that applied it lack the new dependency."""
    base(project)
    project.add_app("billing")
    project.migration("billing", "0001_initial", migration_source([], ""))
    project.write("billing/migrations/max_migration.txt", "0001_initial\n")
    project.commit("billing")
    project.git("switch", "-q", "-c", "feature")
    price = "shop/migrations/0002_price.py"
    project.write(
        price,
        project.read(price).replace(
            "('shop', '0001_initial'),",
            "('shop', '0001_initial'),\n        ('billing', '0001_initial'),",
        ),
    )
    rc, edited = found(project, "--base", "main")
    assert rc == 1
    assert [(f["code"], f["message"]) for f in edited] == [
        (
            "E013",
            "shop.0002_price is on main already, and this branch makes it depend on "
            "billing.0001_initial",
        )
    ]


def test_a_squash_that_replaces_the_deleted_migrations(project: DjangoProject) -> None:
    base(project)
    project.git("switch", "-q", "-c", "squash")
    squash = migration_source(
        [],
        "migrations.CreateModel(name='Item', fields=[('id', models.AutoField(primary_key=True)),"
        " ('price', models.IntegerField(default=0))]),",
        extra="    replaces = [('shop', '0001_initial'), ('shop', '0002_price')]\n",
    )
    project.migration("shop", "0001_squashed_0002_price", squash)
    project.git("rm", "-q", "shop/migrations/0001_initial.py", "shop/migrations/0002_price.py")
    project.write("shop/migrations/max_migration.txt", "0001_squashed_0002_price\n")
    assert found(project, "--base", "main") == (0, [])

    # The squash on the base, the deletion on a branch from it: no finding either.
    project.git("restore", "--staged", "--worktree", "shop/migrations/0001_initial.py")
    project.git("restore", "--staged", "--worktree", "shop/migrations/0002_price.py")
    project.commit("squash")
    project.git("switch", "-q", "-c", "cleanup")
    project.git("rm", "-q", "shop/migrations/0001_initial.py", "shop/migrations/0002_price.py")
    project.commit("delete the replaced migrations")
    assert found(project, "--base", "squash") == (0, [])
    # Without the squash, the deletion is a finding.
    project.git("rm", "-q", "shop/migrations/0001_squashed_0002_price.py")
    project.migration("shop", "0001_initial", migration_source([], ""))
    project.write("shop/migrations/max_migration.txt", "0001_initial\n")
    assert ("E015", "shop/migrations/0002_price.py") in codes(project, "--base", "main")


def test_base_moved_and_deleted_a_migration_this_branch_depends_on(
    project: DjangoProject,
) -> None:
    base(project)
    project.git("switch", "-q", "-c", "feature")
    add_migration(project, "shop", "0003_stock", "0002_price")
    project.git("switch", "-q", "main")
    project.migration(
        "shop", "0002_price", migration_source([("shop", "0001_initial")], add_field("item", "x"))
    )
    project.git("mv", "shop/migrations/0002_price.py", "shop/migrations/0002_cost.py")
    project.write("shop/migrations/max_migration.txt", "0002_cost\n")
    project.commit("rename on main")
    project.git("switch", "-q", "feature")
    assert found(project) == (0, [])
    rc, result = found(project, "--base", "main")
    assert rc == 1
    # The dangling dependency splits the chain, so the merge forks too: rebasing fixes both.
    assert [(f["code"], f["message"]) for f in result] == [
        (
            "E012",
            "app 'shop' forks once merged into main: 0003_stock on this branch, 0002_cost on main",
        ),
        (
            "E006",
            "0003_stock depends on shop.0002_price, which does not exist, once merged into main",
        ),
    ]


def test_unknown_base_and_unrelated_history(project: DjangoProject) -> None:
    base(project)
    proc = project.migrail("check", "--base", "nowhere")
    assert (proc.returncode, proc.stderr) == (2, "migrail: error: unknown revision 'nowhere'\n")
    project.git("switch", "-q", "--orphan", "other")
    project.linear_app("shop", "0002_price")
    project.commit("unrelated")
    proc = project.migrail("check", "--base", "main")
    assert proc.returncode == 2
    assert proc.stderr == (
        "migrail: error: --base main: no merge base with this branch; they share no history\n"
    )
    proc = project.migrail("check", "--fix", "--base", "main")
    assert proc.returncode == 2


def test_an_app_removed_whole_is_not_a_deleted_migration(project: DjangoProject) -> None:
    """Django ignores the records of an app it no longer has; only a package that stays and
    loses a migration is reported."""
    base(project)
    project.linear_app("notes", "0002_title")
    project.commit("notes")
    project.git("switch", "-q", "-c", "feature")
    project.git("rm", "-rq", "notes")
    assert found(project, "--base", "main") == (0, [])


def test_a_published_migration_replaced_by_a_link_out_of_the_tree(
    project: DjangoProject, tmp_path: Path
) -> None:
    base(project)
    project.git("switch", "-q", "-c", "feature")
    outside = tmp_path / "elsewhere.py"
    outside.write_text(project.read("shop/migrations/0002_price.py"))
    (project.root / "shop/migrations/0002_price.py").unlink()
    (project.root / "shop/migrations/0002_price.py").symlink_to(outside)
    rc, result = found(project, "--base", "main")
    assert rc == 1
    assert [f["code"] for f in result] == ["E011"]  # said once, by the plain check


def test_a_base_forked_by_itself_is_not_the_branchs_finding(project: DjangoProject) -> None:
    base(project)
    project.git("switch", "-q", "-c", "feature")
    project.linear_app("notes")
    project.commit("notes")
    project.git("switch", "-q", "main")
    add_migration(project, "shop", "0003_a", "0002_price")
    add_migration(project, "shop", "0003_b", "0002_price")  # main forks, by itself
    assert [f["code"] for f in found(project)[1]] == ["W001", "E001"]
    project.git("switch", "-q", "feature")
    assert found(project, "--base", "main") == (0, [])


def test_an_edit_the_base_has_too_is_not_the_branchs(project: DjangoProject) -> None:
    """A fix cherry-picked from the base (the same bytes on both sides) is no edit of the
    branch's; an edit on top of the base's own is."""
    base(project)
    price = "shop/migrations/0002_price.py"
    project.git("switch", "-q", "-c", "feature")
    project.git("switch", "-q", "main")
    project.write(price, project.read(price).replace("name='price'", "name='cost'"))
    fix = project.commit("fix on main")
    project.git("switch", "-q", "feature")
    project.git("cherry-pick", fix)
    assert found(project, "--base", "main") == (0, [])
    project.write(price, project.read(price).replace("name='cost'", "name='amount'"))
    assert codes(project, "--base", "main") == [("E013", price)]


def test_a_squash_finished_the_django_way_on_a_branch(project: DjangoProject) -> None:
    """The base has the squash and the migrations it replaces; the branch deletes them,
    points their dependants at the squash and drops `replaces` (Django's squashing docs):
    no edit, no deletion, though the squash no longer says what it replaces."""
    project.linear_app("catalog", "0002_price", "0003_stock", "0004_backfill_sku")
    squash = "0001_squashed_0004_backfill_sku"
    replaces = (
        "    replaces = [('catalog', '0001_initial'), ('catalog', '0002_price'), "
        "('catalog', '0003_stock'), ('catalog', '0004_backfill_sku')]\n"
    )
    operations = create_model("Item", "price", "stock", "backfill_sku")
    project.migration("catalog", squash, migration_source([], operations, extra=replaces))
    project.write("catalog/migrations/max_migration.txt", f"{squash}\n")
    for app, parent in (("orders", "0004_backfill_sku"), ("reviews", "0002_price")):
        project.add_app(app)
        project.migration(app, "0001_initial", migration_source([("catalog", parent)], ""))
        project.write(f"{app}/migrations/max_migration.txt", "0001_initial\n")
    project.commit("squash catalog")
    project.git("update-ref", "refs/remotes/origin/main", "main")
    assert found(project) == (0, [])

    project.git("switch", "-q", "-c", "finish-squash")
    originals = ["0001_initial", "0002_price", "0003_stock", "0004_backfill_sku"]
    project.git("rm", "-q", *(f"catalog/migrations/{name}.py" for name in originals))
    project.migration("catalog", squash, migration_source([], operations))
    for app, parent in (("orders", "0004_backfill_sku"), ("reviews", "0002_price")):
        path = f"{app}/migrations/0001_initial.py"
        project.write(path, project.read(path).replace(parent, squash))
    project.commit("finish the squash")
    assert found(project) == (0, [])
    assert found(project, "--base", "origin/main") == (0, [])

    # Pointing a published migration at some other migration stays an edit.
    project.write(
        "reviews/migrations/0001_initial.py",
        migration_source([("catalog", squash), ("orders", "0001_initial")], ""),
    )
    assert codes(project, "--base", "origin/main") == [
        ("E013", "reviews/migrations/0001_initial.py")
    ]


def test_elidable_marked_on_a_published_migration(project: DjangoProject) -> None:
    """`elidable` only tells squashmigrations it may drop the operation: no database sees it."""
    base(project)
    backfill = "shop/migrations/0003_backfill.py"
    operations = (
        "migrations.RunPython(forwards, migrations.RunPython.noop),\n"
        "migrations.RunSQL('UPDATE shop_item SET price = 1', reverse_sql=''),"
    )
    header = "\n\ndef forwards(apps, schema_editor):\n    pass\n"
    project.migration(
        "shop",
        "0003_backfill",
        migration_source([("shop", "0002_price")], operations, header=header),
    )
    project.write("shop/migrations/max_migration.txt", "0003_backfill\n")
    project.commit("backfill")
    project.git("switch", "-q", "-c", "feature")
    original = project.read(backfill)
    project.write(
        backfill,
        original.replace("noop)", "noop, elidable=True)").replace(
            "reverse_sql='')", "reverse_sql='', elidable=True)"
        ),
    )
    assert "elidable=True" in project.read(backfill)
    assert found(project, "--base", "main") == (0, [])
    # Alongside a change of what it does, still an edit.
    project.write(backfill, project.read(backfill).replace("price = 1", "price = 2"))
    assert codes(project, "--base", "main") == [("E013", backfill)]
