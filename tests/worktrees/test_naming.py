"""`migrail.per_worktree` in process: a linked worktree laid out on disk as git lays it out."""

from __future__ import annotations

import hashlib
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from migrail.worktree_names import (
    MYSQL_LIMIT_CHARS,
    PG_LIMIT_BYTES,
    find_linked_worktree,
    is_sqlite,
    server_database_name,
)
from tests.djangoproject import run_env

PG = {"ENGINE": "django.db.backends.postgresql", "NAME": "shop", "HOST": "127.0.0.1"}
MY = {"ENGINE": "django.db.backends.mysql", "NAME": "shop"}

SETTINGS = """
import migrail
from pathlib import Path
BASE = Path(__file__).resolve().parent
DATABASES = migrail.per_worktree({
    "default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop"},
    "inside": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE / "db.sqlite3"},
    "outside": {"ENGINE": "django.db.backends.sqlite3", "NAME": OUTSIDE},
    "relative": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"},
})
"""


def layout(tmp_path: Path, name: str = "Feature-X.2") -> tuple[Path, Path]:
    """A main worktree and a linked one, as `git worktree add` leaves them."""
    main = tmp_path / "main"
    subprocess.run(["git", "init", "-q", str(main)], check=True, env=run_env())
    linked = tmp_path / name
    admin = main / ".git/worktrees" / name
    admin.mkdir(parents=True)
    (admin / "commondir").write_text("../..\n")
    linked.mkdir()
    (linked / ".git").write_text(f"gitdir: {admin}\n")
    return main, linked


def settings_in(worktree: Path, outside: Path) -> dict[str, Any]:
    path = worktree / "settings.py"
    path.write_text(SETTINGS)
    databases: dict[str, Any] = runpy.run_path(str(path), {"OUTSIDE": str(outside)})["DATABASES"]
    return databases


def turn_on(main: Path, *extra: str) -> None:
    for args in (("migrail.worktreeDatabases", "true"), *[tuple(e.split()) for e in extra]):
        subprocess.run(["git", "-C", str(main), "config", *args], check=True, env=run_env())


def test_off_by_default_and_unchanged_in_the_main_worktree(tmp_path: Path) -> None:
    main, linked = layout(tmp_path)
    outside = tmp_path / "data/app.sqlite3"
    assert settings_in(linked, outside)["default"]["NAME"] == "shop"  # not opted in
    turn_on(main)
    assert settings_in(main, outside)["default"]["NAME"] == "shop"
    assert settings_in(main, outside)["outside"]["NAME"] == str(outside)


def test_each_kind_of_database_in_a_linked_worktree(tmp_path: Path) -> None:
    main, linked = layout(tmp_path)
    turn_on(main)
    outside = tmp_path / "data/app.sqlite3"
    databases = settings_in(linked, outside)
    tag = hashlib.sha256(b"Feature-X.2").hexdigest()[:6]  # the name cleaned: told apart
    assert databases["default"]["NAME"] == f"shop_feature_x_2_{tag}"
    assert databases["inside"]["NAME"] == linked / "db.sqlite3"  # already its own
    assert databases["relative"]["NAME"] == "db.sqlite3"  # opened in the worktree
    assert databases["outside"]["NAME"] == str(tmp_path / f"data/app_feature_x_2_{tag}.sqlite3")


def test_the_prefix_and_pyproject(tmp_path: Path) -> None:
    main, linked = layout(tmp_path, "wt")
    (linked / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.migrail]\nworktree_databases = true\n'
        'snapshot_prefix = "alice_"\n'
    )
    databases = settings_in(linked, tmp_path / "app.sqlite3")
    assert databases["default"]["NAME"] == "alice_shop_wt"
    assert databases["outside"]["NAME"] == str(tmp_path / "alice_app_wt.sqlite3")
    turn_on(main, "migrail.snapshotPrefix bob-")  # git config wins over pyproject
    assert settings_in(linked, tmp_path / "x")["default"]["NAME"] == "bob_shop_wt"


def test_a_submodule_is_no_worktree(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/.git").write_text("gitdir: ../.git/modules/sub\n")
    assert find_linked_worktree(str(tmp_path / "sub")) is None


@pytest.mark.parametrize(
    ("engine", "limit", "measure"),
    [("postgresql", PG_LIMIT_BYTES, lambda s: len(s.encode())), ("mysql", MYSQL_LIMIT_CHARS, len)],
)
def test_long_names_are_cut_within_the_engines_limit_with_a_hash(
    engine: str, limit: int, measure: Any
) -> None:
    long = "ä" * 40
    one = server_database_name(long, "worktree-one", engine)
    two = server_database_name(long, "worktree-two", engine)
    assert measure(one) <= limit
    assert measure(two) <= limit
    assert one != two
    assert server_database_name("shop", "w", engine) == "shop_w"
    # Names that clean alike are told apart.
    assert len({server_database_name("shop", n, engine) for n in ("wt-x", "wt_x", "WT-X")}) == 3


def test_per_worktree_imports_neither_django_nor_git(tmp_path: Path) -> None:
    main, linked = layout(tmp_path)
    turn_on(main)
    (linked / "settings.py").write_text(SETTINGS)
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1], {'OUTSIDE': '/x'}); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'git', "
        "'dataclasses')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(linked / "settings.py")],
        capture_output=True,
        text=True,
        check=True,
        env=run_env(),
    )
    assert out.stdout.strip() == "[]"


def test_the_configuration_keys(tmp_path: Path) -> None:
    from migrail.sources.config import load_config

    main, _ = layout(tmp_path)
    assert load_config(main).worktree_databases is False
    turn_on(main, "migrail.snapshotPrefix al.ice-")
    config = load_config(main)
    assert config.worktree_databases is True
    assert config.snapshot_prefix == "al_ice_"  # as per_worktree reads it: a name's start


def test_file_databases_by_their_engine() -> None:
    """SpatiaLite is SQLite (GeoDjango's backend): its file is named per worktree too."""
    for engine in ("django.db.backends.sqlite3", "django.contrib.gis.db.backends.spatialite"):
        assert is_sqlite({"ENGINE": engine}), engine
    for engine in ("django.db.backends.postgresql", "django.contrib.gis.db.backends.postgis"):
        assert not is_sqlite({"ENGINE": engine}), engine
