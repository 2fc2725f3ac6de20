"""Analysis of untrusted repositories, and importers that say what the tools meant (issue 9 §4, §6).

Real ruff and pylint run on real files; ESLint's output is a real capture (ESLint 9.39.5, see
data/analysis/eslint_project), and is regenerated live when ``SSOT_TEST_ESLINT`` names an eslint binary.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ssot_pipelines.analysis.importers import parse_report, read_report
from ssot_pipelines.analysis.markers import marker_findings
from ssot_pipelines.analysis.runner import repository_files, run_linter
from ssot_pipelines.analysis.store import record_report
from ssot_pipelines.ledger import connect

DATA = Path(__file__).parent / "data" / "analysis"
HOOK = "--init-hook=open('PWNED','w').close()#.py"  # pylint runs an init-hook's Python before linting
OPTION_LIKE = [HOOK, "-E.py", "--fix.py"]  # -E: errors only (pylint); --fix: rewrite files (ruff)


def _git_repo(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "hostile"],
        check=True,
    )
    return root


def _ssot(*argv: str, ledger_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ssot_pipelines.cli", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "POSTGRES_URL": ledger_url},
        timeout=300,
    )


def _issues(ledger_url: str) -> list[dict[str, Any]]:
    with connect(ledger_url) as conn:
        return conn.execute("SELECT tool, rule, path, severity FROM analysis_issues ORDER BY 1, 3, 2").fetchall()


def test_option_like_file_names_run_no_code_under_real_ruff_and_pylint(tmp_path: Path, ledger_url: str) -> None:
    files = {name: "import os\n" for name in OPTION_LIKE}
    root = _git_repo(tmp_path / "repo", {"ok.py": "import sys\n", **files})
    assert sorted(repository_files(root, "*.py")) == sorted(["ok.py", *OPTION_LIKE])

    done = _ssot("analyze", "run", "--repo-root", str(root), "--tools", "ruff,pylint", ledger_url=ledger_url)

    assert done.returncode == 0, done.stderr
    assert not (root / "PWNED").exists(), "a file name ran code"
    assert (root / "--fix.py").read_text() == "import os\n", "a file name became ruff's --fix"
    issues = _issues(ledger_url)
    for tool, rule in (("ruff", "ruff:F401"), ("pylint", "pylint:unused-import")):
        flagged = {i["path"] for i in issues if i["tool"] == tool and i["rule"] == rule}
        assert flagged == {"ok.py", *OPTION_LIKE}, f"{tool} analysed every file, as a file"


def test_isolated_config_keeps_the_repositorys_linter_hooks_out(tmp_path: Path, ledger_url: str) -> None:
    config = "[tool.pylint.main]\ninit-hook = \"open('HOOKED', 'w').close()\"\n[tool.ruff.lint]\nselect = [\"S\"]\n"
    root = _git_repo(
        tmp_path / "repo", {"pyproject.toml": config, "app.py": "import os\n\n\ndef run(cmd):\n    return eval(cmd)\n"}
    )

    isolated = _ssot(
        "analyze", "run", "--repo-root", str(root), "--tools", "ruff,pylint", "--isolated-config", ledger_url=ledger_url
    )
    assert isolated.returncode == 0, isolated.stderr
    assert not (root / "HOOKED").exists(), "the repository's pylint init-hook ran"
    rules = {i["rule"] for i in _issues(ledger_url) if i["tool"] == "ruff"}
    assert "ruff:F401" in rules and "ruff:S307" not in rules, "ruff used its defaults, not the repo's select"

    # Without the flag the repository's configuration is honoured, hooks included: what the README warns of.
    trusting = _ssot("analyze", "run", "--repo-root", str(root), "--tools", "ruff,pylint", ledger_url=ledger_url)
    assert trusting.returncode == 0, trusting.stderr
    assert (root / "HOOKED").exists()
    assert "ruff:S307" in {i["rule"] for i in _issues(ledger_url) if i["tool"] == "ruff"}


_FAMILIES = """import subprocess


class Name(str):
    pass


def run(cmd, flag, other, obj):
    if flag:
        if other:
            return obj._secret
    password = "hunter2"
    subprocess.call("ls " + cmd, shell=True)
    return eval(cmd), password
"""


def test_ruff_severity_matches_whole_rule_families_on_real_ruff_output(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "ruff.toml").write_text('[lint]\nselect = ["S", "SIM", "SLF", "SLOT", "F", "FBT"]\n', encoding="utf-8")
    (root / "app.py").write_text(_FAMILIES + "import os\n", encoding="utf-8")

    run = run_linter("ruff", root, ["app.py"])

    by_family: dict[str, set[str]] = {}
    for finding in run.report.findings:
        family = finding.rule_id.rstrip("0123456789")
        by_family.setdefault(family, set()).add(finding.severity)
    assert {"S", "SIM", "SLF", "SLOT", "F"} <= set(by_family), by_family  # real output holds every family
    assert by_family["S"] == {"critical"}
    assert by_family["SIM"] == by_family["SLF"] == by_family["SLOT"] == {"minor"}, "not bandit, not critical"
    assert by_family["F"] == {"major"}


def test_ruff_families_are_compared_whole() -> None:
    from ssot_pipelines.analysis.importers.ruff import severity_for

    assert [severity_for(c) for c in ("S101", "S608", "SIM108", "SLF001", "SLOT000")] == [
        "critical",
        "critical",
        "minor",
        "minor",
        "minor",
    ]
    assert [
        severity_for(c) for c in ("F401", "FBT001", "FURB118", "FIX002", "E902", "E501", "PLE0101", "invalid-syntax")
    ] == ["major", "minor", "minor", "minor", "major", "minor", "major", "blocker"]


def _eslint_findings(report: Any) -> dict[tuple[str, int | None], list[Any]]:
    by_line: dict[tuple[str, int | None], list[Any]] = {}
    for f in report.findings:
        by_line.setdefault((Path(f.path).name, f.line), []).append(f)
    return by_line


def _rules(findings: list[Any]) -> list[tuple[str, str, str | None]]:
    return sorted((f.rule_id, f.severity, f.native_severity) for f in findings)


def test_eslint_unused_directives_are_not_parse_errors_on_real_eslint_output() -> None:
    findings = _eslint_findings(read_report(DATA / "eslint9_unused_directives.json"))
    assert _rules(findings[("app.js", 1)]) == [("unused-disable-directive", "minor", "warn")]
    assert _rules(findings[("app.js", 4)]) == [
        ("eqeqeq", "major", "error"),
        ("unused-disable-directive", "minor", "warn"),
    ]
    assert _rules(findings[("broken.js", 2)]) == [("parse-error", "blocker", "fatal")]
    every = [f.rule_id for group in findings.values() for f in group]
    assert every.count("parse-error") == 1, "only the fatal message is a parse error"


@pytest.mark.skipif(not os.environ.get("SSOT_TEST_ESLINT"), reason="SSOT_TEST_ESLINT names no eslint binary")
def test_eslint_live_run_maps_the_same_way(tmp_path: Path) -> None:
    project = tmp_path / "eslint_project"
    shutil.copytree(DATA / "eslint_project", project)
    (project / "package.json").write_text('{"type": "module"}\n', encoding="utf-8")
    done = subprocess.run(
        [os.environ["SSOT_TEST_ESLINT"], "-f", "json", "app.js", "broken.js"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    live = _eslint_findings(parse_report(done.stdout, "eslint live"))
    captured = _eslint_findings(read_report(DATA / "eslint9_unused_directives.json"))
    assert {k: _rules(v) for k, v in live.items()} == {k: _rules(v) for k, v in captured.items()}


def test_pylint_real_output_maps_types_to_the_documented_severities(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "app.py").write_text(
        '"""Doc."""\nimport os\n\n\ndef f(x):\n    return undefined_name + x\n', encoding="utf-8"
    )
    findings = {f.rule_id: f for f in run_linter("pylint", root, ["app.py"], isolated_config=True).report.findings}
    assert (findings["undefined-variable"].native_severity, findings["undefined-variable"].severity) == (
        "error",
        "major",
    )
    assert (findings["unused-import"].native_severity, findings["unused-import"].severity) == ("warning", "minor")
    assert findings["missing-function-docstring"].severity == "info"


# -- markers ---------------------------------------------------------------------------------------------

_MARKED = '''"""A module."""


def area(w, h):
    # TODO: support negative sizes
    return w * h


def volume(w, h, d):
    return area(w, h) * d  # FIXME(ana) rounding


TODO_LIST = ["not a marker"]
HELP = "# TODO: in a string, not a comment"
'''


def _markers(ledger: Any, root: Path) -> dict[str, int]:
    report = marker_findings(root, repository_files(root, tracked_only=True))
    summary = record_report(
        ledger, report, repo_root=root, source="markers", analyzed_paths=sorted(report.analyzed_paths)
    )
    ledger.commit()
    return summary.counts["markers"]


def test_marker_comments_become_findings_that_keep_their_identity_when_code_moves(ledger: Any, tmp_path: Path) -> None:
    root = _git_repo(
        tmp_path / "repo", {"shapes.py": _MARKED, "notes.md": "<!-- HACK: rewrite me -->\n", "logo.bin": "TODO\0binary"}
    )
    assert _markers(ledger, root) == {"new": 3, "unchanged": 0, "reopened": 0, "fixed": 0, "removed": 0}
    rows = ledger.execute(
        "SELECT issue_id, rule, path, line, message, severity FROM analysis_issues ORDER BY path, line"
    ).fetchall()
    assert [(r["rule"], r["path"], r["line"], r["severity"]) for r in rows] == [
        ("markers:HACK", "notes.md", 1, "minor"),
        ("markers:TODO", "shapes.py", 5, "info"),
        ("markers:FIXME", "shapes.py", 10, "minor"),
    ]
    assert rows[1]["message"] == "TODO: support negative sizes"
    ids = {r["rule"]: r["issue_id"] for r in rows}

    # Functions swapped and lines inserted above: the same two markers, same issues, nothing new.
    head, first, second = _MARKED.split("\n\n\n")[0], *_MARKED.split("\n\n\n")[1:3]
    moved = head + "\n\nimport math\n\n\n" + second + "\n\n\n" + first + "\n"
    (root / "shapes.py").write_text(moved, encoding="utf-8")
    subprocess.run(
        ["git", "-C", str(root), "commit", "-qam", "move"],
        check=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
        },
    )
    assert _markers(ledger, root) == {"new": 0, "unchanged": 3, "reopened": 0, "fixed": 0, "removed": 0}
    after = {
        r["rule"]: (r["issue_id"], r["line"])
        for r in ledger.execute("SELECT issue_id, rule, line FROM analysis_issues").fetchall()
    }
    assert {rule: issue for rule, (issue, _) in after.items()} == ids
    assert after["markers:TODO"][1] != 5, "the issue moved with its comment"

    # The comment is resolved: its issue is fixed, the others stay open.
    (root / "notes.md").write_text("rewritten\n", encoding="utf-8")
    assert _markers(ledger, root)["fixed"] == 1


def test_ssot_analyze_run_includes_the_markers_analyzer(tmp_path: Path, ledger_url: str) -> None:
    root = _git_repo(tmp_path / "repo", {"a.py": "x = 1  # XXX: magic number\n"})
    done = _ssot("analyze", "run", "--repo-root", str(root), "--tools", "markers", ledger_url=ledger_url)
    assert done.returncode == 0, done.stderr
    assert "markers on 1 files [markers]: new 1," in done.stdout
    assert [(i["tool"], i["rule"]) for i in _issues(ledger_url)] == [("markers", "markers:XXX")]
    bad = _ssot("analyze", "run", "--repo-root", str(root), "--tools", "markers,eslintt", ledger_url=ledger_url)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "--tools names ['eslintt']" in bad.stderr


def test_ssot_analyze_import_of_a_missing_file_is_one_line(tmp_path: Path, ledger_url: str) -> None:
    done = _ssot("analyze", "import", str(tmp_path / "nope.json"), ledger_url=ledger_url)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"cannot import analysis report {tmp_path / 'nope.json'}: no such file; check the path"
    ]
    assert json.dumps(_issues(ledger_url)) == "[]"


def test_a_report_with_text_postgresql_cannot_store_is_kept_readable(tmp_path: Path, ledger_url: str) -> None:
    report = tmp_path / "ruff.json"
    report.write_text(
        '[{"code": "F401", "filename": "/r/a.py", "location": {"column": 1, "row": 1}, '
        '"message": "bad \\ud800 and \\u0000 nul", "severity": "error"}]',
        encoding="utf-8",
    )
    done = _ssot("analyze", "import", str(report), ledger_url=ledger_url)
    assert done.returncode == 0, done.stderr
    with connect(ledger_url) as conn:
        messages = [r["message"] for r in conn.execute("SELECT message FROM analysis_issues").fetchall()]
    assert messages == ["bad \\ud800 and \\x00 nul"]

    huge = tmp_path / "huge.json"
    huge.write_text(
        '[{"code": "F401", "filename": "/r/b.py", "location": {"column": 1, "row": 99999999999}, '
        '"message": "far", "severity": "error"}]',
        encoding="utf-8",
    )
    refused = _ssot("analyze", "import", str(huge), ledger_url=ledger_url)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "out of range" in refused.stderr
    assert len(_issues(ledger_url)) == 1, "nothing from the refused report was recorded"


def test_a_report_naming_a_binary_file_is_imported_with_readable_context(tmp_path: Path, ledger_url: str) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "blob.bin").write_bytes(b"\x00\x01header\n\xff\xfe\x00 payload\nlast\n")
    report = tmp_path / "ruff.json"
    report.write_text(
        json.dumps(
            [
                {
                    "code": "E902",
                    "filename": str(root / "blob.bin"),
                    "message": "binary",
                    "location": {"column": 1, "row": 2},
                    "severity": "error",
                }
            ]
        ),
        encoding="utf-8",
    )
    done = _ssot("analyze", "import", str(report), "--repo-root", str(root), ledger_url=ledger_url)
    assert done.returncode == 0, done.stderr
    with connect(ledger_url) as conn:
        contexts = [r["context"] for r in conn.execute("SELECT context FROM analysis_issues").fetchall()]
    assert len(contexts) == 1 and "\\x00 payload" in contexts[0] and "\0" not in contexts[0]


def test_mypy_real_output_maps_errors_notes_and_syntax_errors(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "typed.py").write_text("def f(x: int) -> str:\n    return x\n\n\nreveal_type(f)\n", encoding="utf-8")
    (root / "broken.py").write_text("def g(:\n", encoding="utf-8")
    typed = run_linter("mypy", root, ["typed.py"], isolated_config=True).report.findings
    assert [(f.rule_id, f.severity, f.native_severity) for f in typed] == [("return-value", "major", "error")], (
        "the reveal_type note is folded, not a finding"
    )
    broken = run_linter("mypy", root, ["broken.py"], isolated_config=True).report.findings
    assert broken and {(f.rule_id, f.severity) for f in broken} == {("syntax", "blocker")}


def test_a_report_nested_past_the_json_readers_depth_is_a_clear_error(tmp_path: Path) -> None:
    from ssot_pipelines.analysis.importers import ReportFormatError

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(ReportFormatError, match="nests too deeply"):
        read_report(deep)
