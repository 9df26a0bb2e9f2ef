"""Findings: what `migrail check` reports, each with a stable code.

The codes double as Django system check ids (`migrail.E001`) in the Django app.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]

FORKED_GRAPH = "E001"
MISSING_MAX_MIGRATION = "E002"
STALE_MAX_MIGRATION = "E003"
CONFLICT_MARKERS = "E004"
MALFORMED_MAX_MIGRATION = "E005"
DANGLING_DEPENDENCY = "E006"
DEPENDENCY_CYCLE = "E007"
SYNTAX_ERROR = "E008"
NO_MIGRATION_CLASS = "E009"
NOT_STATIC = "E010"
UNREADABLE = "E011"
# `check --base REV`: the tree as it will be once merged into REV's tip.
FORKED_WITH_BASE = "E012"
EDITED_PUBLISHED = "E013"
RENAMED_PUBLISHED = "E014"
DELETED_PUBLISHED = "E015"
SHARED_NUMBER = "W001"
LINEAR_MIGRATIONS_INSTALLED = "W002"

TITLES = {
    FORKED_GRAPH: "forked migration graph (several leaves in one app)",
    MISSING_MAX_MIGRATION: "max_migration.txt is missing",
    STALE_MAX_MIGRATION: "max_migration.txt does not name the latest migration",
    CONFLICT_MARKERS: "unresolved git conflict markers",
    MALFORMED_MAX_MIGRATION: "max_migration.txt is not one migration name",
    DANGLING_DEPENDENCY: "dependency on a migration that does not exist",
    DEPENDENCY_CYCLE: "dependency cycle",
    SYNTAX_ERROR: "migration does not parse",
    NO_MIGRATION_CLASS: "module in a migrations package has no Migration class",
    NOT_STATIC: "value migrail cannot read without running the code",
    UNREADABLE: "file cannot be read",
    FORKED_WITH_BASE: "forked migration graph once merged into the base",
    EDITED_PUBLISHED: "migration the base already has is edited",
    RENAMED_PUBLISHED: "migration the base already has is renamed",
    DELETED_PUBLISHED: "migration the base already has is deleted",
    SHARED_NUMBER: "two migrations of one app share a number prefix",
    LINEAR_MIGRATIONS_INSTALLED: "django-linear-migrations installed alongside migrail",
}


@dataclass(frozen=True)
class Finding:
    code: str
    app: str
    path: str
    line: int
    message: str
    hint: str

    @property
    def severity(self) -> Severity:
        return "warning" if self.code.startswith("W") else "error"

    def as_json(self) -> dict[str, object]:
        return {"code": self.code, "severity": self.severity, **asdict(self)}


@dataclass(frozen=True)
class AppSummary:
    label: str
    path: str
    leaves: tuple[str, ...]
    max_migration: str | None

    def as_json(self) -> dict[str, object]:
        return {"path": self.path, "leaves": list(self.leaves), "max_migration": self.max_migration}


@dataclass(frozen=True)
class MaxMigrationFix:
    app: str
    path: str
    content: bytes


@dataclass
class CheckResult:
    apps: dict[str, AppSummary]
    findings: list[Finding]
    fixes: list[MaxMigrationFix]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]
