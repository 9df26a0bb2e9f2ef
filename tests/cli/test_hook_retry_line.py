"""A hook's sync that fails says one command to run next: the one its error names when it
names one (a snapshot switch stopped midway), else the hook's own retry line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from migrail.commands import hook
from migrail.commands.after_checkout import AfterCheckout
from migrail.errors import MigrailError
from migrail.snapshots.steps import SwitchStopped
from migrail.sources.config import Config
from migrail.sources.gitrepo import GitRepo
from tests.djangoproject import run_env


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, env=run_env())
    return GitRepo.discover(tmp_path)


def failing_with(monkeypatch: pytest.MonkeyPatch, error: MigrailError) -> None:
    def run(self: AfterCheckout) -> int:
        raise error

    monkeypatch.setattr(AfterCheckout, "run", run)


def test_a_stopped_switch_names_its_own_retry_only(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    said = "a snapshot switch of database 'default' stopped at step 3 of 3 (…); run `migrail sync`"
    failing_with(monkeypatch, SwitchStopped(said))
    assert hook._sync(repo, Config(), None) == 1
    assert capsys.readouterr().err == f"migrail: the sync did not finish: {said}\n"


def test_any_other_failure_gets_the_hooks_retry_line(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failing_with(monkeypatch, MigrailError("database 'default' is locked"))
    assert hook._sync(repo, Config(), None) == 1
    assert capsys.readouterr().err == (
        "migrail: the sync did not finish: database 'default' is locked\n"
        "migrail: when that is fixed, run `migrail sync`\n"
    )
