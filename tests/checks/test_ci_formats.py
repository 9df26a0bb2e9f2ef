"""`--format sarif|gitlab|junit` parsed back field by field, and the GitHub job summary."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.djangoproject import DjangoProject, add_field, migration_source
from tests.scenarios import add_migration, base


def forked_and_broken(p: DjangoProject) -> None:
    """shop forked (E001 + W001), a syntax error in `billing`, a clean `notes` app;
    a path with a space, so URIs are seen encoded."""
    base(p)
    p.migration(
        "shop", "0003_stock", migration_source([("shop", "0002_price")], add_field("item", "s"))
    )
    p.migration(
        "shop", "0003_size", migration_source([("shop", "0002_price")], add_field("item", "z"))
    )
    p.write("shop/migrations/max_migration.txt", "0003_size\n")
    p.add_app("billing", path="my apps/billing")
    p.migration("my apps/billing", "0001_initial", "class Migration(:\n")
    p.write("my apps/billing/migrations/max_migration.txt", "0001_initial\n")
    p.linear_app("notes")
    p.commit("broken")


def report(p: DjangoProject, fmt: str, *args: str) -> str:
    proc = p.migrail("check", "--format", fmt, *args)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


EXPECTED = [  # (code, level, path, line), in the report's order
    ("E008", "error", "my apps/billing/migrations/0001_initial.py", 1),
    ("W001", "warning", "shop/migrations/0003_stock.py", 1),
    ("E001", "error", "shop/migrations/max_migration.txt", 1),
]


def test_sarif(project: DjangoProject) -> None:
    forked_and_broken(project)
    sarif = json.loads(report(project, "sarif"))
    assert sarif["version"] == "2.1.0"
    assert sarif["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "migrail"
    rules = driver["rules"]
    ids = [rule["id"] for rule in rules]
    assert ids == sorted(ids)
    assert {"E001", "E008", "E012", "E013", "E014", "E015", "W001", "W002"} <= set(ids)
    for rule in rules:
        assert rule["shortDescription"]["text"]
        assert rule["name"].isalnum()
        level = "warning" if rule["id"].startswith("W") else "error"
        assert rule["defaultConfiguration"] == {"level": level}
    results = run["results"]
    seen = []
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        seen.append(
            (
                result["ruleId"],
                result["level"],
                physical["artifactLocation"]["uri"],
                physical["region"]["startLine"],
            )
        )
        assert "Hint: " in result["message"]["text"]
    assert [(c, lvl, uri.replace("%20", " "), line) for c, lvl, uri, line in seen] == [
        (c, lvl, p, line) for c, lvl, p, line in EXPECTED
    ]
    assert seen[0][2] == "my%20apps/billing/migrations/0001_initial.py"
    prints = [r["partialFingerprints"]["migrailFinding/v1"] for r in results]
    assert len(set(prints)) == len(prints)


def test_sarif_of_a_clean_tree_has_rules_and_no_results(project: DjangoProject) -> None:
    base(project)
    proc = project.migrail("check", "--format", "sarif")
    assert proc.returncode == 0
    sarif = json.loads(proc.stdout)
    assert sarif["runs"][0]["results"] == []
    assert sarif["runs"][0]["tool"]["driver"]["rules"]


def test_gitlab_code_quality(project: DjangoProject) -> None:
    forked_and_broken(project)
    issues = json.loads(report(project, "gitlab"))
    assert isinstance(issues, list)
    assert [
        (i["check_name"], i["severity"], i["location"]["path"], i["location"]["lines"]["begin"])
        for i in issues
    ] == [(c, {"error": "major", "warning": "minor"}[lvl], p, line) for c, lvl, p, line in EXPECTED]
    for issue in issues:
        assert issue["description"].startswith(issue["check_name"] + " ")
        assert isinstance(issue["fingerprint"], str)
        assert len(issue["fingerprint"]) == 64
    assert len({i["fingerprint"] for i in issues}) == len(issues)
    again = json.loads(report(project, "gitlab"))
    assert [i["fingerprint"] for i in again] == [i["fingerprint"] for i in issues]  # stable


def test_junit_one_case_per_app_a_failure_per_error(project: DjangoProject) -> None:
    forked_and_broken(project)
    root = ET.fromstring(report(project, "junit"))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = {case.get("name", ""): case for case in suite.findall("testcase")}
    assert sorted(cases) == ["billing", "notes", "shop"]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "2", "0")
    assert cases["notes"].findall("failure") == []
    (failure,) = cases["shop"].findall("failure")
    assert failure.get("type") == "E001"
    assert failure.get("message", "").startswith("E001 app 'shop' has 2 leaf migrations")
    assert (failure.text or "").startswith("shop/migrations/max_migration.txt:1: ")
    out = cases["shop"].find("system-out")
    assert out is not None
    assert (out.text or "").startswith("shop/migrations/0003_stock.py:1: W001 ")
    assert [f.get("type") for f in cases["billing"].findall("failure")] == ["E008"]
    assert cases["billing"].get("file") == "my apps/billing/migrations"


def test_junit_several_errors_in_one_app(project: DjangoProject) -> None:
    base(project)
    project.git("switch", "-q", "-c", "feature")
    add_migration(project, "shop", "0003_stock", "0002_price")
    project.git("switch", "-q", "main")
    add_migration(project, "shop", "0003_size", "0002_price")
    project.git("switch", "-q", "feature")
    project.write(
        "shop/migrations/0001_initial.py",
        "# edited\n" + project.read("shop/migrations/0001_initial.py").replace("'Item'", "'Thing'"),
    )
    root = ET.fromstring(report(project, "junit", "--base", "main"))
    (case,) = root.iter("testcase")
    assert [f.get("type") for f in case.findall("failure")] == ["E013", "E012"]


@pytest.mark.parametrize("clean", [True, False])
def test_github_step_summary(project: DjangoProject, tmp_path: Path, clean: bool) -> None:
    if clean:
        base(project)
    else:
        forked_and_broken(project)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    proc = project.migrail("check", "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert proc.returncode == (0 if clean else 1)
    text = summary.read_text()
    assert text.startswith("earlier step\n## migrail check: the working tree\n")  # appended
    if clean:
        assert text.endswith("No findings (1 app checked).\n")
        return
    assert "**2 errors, 1 warning** (3 apps checked)." in text
    rows = [line for line in text.splitlines() if line.startswith("| E") or line.startswith("| W")]
    assert [row.split(" | ")[0:2] for row in rows] == [
        ["| E008", "`my apps/billing/migrations/0001_initial.py:1`"],
        ["| W001", "`shop/migrations/0003_stock.py:1`"],
        ["| E001", "`shop/migrations/max_migration.txt:1`"],
    ]
    for row in rows:
        assert row.count(" | ") == 3  # no `|` from a message breaks the table
    # The annotations are still the whole stdout.
    assert all(line.startswith(("::error ", "::warning ")) for line in proc.stdout.splitlines())


def test_no_summary_file_for_other_formats(project: DjangoProject, tmp_path: Path) -> None:
    base(project)
    summary = tmp_path / "summary.md"
    proc = project.migrail("check", "--format", "sarif", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert proc.returncode == 0
    assert not summary.exists()


def test_a_check_that_cannot_run_still_writes_a_valid_document(project: DjangoProject) -> None:
    """`--base` naming nothing (exit 2): the upload step after it (`if: always()`) still
    reads a valid SARIF, Code Quality or JUnit file that says why; the error is on stderr."""
    base(project)
    for fmt in ("sarif", "gitlab", "junit"):
        proc = project.migrail("check", "--format", fmt, "--base", "no-such-branch")
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stderr.startswith("migrail: error: unknown revision 'no-such-branch'")
        if fmt == "sarif":
            (run,) = json.loads(proc.stdout)["runs"]
            assert run["results"] == []
            (invocation,) = run["invocations"]
            assert invocation["executionSuccessful"] is False
            (note,) = invocation["toolExecutionNotifications"]
            assert "no-such-branch" in note["message"]["text"]
        elif fmt == "gitlab":
            assert json.loads(proc.stdout) == []
        else:
            suites = ET.fromstring(proc.stdout)
            assert suites.get("errors") == "1"
            error = suites.find("testsuite/testcase/error")
            assert error is not None
            assert "no-such-branch" in (error.get("message") or "")
