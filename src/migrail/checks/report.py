"""Render a `CheckResult` as text, JSON, GitHub Actions annotations, SARIF, GitLab Code
Quality or JUnit XML (the last three in their own modules)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from migrail.checks.findings import CheckResult, Finding

FORMATS = ("text", "json", "github", "sarif", "gitlab", "junit")


def render_failure(fmt: str, message: str) -> str | None:
    """For the formats a later CI step parses (SARIF, GitLab Code Quality, JUnit): a valid
    document that says the check could not run, instead of an empty file; else None."""
    from migrail.checks.findings import CheckResult

    empty = CheckResult({}, [], [])
    if fmt == "sarif":
        from migrail.checks.sarif import render_sarif

        return render_sarif(empty, failure=message)
    if fmt == "gitlab":
        return "[]"
    if fmt == "junit":
        from migrail.checks.junit import render_error

        return render_error(message)
    return None


def render_report(result: CheckResult, fmt: str) -> str:
    if fmt == "json":
        import json  # the other formats, text first, go without it

        return json.dumps(
            {
                "apps": {label: app.as_json() for label, app in sorted(result.apps.items())},
                "findings": [f.as_json() for f in result.findings],
            },
            indent=2,
        )
    if fmt == "github":
        return "\n".join(_github(f) for f in result.findings)
    if fmt == "sarif":
        from migrail.checks.sarif import render_sarif

        return render_sarif(result)
    if fmt == "gitlab":
        from migrail.checks.gitlab import render_gitlab

        return render_gitlab(result)
    if fmt == "junit":
        from migrail.checks.junit import render_junit

        return render_junit(result)
    lines = [
        f"{f.path}:{f.line}: {f.code} {f.message}\n    hint: {f.hint}" for f in result.findings
    ]
    if result.findings:
        lines.append(f"migrail: {tally(result)} {apps_checked(result)}")
    return "\n".join(lines)


def tally(result: CheckResult) -> str:
    """The findings counted by severity: `1 error, 0 warnings`."""
    errors = len(result.errors)
    return f"{_count(errors, 'error')}, {_count(len(result.findings) - errors, 'warning')}"


def apps_checked(result: CheckResult) -> str:
    """`(2 apps checked)`: every app the check read, not only those with findings."""
    return f"({_count(len(result.apps), 'app')} checked)"


def _github(finding: Finding) -> str:
    level = "error" if finding.severity == "error" else "warning"
    message = f"{finding.message}. Hint: {finding.hint}"
    return (
        f"::{level} file={_escape_property(finding.path)},line={finding.line},"
        f"title={_escape_property('migrail ' + finding.code)}::{_escape_data(message)}"
    )


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
