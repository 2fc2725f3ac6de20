"""Match a new analysis's findings to the issues already known, in ordered passes (reference §3.6).

Pass order follows SonarQube's Tracker: the strictest key first, looser keys later, a block hash for
code that moved. Fixed issues may only come back through the strictest passes, so a similar finding
elsewhere does not "reopen" an unrelated old issue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ssot_pipelines.analysis.findings import Finding


@dataclass(frozen=True)
class KnownIssue:
    """An issue from the ledger, as the matcher needs it."""

    issue_id: str
    rule: str
    path: str
    line: int | None
    line_hash: str
    block_hash: str
    message_norm: str
    scope: str
    external_id: str | None
    fingerprints: dict[str, str]
    status: str
    updated_at: datetime


@dataclass(frozen=True)
class Match:
    finding: int  # index into the findings
    issue: int  # index into the known issues
    pass_name: str


@dataclass
class MatchResult:
    matches: list[Match]
    unmatched_findings: list[int]
    unmatched_issues: list[int]

    def passes(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for m in self.matches:
            counts[m.pass_name] += 1
        return dict(counts)


_Item = Finding | KnownIssue
KeyFn = Callable[[_Item], Hashable | None]
_CLOSED = frozenset({"fixed", "removed"})


def _key(*parts: str) -> KeyFn:
    def key(item: _Item) -> Hashable | None:
        values = tuple(getattr(item, p) for p in parts)
        # An empty hash or scope says nothing about identity; a pass keyed on it would pair strangers.
        if any(v in ("", None) for v, p in zip(values, parts, strict=True) if p != "message_norm"):
            return None
        return (item.rule, item.path, *values)

    return key


def _external(item: _Item) -> Hashable | None:
    return (item.rule, item.external_id) if item.external_id else None


# (name, key, whether a fixed issue may be reopened through it, whether the key must be unique both sides)
PASSES: tuple[tuple[str, KeyFn, bool, bool], ...] = (
    ("external id", _external, True, False),
    ("rule+line+line hash+message", _key("line", "line_hash", "message_norm"), True, False),
    ("rule+line+line hash", _key("line", "line_hash"), False, False),
    ("moved block", _key("block_hash"), False, True),
    ("rule+line hash+message", _key("line_hash", "message_norm"), False, False),
    ("rule+line+message", _key("line", "message_norm"), False, False),
    ("rule+line hash", _key("line_hash"), False, False),
    ("rule+scope+message", _key("scope", "message_norm"), False, False),
)


def match_findings(findings: Sequence[Finding], known: Sequence[KnownIssue]) -> MatchResult:
    """Pair each finding with at most one known issue and each issue with at most one finding."""
    free_findings = set(range(len(findings)))
    free_issues = set(range(len(known)))
    matches: list[Match] = []

    def run_pass(name: str, key: KeyFn, reopens: bool, unique: bool) -> None:
        by_key: dict[Hashable, list[int]] = defaultdict(list)
        for i in sorted(free_issues):
            issue = known[i]
            if issue.status in _CLOSED and not reopens:
                continue
            k = key(issue)
            if k is not None:
                by_key[k].append(i)
        if not by_key:
            return
        candidates: dict[Hashable, list[int]] = defaultdict(list)
        for f in sorted(free_findings):
            k = key(findings[f])
            if k is not None and k in by_key:
                candidates[k].append(f)
        for k, finding_ids in candidates.items():
            issue_ids = by_key[k]
            if unique and (len(issue_ids) != 1 or len(finding_ids) != 1):
                continue
            for f in finding_ids:
                if not issue_ids:
                    break
                chosen = _closest(findings[f], issue_ids, known)
                issue_ids.remove(chosen)
                free_findings.discard(f)
                free_issues.discard(chosen)
                matches.append(Match(f, chosen, name))

    _run_fingerprint_pass(findings, known, free_findings, free_issues, matches)
    for name, key, reopens, unique in PASSES:
        if not free_findings or not free_issues:
            break
        run_pass(name, key, reopens, unique)
    return MatchResult(matches, sorted(free_findings), sorted(free_issues))


def _closest(finding: Finding, issue_ids: list[int], known: Sequence[KnownIssue]) -> int:
    """Among equal keys, the issue nearest in line, then the most recently updated."""
    if len(issue_ids) == 1:
        return issue_ids[0]
    line = finding.line or 0
    return min(issue_ids, key=lambda i: (abs((known[i].line or 0) - line), -known[i].updated_at.timestamp()))


def _run_fingerprint_pass(
    findings: Sequence[Finding],
    known: Sequence[KnownIssue],
    free_findings: set[int],
    free_issues: set[int],
    matches: list[Match],
) -> None:
    """At least half of the shared SARIF partial fingerprints equal, same rule (SARIF SDK's rule)."""
    index: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for i in free_issues:
        issue = known[i]
        if issue.status in _CLOSED:
            continue
        for name, value in issue.fingerprints.items():
            if name.startswith("partial."):
                index[(issue.rule, name, value)].append(i)
    if not index:
        return
    for f in sorted(free_findings):
        finding = findings[f]
        votes: dict[int, int] = defaultdict(int)
        partial = {n: v for n, v in finding.fingerprints.items() if n.startswith("partial.")}
        for name, value in partial.items():
            for i in index.get((finding.rule, name, value), ()):
                if i in free_issues:
                    votes[i] += 1
        best = None
        for i, equal in sorted(votes.items(), key=lambda kv: -kv[1]):
            shared = sum(1 for n in partial if n in known[i].fingerprints)
            if shared and equal * 2 >= shared:
                best = i
                break
        if best is not None:
            free_findings.discard(f)
            free_issues.discard(best)
            matches.append(Match(f, best, "partial fingerprints"))
