"""What an analysis does to each known issue: open, still open, fixed, reopened or removed.

A file the analysis did not look at keeps its issues as they were (Qodana's ``wasChecked``): a partial
scan must not "fix" everything outside its scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ssot_pipelines.analysis.findings import Finding
from ssot_pipelines.analysis.matching import KnownIssue, match_findings


@dataclass(frozen=True)
class AnalysisScope:
    """The files an analysis looked at; ``paths=None`` means the whole repository."""

    paths: frozenset[str] | None

    def covers(self, path: str) -> bool:
        return self.paths is None or path in self.paths

    @classmethod
    def whole_repository(cls) -> AnalysisScope:
        return cls(None)


@dataclass
class LifecyclePlan:
    """The transitions one analysis causes; applied by the store in one transaction."""

    new: list[tuple[str, Finding]] = field(default_factory=list)
    still_open: list[tuple[str, Finding, str]] = field(default_factory=list)  # (issue id, finding, pass)
    reopened: list[tuple[str, Finding, str]] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "new": len(self.new),
            "unchanged": len(self.still_open),
            "reopened": len(self.reopened),
            "fixed": len(self.fixed),
            "removed": len(self.removed),
        }


def plan_lifecycle(
    findings: Sequence[Finding], known: Sequence[KnownIssue], scope: AnalysisScope, file_exists: Callable[[str], bool]
) -> LifecyclePlan:
    """Match ``findings`` to ``known`` issues and decide each one's next status."""
    result = match_findings(findings, known)
    plan = LifecyclePlan()
    for m in result.matches:
        issue = known[m.issue]
        target = plan.reopened if issue.status in ("fixed", "removed") else plan.still_open
        target.append((issue.issue_id, findings[m.finding], m.pass_name))
    for f in result.unmatched_findings:
        plan.new.append((str(uuid.uuid4()), findings[f]))
    for i in result.unmatched_issues:
        issue = known[i]
        if issue.status in ("fixed", "removed"):
            continue
        if not scope.covers(issue.path):
            continue
        if file_exists(issue.path):
            plan.fixed.append(issue.issue_id)
        else:
            plan.removed.append(issue.issue_id)
    return plan
