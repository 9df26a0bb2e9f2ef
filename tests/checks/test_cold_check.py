"""A cold check of a large work tree, whose files are parsed ahead on every core while git
looks at the work tree, says what the files on disk say, and caches only what the index holds."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from migrail.sources import parallel_parse
from tests.djangoproject import DjangoProject

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or (os.cpu_count() or 1) < 2,
    reason="files are parsed ahead on Linux with more than one core",
)
NAMES = [f"{number:04d}_f{number}" for number in range(2, parallel_parse.THRESHOLD + 12)]


def cold_check(p: DjangoProject, env: dict[str, str] | None = None) -> tuple[int, list[str], str]:
    cache = p.root / p.git("rev-parse", "--git-common-dir").strip() / "migrail"
    shutil.rmtree(cache, ignore_errors=True)
    return check(p, env)


def check(p: DjangoProject, env: dict[str, str] | None = None) -> tuple[int, list[str], str]:
    proc = p.migrail("check", "--format", "json", env=env)
    findings = json.loads(proc.stdout)["findings"]
    return proc.returncode, [f"{f['code']} {f['message']}" for f in findings], proc.stderr


def test_a_file_changed_on_disk_is_read_from_disk_and_its_parse_not_cached_as_the_index(
    project: DjangoProject,
) -> None:
    project.linear_app("shop", *NAMES)
    project.commit()
    changed = Path(project.root / f"shop/migrations/{NAMES[3]}.py")
    committed = changed.read_text()
    changed.write_text(committed.replace(NAMES[2], NAMES[1]))  # a fork: NAMES[2] is a leaf
    fork = f"E001 app 'shop' has 2 leaf migrations: {NAMES[2]}, {NAMES[-1]}"

    assert cold_check(project)[:2] == (1, [fork])
    changed.write_text(committed)  # as the index holds it: its blob's parse is the committed one
    assert check(project)[:2] == (0, [])


def test_untracked_and_deleted_files_count_as_on_disk(project: DjangoProject) -> None:
    project.linear_app("shop", *NAMES)
    project.linear_app("billing")
    project.commit()
    (project.root / f"shop/migrations/{NAMES[-1]}.py").unlink()
    project.migration("billing", "0002_untracked", "class Migration(:\n")

    code, findings, _ = cold_check(project)

    assert code == 1
    assert findings == [
        "E008 0002_untracked has a syntax error: invalid syntax",
        f"E003 max_migration.txt of shop names {NAMES[-1]}, which does not exist, "
        f"but the latest migration is {NAMES[-2]}",
    ]


def test_pythons_warnings_about_the_files_are_not_printed(project: DjangoProject) -> None:
    project.linear_app("shop", *NAMES)
    for name in NAMES[::50]:
        path = f"shop/migrations/{name}.py"
        project.write(path, project.read(path) + "\nPATTERN = '\\d+'\n")
    project.commit()
    assert cold_check(project, env={"PYTHONWARNINGS": "default"}) == (0, [], "")
