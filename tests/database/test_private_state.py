"""Everything under `.git/migrail` is private whatever the umask: `sources/` holds code a
later rollback runs, locks and notes name databases. Locks are never opened through a link."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.djangoproject import DjangoProject
from tests.scenarios import feature_branch, main_branch, sync


def test_migrail_state_is_private_under_umask_000(project: DjangoProject) -> None:
    previous = os.umask(0o000)
    try:
        main_branch(project)
        sync(project)
        feature_branch(project)
        sync(project)
        project.git("switch", "-q", "main")
        sync(project)
    finally:
        os.umask(previous)
    top = project.root / ".git/migrail"
    assert (top / "sources").is_dir()
    assert (top / "locks").is_dir()
    found = [top, *top.rglob("*")]
    modes = {str(p.relative_to(top)): stat.S_IMODE(p.lstat().st_mode) for p in found}
    assert {p: m for p, m in modes.items() if (top / p).is_dir() and m != 0o700} == {}
    assert {p: m for p, m in modes.items() if (top / p).is_file() and m & 0o077} == {}


def test_a_lock_that_is_a_link_is_never_followed(project: DjangoProject, tmp_path: Path) -> None:
    main_branch(project)
    sync(project)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (lock,) = (project.root / ".git/migrail/locks").glob("*.lock")  # the database's
    lock.unlink()
    lock.symlink_to(victim)
    proc = project.migrail("sync")
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith(f"migrail: error: cannot write {lock}: "), proc.stderr
    assert victim.read_text() == "keep me"
