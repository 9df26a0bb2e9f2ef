"""The GitLab CI template's job script run as GitLab's shell runs it (bash, `set -eo pipefail`),
with the `CI_*` variables of a merge request pipeline: migrail installed from git, the target
branch fetched, a Code Quality report written and the findings in the log."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml  # type: ignore[import-untyped]  # PyYAML, through pre-commit

from tests.djangoproject import MIGRAIL_ROOT, DjangoProject, git, run_env
from tests.scenarios import add_migration, base

TEMPLATE = yaml.safe_load((MIGRAIL_ROOT / "ci/gitlab/migrail.gitlab-ci.yml").read_text())


def test_merge_request_whose_target_moved(tmp_path: Path) -> None:
    origin = DjangoProject(tmp_path / "origin")
    base(origin)
    origin.git("switch", "-q", "-c", "stock")
    add_migration(origin, "shop", "0003_stock", "0002_price")
    origin.git("switch", "-q", "main")
    add_migration(origin, "shop", "0003_size", "0002_price")  # landed after stock branched
    workspace = tmp_path / "builds" / "shop"
    git(tmp_path, "clone", "-q", "--branch", "stock", str(origin.root), str(workspace))

    job = TEMPLATE["migrail"]
    assert job["artifacts"]["reports"]["codequality"] == "gl-code-quality-report.json"
    head = git(MIGRAIL_ROOT, "rev-parse", "HEAD").strip()
    variables = {
        **job["variables"],
        "MIGRAIL_REPOSITORY": MIGRAIL_ROOT.as_uri(),  # the project's own repository, committed
        "MIGRAIL_VERSION": head,
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_JOB_ID": "7",
        "CI_PROJECT_DIR": str(workspace),
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "stock",
        "CI_DEFAULT_BRANCH": "main",
        "TMPDIR": str(tmp_path),
    }
    script = tmp_path / "job.sh"
    script.write_text("set -eo pipefail\n" + "\n".join(job["script"]) + "\n")
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", str(script)],
        cwd=workspace,
        env=run_env({k: str(v) for k, v in variables.items()}),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "E012 app 'shop' forks once merged into origin/main" in proc.stdout
    report = json.loads((workspace / "gl-code-quality-report.json").read_text())
    assert [(i["check_name"], i["location"]["path"]) for i in report] == [
        ("E012", "shop/migrations/0003_stock.py")
    ]
