"""A cold check's parallel parse gives what parsing each file here gives, in order."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from migrail.graph.parser import ParseProblem, parse_migration
from migrail.sources import parallel_parse

MIGRATION = """\
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shop", "{parent}")]
    operations = []
"""


@pytest.mark.skipif(sys.platform != "linux" or (os.cpu_count() or 1) < 2, reason="one core")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_the_parallel_parse_equals_parsing_each_file_in_order(tmp_path: Path) -> None:
    paths = []
    for number in range(parallel_parse.THRESHOLD + 7):
        path = f"shop/migrations/{number:04d}_step.py"
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(MIGRATION.format(parent=f"{number - 1:04d}_step"))
        paths.append(path)
    (tmp_path / paths[5]).write_text("class Migration(:\n")  # a syntax error
    (tmp_path / paths[9]).unlink()  # unreadable

    parsed = parallel_parse.parse_files(tmp_path, paths)

    assert len(parsed) == len(paths)
    for path, result in zip(paths, parsed, strict=True):
        if path == paths[9]:
            assert isinstance(result, ParseProblem)
            assert result.kind == "unreadable"
        else:
            assert result == parse_migration((tmp_path / path).read_bytes()), path
