"""GitLab Code Quality JSON (the `codequality` report a merge request shows)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from migrail.checks.sarif import fingerprint

if TYPE_CHECKING:
    from migrail.checks.findings import CheckResult

SEVERITIES = {"error": "major", "warning": "minor"}


def render_gitlab(result: CheckResult) -> str:
    issues = []
    seen: dict[str, int] = {}
    for finding in result.findings:
        key = fingerprint(finding)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:  # the same words twice in one file: still one fingerprint each
            key = f"{key[:-8]}{seen[key]:08x}"
        issues.append(
            {
                "type": "issue",
                "description": f"{finding.code} {finding.message}. Hint: {finding.hint}",
                "check_name": finding.code,
                "fingerprint": key,
                "severity": SEVERITIES[finding.severity],
                "location": {"path": finding.path, "lines": {"begin": max(finding.line, 1)}},
            }
        )
    return json.dumps(issues, indent=2)
