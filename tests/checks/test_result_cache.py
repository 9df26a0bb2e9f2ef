"""A check of an unchanged tree is answered from the result cached by its fingerprint."""

from __future__ import annotations

from tests.djangoproject import DjangoProject


def test_an_unchanged_tree_with_settings_is_answered_from_the_cache_in_any_process(
    project: DjangoProject,
) -> None:
    """The fingerprint holds the configuration's repr: nothing in it may depend on the string
    hashing a process happens to use (set order did, with keys set in pyproject.toml)."""
    project.write(
        "pyproject.toml",
        "[tool.migrail]\nbackups_kept = 3\nsnapshots = false\nsync_in_ci = false\n"
        "exclude_apps = ['legacy']\n",
    )
    project.linear_app("shop", "0002_price")
    project.commit("shop")
    assert project.migrail("check", env={"PYTHONHASHSEED": "1"}).returncode == 0
    stored = project.root / ".git/migrail/check-result.pickle"
    first = stored.stat().st_ino
    for seed in ("2", "3", "4"):
        assert project.migrail("check", env={"PYTHONHASHSEED": seed}).returncode == 0
        assert stored.stat().st_ino == first, seed  # not stored again: read from the cache
