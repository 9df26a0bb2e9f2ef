"""What the README says of `migrail-sync` under pre-commit, held to pre-commit's real
behaviour: a passing hook's output shows only with `verbose: true`, and a branch without
`.pre-commit-config.yaml` is not synced at all."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.djangoproject import DjangoProject
from tests.scenarios import feature_branch, main_branch, sync


def switch(project: DjangoProject, env: dict[str, str], branch: str, status: int = 0) -> str:
    proc = subprocess.run(
        ["git", "switch", branch], cwd=project.root, env=env, capture_output=True, text=True
    )
    assert proc.returncode == status, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def test_sync_output_shows_only_with_verbose(project: DjangoProject, tmp_path: Path) -> None:
    project.use_this_repository_in_pre_commit("migrail-sync")
    main_branch(project)
    feature_branch(project)
    sync(project)
    env = project.install_pre_commit(tmp_path / "pre-commit-home", "post-checkout")
    out = switch(project, env, "main")
    assert "migrail sync (database follows the branch)" in out
    assert "Passed" in out
    assert "- billing.0002_seen" not in out
    assert project.migrail("status").returncode == 0  # synced, silently
    config = project.read(".pre-commit-config.yaml")
    project.write(".pre-commit-config.yaml", config + "        verbose: true\n")
    project.commit("verbose")
    project.git("switch", "-q", "feature")  # without the hooks: pre-commit is not installed here
    project.git("merge", "-q", "main")
    sync(project)
    out = switch(project, env, "main")
    assert "- billing.0002_seen" in out


def test_a_branch_without_the_config_is_not_synced(project: DjangoProject, tmp_path: Path) -> None:
    main_branch(project)
    project.git("branch", "before-pre-commit")
    project.use_this_repository_in_pre_commit("migrail-sync")
    project.commit("pre-commit")
    feature_branch(project)
    sync(project)
    env = project.install_pre_commit(tmp_path / "pre-commit-home", "post-checkout")
    out = switch(project, env, "before-pre-commit", status=1)  # git reports the hook's failure
    assert "No .pre-commit-config.yaml file was found" in out
    assert project.git("branch", "--show-current").strip() == "before-pre-commit"
    status = project.migrail("status")
    assert status.returncode == 1
    assert "would unapply: billing.0002_seen" in status.stdout
