"""JUnit XML: one test case per app, a `<failure>` per error (warnings in its output)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

if TYPE_CHECKING:
    from migrail.checks.findings import CheckResult, Finding

PROJECT = "(project)"  # findings about no one app: the settings file's


def render_junit(result: CheckResult) -> str:
    by_app: dict[str, list[Finding]] = {label: [] for label in sorted(result.apps)}
    for finding in result.findings:
        by_app.setdefault(finding.app or PROJECT, []).append(finding)
    failed = sum(any(f.severity == "error" for f in found) for found in by_app.values())
    suites = ET.Element(
        "testsuites", name="migrail", tests=str(len(by_app)), failures=str(failed), errors="0"
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="migrail check",
        tests=str(len(by_app)),
        failures=str(failed),
        errors="0",
        skipped="0",
    )
    for label, found in by_app.items():
        app = result.apps.get(label)
        case = ET.SubElement(
            suite, "testcase", classname="migrail.check", name=label, file=app.path if app else ""
        )
        for finding in found:
            if finding.severity == "error":
                failure = ET.SubElement(
                    case, "failure", type=finding.code, message=f"{finding.code} {finding.message}"
                )
                failure.text = f"{finding.path}:{finding.line}: {finding.message}\n{finding.hint}"
        warnings = [f for f in found if f.severity == "warning"]
        if warnings:
            ET.SubElement(case, "system-out").text = "\n".join(
                f"{f.path}:{f.line}: {f.code} {f.message}" for f in warnings
            )
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode")


def render_error(message: str) -> str:
    """The check could not run: one test case in error, so the CI's test report says why."""
    suites = ET.Element("testsuites", name="migrail", tests="1", failures="0", errors="1")
    suite = ET.SubElement(
        suites, "testsuite", name="migrail check", tests="1", failures="0", errors="1", skipped="0"
    )
    case = ET.SubElement(suite, "testcase", classname="migrail.check", name="migrail check")
    ET.SubElement(case, "error", type="MigrailError", message=message)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode")
