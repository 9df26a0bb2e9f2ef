"""SARIF 2.1.0, what GitHub code scanning (and other review tools) read.

One run; every code is a rule (`tool.driver.rules`, in code order, so `ruleIndex` is
stable), every finding a result with its rule, level, repository-relative file and line.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING
from urllib.parse import quote

from migrail import __version__
from migrail.checks.findings import TITLES

if TYPE_CHECKING:
    from migrail.checks.findings import CheckResult, Finding

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/migrail/migrail/blob/main/docs/commands.md#codes"


def render_sarif(result: CheckResult, failure: str | None = None) -> str:
    """The report; with `failure` (the check could not run), no results and an invocation
    that says why, so a later upload step still reads a valid file."""
    rules = sorted(TITLES)
    index = {code: i for i, code in enumerate(rules)}
    run: dict[str, object] = {
        "tool": {
            "driver": {
                "name": "migrail",
                "version": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [_rule(code) for code in rules],
            }
        },
        "columnKind": "unicodeCodePoints",
        "results": [_result(f, index[f.code]) for f in result.findings],
    }
    if failure is not None:
        notification = {"level": "error", "message": {"text": failure}}
        run["invocations"] = [
            {"executionSuccessful": False, "toolExecutionNotifications": [notification]}
        ]
    document = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(document, indent=2)


def _rule(code: str) -> dict[str, object]:
    return {
        "id": code,
        "name": _rule_name(TITLES[code]),
        "shortDescription": {"text": TITLES[code]},
        "helpUri": INFORMATION_URI,
        "defaultConfiguration": {"level": "warning" if code.startswith("W") else "error"},
    }


def _rule_name(title: str) -> str:
    """`forked migration graph (…)` → `ForkedMigrationGraph`: SARIF's identifier-like name."""
    words = title.split(" (", maxsplit=1)[0].replace(".", " ").replace("_", " ").split()
    return "".join(word[:1].upper() + word[1:] for word in words if word.isalnum())


def _result(finding: Finding, rule_index: int) -> dict[str, object]:
    return {
        "ruleId": finding.code,
        "ruleIndex": rule_index,
        "level": finding.severity,
        "message": {"text": f"{finding.message}. Hint: {finding.hint}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {
                        "uri": quote(finding.path or ".", safe="/"),
                        "uriBaseId": "%SRCROOT%",
                    },
                    "region": {"startLine": max(finding.line, 1)},
                }
            }
        ],
        "partialFingerprints": {"migrailFinding/v1": fingerprint(finding)},
    }


def fingerprint(finding: Finding) -> str:
    """Stable across runs and line moves: the code, the file and what the message says."""
    text = f"{finding.code}\0{finding.path}\0{finding.message}"
    return hashlib.sha256(text.encode()).hexdigest()
