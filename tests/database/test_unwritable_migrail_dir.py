"""A full or read-only `.git/migrail`: the sync says so in one line, and the notes written
after it (best effort) add no traceback."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.database.test_snapshots import start
from tests.djangoproject import DjangoProject, run_env


def switch(project: DjangoProject, branch: str) -> str:
    proc = subprocess.run(
        ["git", "switch", branch], cwd=project.root, env=run_env(), capture_output=True, text=True
    )
    return proc.stdout + proc.stderr


def test_directories_that_cannot_be_written_give_one_line_each(project: DjangoProject) -> None:
    """A file where migrail expects a directory fails every write there, even as root."""
    start(project, snapshots=True)
    migrail = project.root / ".git/migrail"
    shutil.rmtree(migrail / "locks")
    (migrail / "locks").write_text("")
    shutil.rmtree(migrail / "snapshots/unsynced", ignore_errors=True)
    (migrail / "snapshots/unsynced").write_text("")
    said = switch(project, "main")
    assert "Traceback" not in said, said
    lines = [line for line in said.splitlines() if line.startswith("migrail:")]
    assert lines[0].startswith("migrail: the sync did not finish: cannot write "), said
    assert lines[1].startswith("migrail: when that is fixed, run `migrail sync --from "), said
    assert len(lines) == 2, said


@pytest.fixture
def mounted(project: DjangoProject, tmp_path: Path) -> Iterator[Path]:
    """`.git/migrail` on a tmpfs of its own, once the project exists (skipped where this
    process may not mount)."""
    start(project, snapshots=True)
    migrail = project.root / ".git/migrail"
    saved = tmp_path / "saved"
    shutil.copytree(migrail, saved, symlinks=True)
    shutil.rmtree(migrail)
    migrail.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(migrail)]
    if shutil.which("mount") is None or subprocess.run(mount, capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        subprocess.run(["cp", "-a", f"{saved}/.", str(migrail)], check=True)
        yield migrail
    finally:
        subprocess.run(["umount", "-l", str(migrail)], check=False)


def test_a_read_only_migrail_directory_is_one_line(project: DjangoProject, mounted: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(mounted)], check=True)
    for branch in ("main", "feature"):
        said = switch(project, branch)
        assert "Traceback" not in said, said
        lines = [line for line in said.splitlines() if line.startswith("migrail:")]
        assert re.fullmatch(
            f"migrail: the sync did not finish: cannot write {mounted}/locks/"
            "[0-9a-f]{16}.lock: Read-only file system",
            lines[0],
        ), said
        assert len(lines) == 2, said


def test_a_full_migrail_directory_is_one_line(project: DjangoProject, mounted: Path) -> None:
    subprocess.run(["dd", "if=/dev/zero", f"of={mounted / 'filler'}", "bs=4k"], capture_output=True)
    assert shutil.disk_usage(mounted).free < 4096
    for branch in ("main", "feature", "main"):
        said = switch(project, branch)
        assert "Traceback" not in said, said
