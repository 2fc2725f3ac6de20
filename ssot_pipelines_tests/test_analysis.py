"""Static-analysis import: real linters, every report format, identity across analyses, bad reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ssot_pipelines.analysis.importers import ReportFormatError, parse_report, read_report
from ssot_pipelines.analysis.ingest import import_folder, import_report_file
from ssot_pipelines.analysis.runner import run_linter
from ssot_pipelines.analysis.store import record_report, rejected_report_count
from ssot_pipelines_tests.analysis_fixtures import GEOMETRY_V2, issues_by_id, write_codebase

DATA = Path(__file__).parent / "data" / "analysis"


def _lint_and_record(ledger: Any, root: Path, tool: str) -> dict[str, int]:
    files = ["shapes/__init__.py", "shapes/geometry.py", "shapes/units.py"]
    run = run_linter(tool, root, files)
    summary = record_report(ledger, run.report, repo_root=root, source=f"{tool} run", analyzed_paths=run.analyzed)
    ledger.commit()
    return summary.counts[tool]


@pytest.mark.parametrize("tool", ["ruff", "pylint"])
def test_moved_code_keeps_issue_identity_and_only_the_real_change_shows(ledger: Any, tmp_path: Path, tool: str) -> None:
    root = write_codebase(tmp_path / "repo")
    first = _lint_and_record(ledger, root, tool)
    assert first["new"] == 4
    before = issues_by_id(ledger, tool)

    (root / "shapes" / "geometry.py").write_text(GEOMETRY_V2)
    second = _lint_and_record(ledger, root, tool)
    after = issues_by_id(ledger, tool)

    assert (second["new"], second["fixed"], second["unchanged"], second["reopened"]) == (1, 1, 3, 0)
    fixed = [i for i in after.values() if i["status"] == "fixed"]
    new = [i for i in after.values() if i["id"] not in before]
    assert len(fixed) == 1 and "sys" in fixed[0]["message"]
    assert len(new) == 1 and "spare" in new[0]["message"] and new[0]["status"] == "open"
    moved = {before[i]["message"]: (before[i]["line"], after[i]["line"]) for i in before if i != fixed[0]["id"]}
    assert after[fixed[0]["id"]]["fixed_at"] is not None
    assert all(after[i]["status"] == "open" for i in before if i != fixed[0]["id"])
    assert sorted(moved.values()) == [(2, 2), (8, 13), (14, 7)], "same issues, new lines"


def test_a_fixed_issue_that_comes_back_is_reopened_not_duplicated(ledger: Any, tmp_path: Path) -> None:
    root = write_codebase(tmp_path / "repo")
    _lint_and_record(ledger, root, "ruff")
    geometry = root / "shapes" / "geometry.py"
    original = geometry.read_text()
    geometry.write_text(original.replace("import sys\n", "import sys  # noqa: F401\n"))
    assert _lint_and_record(ledger, root, "ruff")["fixed"] == 1
    geometry.write_text(original)
    again = _lint_and_record(ledger, root, "ruff")
    assert (again["reopened"], again["new"]) == (1, 0)
    issues = issues_by_id(ledger, "ruff")
    assert len(issues) == 4
    reopened = [i for i in issues.values() if i["status"] == "reopened"]
    assert len(reopened) == 1 and reopened[0]["reopen_count"] == 1 and reopened[0]["fixed_at"] is None


def test_a_file_not_analysed_in_a_run_keeps_its_issues_open(ledger: Any, tmp_path: Path) -> None:
    root = write_codebase(tmp_path / "repo")
    (root / "shapes" / "units.py").write_text("import json\n")
    run = run_linter("ruff", root, ["shapes/geometry.py", "shapes/units.py"])
    record_report(ledger, run.report, repo_root=root, source="full", analyzed_paths=run.analyzed)
    partial = run_linter("ruff", root, ["shapes/units.py"])
    summary = record_report(ledger, partial.report, repo_root=root, source="partial", analyzed_paths=partial.analyzed)
    ledger.commit()
    assert summary.counts["ruff"] == {"new": 0, "unchanged": 1, "reopened": 0, "fixed": 0, "removed": 0}
    assert all(i["status"] == "open" for i in issues_by_id(ledger, "ruff").values())


def test_a_deleted_file_closes_its_issues_as_removed(ledger: Any, tmp_path: Path) -> None:
    root = write_codebase(tmp_path / "repo")
    _lint_and_record(ledger, root, "ruff")
    (root / "shapes" / "geometry.py").unlink()
    run = run_linter("ruff", root, ["shapes/__init__.py", "shapes/units.py"])
    summary = record_report(ledger, run.report, repo_root=root, source="after delete", whole_repository=True)
    ledger.commit()
    assert summary.counts["ruff"]["removed"] == 4
    assert {i["status"] for i in issues_by_id(ledger, "ruff").values()} == {"removed"}


SAMPLES: dict[str, tuple[str, int, dict[str, Any]]] = {
    # file: (format, findings, one finding's expected fields)
    "ruff.json": ("ruff json", 4, {"rule_id": "S602", "severity": "critical", "line": 23, "col": 12}),
    "ruff.sarif": ("SARIF 2.1.0", 4, {"rule_id": "F401", "tool": "ruff", "line": 2, "col": 8}),
    "pylint_json2.json": (
        "pylint json2",
        10,
        {"rule_id": "unused-variable", "line": 8, "col": 5, "scope": "add", "severity": "minor"},
    ),
    "pylint_json.json": ("pylint json", 10, {"rule_id": "unused-import", "line": 2, "col": 1}),
    "mypy.jsonl": (
        "mypy -O json (one JSON object per line)",
        2,
        {"rule_id": "call-overload", "line": 22, "col": 5, "severity": "major"},
    ),
    "mypy_with_text_lines.txt": (
        "mypy -O json (one JSON object per line)",
        2,
        {"rule_id": "syntax", "path": "pkg/broken.py", "severity": "blocker"},
    ),
    "eslint.json": ("eslint json", 4, {"rule_id": "no-undef", "tool_status": "accepted", "line": 4}),
    "codeql.sarif": (
        "SARIF 2.1.0",
        3,
        {
            "rule_id": "py/unused-import",
            "message": "Import of 'os' is not used.",
            "path": "/repo/app/util.py",
            "severity": "info",
        },
    ),
    "sonarqube_legacy.json": (
        "SonarQube api/issues/search response",
        2,
        {
            "rule_id": "java:S2095",
            "severity": "blocker",
            "line": 412,
            "path": "src/main/java/com/github/kevinsawicki/http/HttpRequest.java",
        },
    ),
    "sonarqube_current.json": (
        "SonarQube api/issues/search response",
        2,
        {
            "rule_id": "pythonsecurity:S3649",
            "severity": "critical",
            "external_id": "AYxk-2P1aBcDeFgHiJkL",
            "path": "src/app/auth.py",
        },
    ),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_importer_reads_a_real_sample_of_its_format(name: str) -> None:
    report_format, count, expected = SAMPLES[name]
    report = read_report(DATA / name)
    assert report.report_format == report_format
    assert len(report.findings) == count
    candidates = [f for f in report.findings if f.rule_id == expected["rule_id"]]
    assert any(all(getattr(f, k) == v for k, v in expected.items()) for f in candidates), candidates


def test_sarif_details_security_severity_suppressions_and_mypy_hints() -> None:
    codeql = {f.rule_id: f for f in read_report(DATA / "codeql.sarif").findings}
    assert codeql["py/sql-injection"].severity == "critical"  # security-severity 8.8 overrides "error"
    assert codeql["py/sql-injection"].scope == "app.db.find_user"
    assert codeql["py/sql-injection"].external_id == "7f1c1a4e-5a2b-4f0e-9d44-2a3c1b9e8f01"
    assert codeql["py/empty-except"].tool_status == "accepted"
    mypy = read_report(DATA / "mypy.jsonl").findings
    assert mypy[1].hint is not None and "def foo(x: int) -> None" in mypy[1].hint
    sonar = {f.rule_id: f for f in read_report(DATA / "sonarqube_current.json").findings}
    assert sonar["python:S1192"].tool_status == "false_positive"
    assert sonar["python:S1192"].severity == "minor"  # impacts win over the legacy severity


def test_sonar_issue_keys_carry_identity_and_closed_ones_are_fixed(ledger: Any, tmp_path: Path) -> None:
    data = json.loads((DATA / "sonarqube_current.json").read_text())
    first = parse_report(json.dumps(data), "sonar-1.json")
    record_report(ledger, first, repo_root=None, source="sonar-1.json")
    data["issues"][0]["line"] = 90  # the code moved; Sonar's key stays
    data["issues"][0]["textRange"]["startLine"] = 90
    data["issues"][1]["status"] = "CLOSED"
    data["issues"][1]["resolution"] = "FIXED"
    summary = record_report(
        ledger, parse_report(json.dumps(data), "sonar-2.json"), repo_root=None, source="sonar-2.json"
    )
    ledger.commit()
    assert summary.counts["sonarqube"] == {"new": 0, "unchanged": 1, "reopened": 0, "fixed": 1, "removed": 0}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_truncated_report_is_a_clear_error_and_changes_nothing(ledger: Any, tmp_path: Path, name: str) -> None:
    root = write_codebase(tmp_path / "repo")
    _lint_and_record(ledger, root, "ruff")
    before = issues_by_id(ledger)
    text = (DATA / name).read_text()
    broken = tmp_path / name
    broken.write_text(text[: int(len(text) * 0.6)])
    with pytest.raises(ReportFormatError) as caught:
        import_report_file(ledger, broken, repo_root=root)
    message = str(caught.value)
    assert str(broken) in message and "Expected" in message and "Nothing from this report was recorded" in message
    assert issues_by_id(ledger) == before
    assert rejected_report_count(ledger) == 1


@pytest.mark.parametrize(
    "content, problem",
    [
        ("", "the file is empty"),
        ("[]", "empty array"),
        (
            '{"messages": [{"type": "warning", "symbol": "x", "message": "m", "path": "a.py"}], "statistics": {}}',
            "has no 'line'",
        ),
        (
            '[{"filePath": "/a.js", "messages": [{"ruleId": "semi", "severity": "high", "message": "m"}]}]',
            "'severity' is str, not int",
        ),
        ('{"version": "2.0.0", "runs": []}', "SARIF version '2.0.0'"),
        ('{"hello": 1}', "is no known report"),
    ],
)
def test_malformed_reports_name_the_file_and_the_problem(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "report.json"
    path.write_text(content)
    with pytest.raises(ReportFormatError, match=problem) as caught:
        read_report(path)
    assert str(path) in str(caught.value)


def test_a_report_whose_later_finding_is_bad_records_none_of_it(ledger: Any, tmp_path: Path) -> None:
    items = json.loads((DATA / "ruff.json").read_text())
    del items[-1]["location"]
    path = tmp_path / "ruff.json"
    path.write_text(json.dumps(items))
    with pytest.raises(ReportFormatError, match="finding #4 has no 'location'"):
        import_report_file(ledger, path, repo_root=None)
    assert issues_by_id(ledger) == {}


def test_reports_folder_imports_new_reports_once_and_counts_rejected_ones(ledger: Any, tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    shutil.copy(DATA / "eslint.json", folder / "eslint.json")
    shutil.copy(DATA / "sonarqube_legacy.json", folder / "sonar.json")
    (folder / "broken.sarif").write_text('{"version": "2.1.0", "runs": [')
    first = import_folder(ledger, folder, repo_root=Path("/repo"))
    assert [p.name for p, _ in first.imported] == ["eslint.json", "sonar.json"]
    assert [p.name for p, _ in first.rejected] == ["broken.sarif"]
    again = import_folder(ledger, folder, repo_root=Path("/repo"))
    assert again.imported == [] and again.rejected == []
    issues = issues_by_id(ledger)
    assert {i["path"] for i in issues.values() if i["tool"] == "eslint"} == {"web/src/a.js", "web/src/broken.js"}
    assert rejected_report_count(ledger) == 1


def _ssot(*argv: str) -> int:
    """The `ssot` command itself, as a user runs it."""
    from ssot_pipelines.cli import main

    return main(list(argv))


def test_ssot_analyze_run_records_the_linters_findings_and_a_rerun_changes_nothing(
    ledger: Any, ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POSTGRES_URL", ledger_url)
    root = write_codebase(tmp_path / "repo")
    assert _ssot("analyze", "run", "--repo-root", str(root), "--tools", "ruff,pylint") == 0
    first = capsys.readouterr().out
    assert "ruff on 3 files [ruff]: new 4" in first and "pylint on 3 files [pylint]: new 4" in first
    assert _ssot("analyze", "run", "--repo-root", str(root), "--tools", "ruff,pylint") == 0
    again = capsys.readouterr().out
    assert "new 0, unchanged 4, reopened 0, fixed 0" in again
    assert {i["repo"] for i in issues_by_id(ledger).values()} == {"repo"}


def test_ssot_analyze_import_names_a_bad_report_and_exits_non_zero(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POSTGRES_URL", ledger_url)
    bad = tmp_path / "bad.json"
    bad.write_text('[{"filePath": "/a.js", "messages": [')
    assert _ssot("analyze", "import", str(DATA / "eslint.json"), str(bad), "--repo-root", "/repo") == 1
    captured = capsys.readouterr()
    assert "eslint json" in captured.out or "[eslint]" in captured.out
    assert str(bad) in captured.err and "truncated" in captured.err


def test_reports_folder_sensor_imports_and_requests_a_tech_debt_run(
    ledger: Any, ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    from ssot_pipelines.analysis.sensors import analysis_report_sensor
    from ssot_pipelines.resources.stores import PostgresResource

    monkeypatch.setenv("POSTGRES_URL", ledger_url)
    folder = tmp_path / "reports"
    folder.mkdir()
    monkeypatch.setenv("SSOT_REPORTS_DIR", str(folder))
    monkeypatch.setenv("SSOT_ANALYSIS_REPO_ROOT", "/repo")
    shutil.copy(DATA / "codeql.sarif", folder / "codeql.sarif")
    resources = {"postgres": PostgresResource(url=ledger_url)}
    with dg.build_sensor_context(resources=resources) as context:
        first = analysis_report_sensor(context)
    assert len(first.run_requests) == 1 and first.skip_reason is None
    assert {i["path"] for i in issues_by_id(ledger, "codeql").values()} == {"app/db.py", "app/util.py"}
    with dg.build_sensor_context(resources=resources) as context:
        again = analysis_report_sensor(context)
    assert not again.run_requests and again.skip_reason is not None


def test_one_page_of_a_larger_sonar_result_fixes_nothing(ledger: Any) -> None:
    data = json.loads((DATA / "sonarqube_current.json").read_text())
    record_report(ledger, parse_report(json.dumps(data), "all.json"), repo_root=None, source="all.json")
    page = {**data, "paging": {"pageIndex": 1, "pageSize": 1, "total": 2}, "issues": data["issues"][1:]}
    report = parse_report(json.dumps(page), "page-1.json")
    assert report.partial and "import every page" in report.notes[0]
    summary = record_report(ledger, report, repo_root=None, source="page-1.json")
    ledger.commit()
    assert summary.counts["sonarqube"]["fixed"] == 0 and summary.counts["sonarqube"]["unchanged"] == 1


def test_issues_follow_a_file_the_catalog_saw_renamed(ledger: Any, tmp_path: Path) -> None:
    root = write_codebase(tmp_path / "repo")
    _lint_and_record(ledger, root, "ruff")
    before = issues_by_id(ledger, "ruff")
    (root / "shapes" / "geometry.py").rename(root / "shapes" / "plane.py")
    ledger.execute(  # what the File Catalog records when it recognises the rename
        "INSERT INTO catalog_renames (repo, old_key, new_key, sha, detected_by, page_kept)"
        " VALUES ('repo', 'repo/shapes/geometry.py', 'repo/shapes/plane.py', 'x', 'same content', true)"
    )
    run = run_linter("ruff", root, ["shapes/__init__.py", "shapes/plane.py", "shapes/units.py"])
    summary = record_report(ledger, run.report, repo_root=root, source="after rename", analyzed_paths=run.analyzed)
    ledger.commit()
    assert summary.counts["ruff"] == {"new": 0, "unchanged": 4, "reopened": 0, "fixed": 0, "removed": 0}
    after = issues_by_id(ledger, "ruff")
    assert set(after) == set(before) and {i["path"] for i in after.values()} == {"shapes/plane.py"}
