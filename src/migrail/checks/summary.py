"""The Markdown a GitHub job summary shows (`$GITHUB_STEP_SUMMARY`) beside the annotations."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from migrail.checks.findings import CheckResult


def render_summary(result: CheckResult, checked: str) -> str:
    errors = len(result.errors)
    warnings = len(result.findings) - errors
    apps = len(result.apps)
    head = f"## migrail check: {checked}\n\n"
    if not result.findings:
        return f"{head}No findings in {apps} app{'s' if apps != 1 else ''}.\n"
    lines = [
        f"{head}**{errors} error{'s' if errors != 1 else ''}, "
        f"{warnings} warning{'s' if warnings != 1 else ''}** in {apps} "
        f"app{'s' if apps != 1 else ''}.\n",
        "| code | file | message | hint |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {f.code} | `{_cell(f.path)}:{f.line}` | {_cell(f.message)} | {_cell(f.hint)} |"
        for f in result.findings
    ]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Table cells: a `|` would end the cell, a newline the row."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
