"""A project installed with `pip install -e .` (src layout): the rollback with the old
commit's code imports the old commit's modules, not the work tree's, through the editable
install's `.pth` line as well as its import finder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import django
import pytest

import migrail
from tests.djangoproject import (
    HELPERS,
    DjangoProject,
    add_field,
    create_model,
    migration_source,
    run_env,
)

FINDER = """\
import sys
from importlib.machinery import PathFinder

MAPPING = {mapping!r}


class _EditableFinder:
    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname in MAPPING:
            return PathFinder.find_spec(fullname, [MAPPING[fullname].rsplit("/", 1)[0]])
        return None


def install():
    sys.meta_path.append(_EditableFinder)
"""


def editable_python(tmp_path: Path, src: Path, *, finder: bool) -> Path:
    """A virtual environment with the project installed as `pip install -e .` installs it:
    setuptools' static `.pth` line, or its import finder; Django and migrail from ours."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = (venv / "lib").glob("python*/site-packages")
    ours = {str(Path(django.__file__).parent.parent), str(Path(migrail.__file__).parent.parent)}
    (site / "ours.pth").write_text("".join(f"{path}\n" for path in sorted(ours)))
    if finder:
        mapping = {name: str(src / name) for name in ("project", "shop")}
        (site / "__editable___shopproject_0_1_finder.py").write_text(FINDER.format(mapping=mapping))
        (site / "__editable__.shopproject-0.1.pth").write_text(
            "import __editable___shopproject_0_1_finder; "
            "__editable___shopproject_0_1_finder.install()\n"
        )
    else:
        (site / "__editable__.shopproject-0.1.pth").write_text(f"{src}\n")
    return venv / "bin/python"


@pytest.mark.parametrize("finder", [False, True], ids=["pth", "finder"])
def test_the_old_commits_code_comes_from_the_old_tree_in_an_editable_install(
    tmp_path: Path, finder: bool
) -> None:
    p = DjangoProject(tmp_path / "repo")
    p.add_app("shop", path="src/shop")
    p.apps[-1] = "shop"  # the package is `shop`, from src/
    p.write_settings()
    (p.root / "src/project").mkdir(parents=True)
    (p.root / "project/settings.py").rename(p.root / "src/project/settings.py")
    (p.root / "project/__init__.py").rename(p.root / "src/project/__init__.py")
    (p.root / "project").rmdir()
    p.migration("src/shop", "0001_initial", migration_source([], create_model("Item")))
    p.write("src/shop/migrations/max_migration.txt", "0001_initial\n")
    p.commit("main")
    python = editable_python(tmp_path, p.root / "src", finder=finder)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), *args], cwd=p.root, env=run_env(), capture_output=True, text=True
        )

    assert run("manage.py", "migrate").returncode == 0
    assert run("-m", "migrail", "install").returncode == 0
    p.git("switch", "-q", "-c", "feature")
    p.write("src/shop/helpers.py", HELPERS.format(app="shop", model="item", field="price"))
    p.migration(
        "src/shop",
        "0002_price",
        migration_source(
            [("shop", "0001_initial")],
            add_field("item", "price") + "\nmigrations.RunPython(fill, unfill),",
            header="from shop.helpers import fill, unfill\n",
        ),
    )
    p.write("src/shop/migrations/max_migration.txt", "0002_price\n")
    p.commit("feature: a migration importing shop.helpers, which main lacks")
    migrated = run("manage.py", "migrate")
    assert migrated.returncode == 0, migrated.stderr

    switched = subprocess.run(
        ["git", "switch", "main"], cwd=p.root, env=run_env(), capture_output=True, text=True
    )

    out = switched.stdout + switched.stderr
    assert switched.returncode == 0, out
    assert "1 to unapply with the code of" in out
    assert "  - unapplying shop.0002_price (" in out
    status = run("-m", "migrail", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.startswith("migrail: settings project.settings, project directory .\n")


def test_an_ignored_local_settings_module_under_src_imports_with_the_old_code(
    tmp_path: Path,
) -> None:
    """`src/project/settings/local.py`, ignored by git and exported as
    `DJANGO_SETTINGS_MODULE` (the common layout): the old commit's tree gets the live copy,
    found where the settings package really is, not under the project directory."""
    p = DjangoProject(tmp_path / "repo")
    p.add_app("shop", path="src/shop")
    p.apps[-1] = "shop"
    p.write_settings()
    settings = (p.root / "project/settings.py").read_text()
    for name in ("settings.py", "__init__.py"):
        (p.root / "project" / name).unlink()
    (p.root / "project").rmdir()
    p.write("src/project/__init__.py", "")
    p.write("src/project/settings/__init__.py", "")
    p.write("src/project/settings/base.py", settings)
    p.write("src/project/settings/local.py", "from project.settings.base import *  # noqa\n")
    p.write(".gitignore", "local.py\n*.sqlite3\n")
    p.write("manage.py", p.read("manage.py").replace("project.settings", "project.settings.local"))
    p.migration("src/shop", "0001_initial", migration_source([], create_model("Item")))
    p.write("src/shop/migrations/max_migration.txt", "0001_initial\n")
    p.commit("main")
    python = editable_python(tmp_path, p.root / "src", finder=False)
    env = run_env({"DJANGO_SETTINGS_MODULE": "project.settings.local"})

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), *args], cwd=p.root, env=env, capture_output=True, text=True
        )

    assert run("manage.py", "migrate").returncode == 0
    assert run("-m", "migrail", "install").returncode == 0
    p.git("switch", "-q", "-c", "feature")
    p.migration(
        "src/shop",
        "0002_price",
        migration_source([("shop", "0001_initial")], add_field("item", "price")),
    )
    p.write("src/shop/migrations/max_migration.txt", "0002_price\n")
    p.commit("feature")
    assert run("manage.py", "migrate").returncode == 0

    switched = subprocess.run(
        ["git", "switch", "main"], cwd=p.root, env=env, capture_output=True, text=True
    )

    out = switched.stdout + switched.stderr
    assert switched.returncode == 0, out
    assert "1 to unapply with the code of" in out
    status = run("-m", "migrail", "status")
    assert status.returncode == 0, status.stdout + status.stderr
