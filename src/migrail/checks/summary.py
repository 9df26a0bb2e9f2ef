"""The Markdown a GitHub job summary shows (`$GITHUB_STEP_SUMMARY`) beside the annotations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from migrail.checks.report import apps_checked, tally

if TYPE_CHECKING:
    from migrail.checks.findings import CheckResult


def render_summary(result: CheckResult, checked: str) -> str:
    head = f"## migrail check: {checked}\n\n"
    if not result.findings:
        return f"{head}No findings {apps_checked(result)}.\n"
    lines = [
        f"{head}**{tally(result)}** {apps_checked(result)}.\n",
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
