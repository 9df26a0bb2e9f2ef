"""The GitHub Action (`action.yml`) run as a runner runs it: its `run:` steps in bash with the
`GITHUB_*` variables a runner sets, its `${{ }}` expressions filled in from the inputs and the
event, on a pull request whose base moved after GitHub made its merge ref."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML, through pre-commit

from tests.djangoproject import MIGRAIL_ROOT, DjangoProject, git, run_env
from tests.scenarios import add_migration, base

ACTION = yaml.safe_load((MIGRAIL_ROOT / "action.yml").read_text())
EXPRESSION = re.compile(r"\$\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}")


def evaluate(text: str, context: dict[str, Any]) -> str:
    """A `${{ a.b.c }}` property lookup, as GitHub does it: a missing property is ''."""

    def lookup(match: re.Match[str]) -> str:
        value: Any = context
        for part in match.group(1).split("."):
            value = value.get(part, "") if isinstance(value, dict) else ""
        return str(value)

    filled = EXPRESSION.sub(lookup, text)
    assert "${{" not in filled, f"an expression this runner cannot evaluate: {text}"
    return filled


class Runner:
    def __init__(self, tmp: Path, workspace: Path) -> None:
        self.temp = tmp / "runner-temp"
        self.temp.mkdir(exist_ok=True)
        self.workspace = workspace
        self.files = {name: tmp / name for name in ("summary.md", "path", "env", "output")}
        for path in self.files.values():
            path.touch()

    def run_step(
        self,
        index: int,
        inputs: dict[str, str],
        event_name: str,
        event: dict[str, Any],
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        step = ACTION["runs"]["steps"][index]
        assert step["shell"] == "bash"
        defaults = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}
        context = {
            "inputs": {**defaults, **inputs},
            "github": {"event": event, "event_name": event_name, "action_path": str(MIGRAIL_ROOT)},
            "runner": {"temp": str(self.temp)},
        }
        event_path = self.temp / "event.json"
        event_path.write_text(json.dumps(event))
        runner_env = run_env(
            {
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_WORKSPACE": str(self.workspace),
                "GITHUB_EVENT_NAME": event_name,
                "GITHUB_EVENT_PATH": str(event_path),
                "GITHUB_BASE_REF": event.get("pull_request", {}).get("base", {}).get("ref", ""),
                "GITHUB_HEAD_REF": event.get("pull_request", {}).get("head", {}).get("ref", ""),
                "GITHUB_ACTION_PATH": str(MIGRAIL_ROOT),
                "GITHUB_ACTION_REPOSITORY": "migrail/migrail",
                "GITHUB_SERVER_URL": "https://github.com",
                "GITHUB_REPOSITORY": "example/shop",
                "GITHUB_STEP_SUMMARY": str(self.files["summary.md"]),
                "GITHUB_PATH": str(self.files["path"]),
                "GITHUB_ENV": str(self.files["env"]),
                "GITHUB_OUTPUT": str(self.files["output"]),
                "RUNNER_TEMP": str(self.temp),
                **(env or {}),
            }
        )
        runner_env.update(
            {key: evaluate(str(value), context) for key, value in step["env"].items()}
        )
        directory = self.workspace / evaluate(step.get("working-directory", "."), context)
        script = self.temp / f"step{index}.sh"
        script.write_text(evaluate(step["run"], context))
        # GitHub's `shell: bash`: bash --noprofile --norc -eo pipefail {0}
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=directory,
            env=runner_env,
            capture_output=True,
            text=True,
        )


@pytest.fixture(scope="module")
def runner_temp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The action's first step, run once: migrail installed from the action's own path."""
    tmp = tmp_path_factory.mktemp("action")
    runner = Runner(tmp, tmp)
    proc = runner.run_step(0, {}, "pull_request", {})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Nothing on PATH for later steps: they keep the project's Python, pip and Django.
    assert not runner.files["path"].exists() or runner.files["path"].read_text() == ""
    assert proc.stdout.strip().startswith("migrail ")
    return runner.temp


def origin_with_moved_base(tmp_path: Path) -> Path:
    """origin: `stock` opened as pull request 1 from main's leaf, its merge ref made then;
    `size`, from the same leaf, merged into main afterwards."""
    origin = DjangoProject(tmp_path / "origin")
    base(origin)
    origin.git("switch", "-q", "-c", "size")
    add_migration(origin, "shop", "0003_size", "0002_price")
    origin.git("switch", "-q", "-c", "stock", "main")
    add_migration(origin, "shop", "0003_stock", "0002_price")
    origin.git("switch", "-q", "--detach", "main")
    origin.git("merge", "-q", "--no-ff", "--no-edit", "stock")  # GitHub's merge ref, now stale
    origin.git("update-ref", "refs/pull/1/merge", "HEAD")
    origin.git("switch", "-q", "main")
    origin.git("merge", "-q", "--no-ff", "--no-edit", "size")
    return origin.root


def checkout(tmp_path: Path, origin: Path, ref: str) -> Path:
    """What actions/checkout does: a fetch of depth 1 of the ref, detached."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    git(workspace, "init", "-q")
    git(workspace, "remote", "add", "origin", origin.as_uri())
    git(
        workspace,
        "fetch",
        "-q",
        "--no-tags",
        "--depth=1",
        "origin",
        f"+{ref}:refs/remotes/pull/1/merge",
    )
    git(workspace, "checkout", "-q", "--detach", "refs/remotes/pull/1/merge")
    assert git(workspace, "rev-parse", "--is-shallow-repository").strip() == "true"
    return workspace


PULL_REQUEST = {"pull_request": {"base": {"ref": "main"}, "head": {"ref": "stock"}, "number": 1}}


def test_pull_request_whose_base_moved_fails_with_annotations_and_a_summary(
    runner_temp: Path, tmp_path: Path
) -> None:
    origin = origin_with_moved_base(tmp_path)
    workspace = checkout(tmp_path, origin, "refs/pull/1/merge")
    runner = Runner(tmp_path, workspace)
    runner.temp = runner_temp
    proc = runner.run_step(1, {}, "pull_request", PULL_REQUEST)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith(
        "::error file=shop/migrations/0003_stock.py,line=1,title=migrail E012::"
        "app 'shop' forks once merged into origin/main: 0003_stock on this branch, "
        "0003_size on origin/main."
    )
    summary = runner.files["summary.md"].read_text()
    assert summary.startswith("## migrail check: the working tree merged into origin/main\n")
    assert "| E012 | `shop/migrations/0003_stock.py:1` |" in summary
    # The history the merge base needs was fetched.
    assert git(workspace, "rev-parse", "--is-shallow-repository").strip() == "false"


def test_merge_group_sarif_to_a_file(runner_temp: Path, tmp_path: Path) -> None:
    origin = origin_with_moved_base(tmp_path)
    workspace = checkout(tmp_path, origin, "refs/pull/1/merge")
    runner = Runner(tmp_path, workspace)
    runner.temp = runner_temp
    event = {
        "merge_group": {
            "base_ref": "refs/heads/main",
            "head_ref": "refs/heads/gh-readonly-queue/main/pr-1",
        }
    }
    proc = runner.run_step(1, {"format": "sarif", "output": "migrail.sarif"}, "merge_group", event)
    assert (proc.returncode, proc.stdout) == (1, ""), proc.stderr
    results = json.loads((workspace / "migrail.sarif").read_text())["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["E012"]


def test_push_checks_the_tree_alone_and_an_explicit_base(runner_temp: Path, tmp_path: Path) -> None:
    origin = origin_with_moved_base(tmp_path)
    workspace = checkout(tmp_path, origin, "refs/heads/stock")
    runner = Runner(tmp_path, workspace)
    runner.temp = runner_temp
    push = {"ref": "refs/heads/stock", "before": "0" * 40}
    proc = runner.run_step(1, {}, "push", push)
    assert (proc.returncode, proc.stdout) == (0, ""), proc.stderr
    assert runner.files["summary.md"].read_text() == (
        "## migrail check: the working tree\n\nNo findings (1 app checked).\n"
    )
    proc = runner.run_step(1, {"base": "origin/main", "format": "text"}, "push", push)
    assert proc.returncode == 1, proc.stderr
    assert "E012 app 'shop' forks once merged into origin/main" in proc.stdout
    # `base: main`, as people type it: the checkout has no local main, so origin's is fetched.
    proc = runner.run_step(1, {"base": "main", "format": "text"}, "push", push)
    assert proc.returncode == 1, proc.stderr
    assert "E012 app 'shop' forks once merged into origin/main" in proc.stdout


def test_working_directory(runner_temp: Path, tmp_path: Path) -> None:
    project = DjangoProject(tmp_path / "workspace" / "backend")
    base(project)
    runner = Runner(tmp_path, tmp_path / "workspace")
    runner.temp = runner_temp
    proc = runner.run_step(1, {"working-directory": "backend", "format": "json"}, "push", {})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["apps"]["shop"]["leaves"] == ["0002_price"]


def test_version_installs_that_ref_of_the_actions_repository(tmp_path: Path) -> None:
    """`version: <ref>` installs `git+<server>/<action repository>@<ref>`: here a server on the
    file system, this repository, its HEAD commit. The repository is read off the action's
    path (`…/_actions/OWNER/REPO/REF`), as a composite step sees GITHUB_ACTION_REPOSITORY
    empty."""
    head = git(MIGRAIL_ROOT, "rev-parse", "HEAD").strip()
    runner = Runner(tmp_path, tmp_path)
    proc = runner.run_step(
        0,
        {"version": head},
        "pull_request",
        {},
        env={
            "GITHUB_SERVER_URL": "file://",
            "GITHUB_ACTION_REPOSITORY": "",
            "GITHUB_ACTION_PATH": f"{tmp_path}/_actions{MIGRAIL_ROOT}/v1",
        },
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (record,) = (runner.temp / "migrail-venv").glob(
        "lib/python*/site-packages/*.dist-info/direct_url.json"
    )
    direct = json.loads(record.read_text())
    assert direct["url"] == MIGRAIL_ROOT.as_uri()
    assert direct["vcs_info"]["commit_id"] == head


def test_a_version_from_an_unknown_repository_is_refused(tmp_path: Path) -> None:
    """No repository to install `version` from: one line, exit 2, never another repository's."""
    runner = Runner(tmp_path, tmp_path)
    env = {"GITHUB_ACTION_REPOSITORY": "", "GITHUB_ACTION_PATH": str(tmp_path / "elsewhere")}
    proc = runner.run_step(0, {"version": "v1"}, "pull_request", {}, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "migrail: cannot tell this action's repository" in proc.stderr
    assert not (runner.temp / "migrail-venv").exists()
