"""Drift scoring: order-insensitive signals, baselines, cached embeddings, thresholds, tasks and alerts."""

from __future__ import annotations

import difflib
import subprocess
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from ssot_pipelines.catalog.config import RepoRoot
from ssot_pipelines.drift.alerts import check_drift, notify_critical_drift
from ssot_pipelines.drift.assess import accept_current_state, assess_drift
from ssot_pipelines.drift.records import drift_board_frame, latest_scores
from ssot_pipelines.drift.score import DriftThresholds
from ssot_pipelines.drift.signals import content_change, structural_change, structure_of
from ssot_pipelines.drift.tasks import drift_problems, reconcile_tasks
from ssot_pipelines.drift.workspace import DriftWorkspace, cached_embedder, open_workspace
from ssot_pipelines.resources.notifier import NotifierResource
from ssot_pipelines.resources.stores import PostgresResource
from ssot_pipelines.vectors.cache import CachedEmbedder
from ssot_pipelines.vectors.hashing import HashingEmbedder

V1 = '''"""Arithmetic helpers."""


def add(a, b):
    """Add two numbers."""
    return a + b


def sub(a, b):
    """Subtract b from a."""
    return a - b
'''
# v2: the same functions swapped, plus two imports (reference §4.3).
V2 = '''"""Arithmetic helpers."""
import math
import operator


def sub(a, b):
    """Subtract b from a."""
    return a - b


def add(a, b):
    """Add two numbers."""
    return a + b
'''
REORDERED = '''"""Arithmetic helpers."""


def sub(a, b):
    """Subtract b from a."""
    return a - b


def add(a, b):
    """Add two numbers."""
    return a + b
'''
OFF_SPEC = (
    V1
    + '''

def http_fetch(url, retries, timeout):
    """Download a web page over HTTP with retries and store it in the database."""
    import urllib.request
    for attempt in range(retries):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                body = response.read()
                save_to_database(url, body)
                return body
        except OSError:
            continue
    raise RuntimeError(url)


def save_to_database(url, body):
    """Persist the downloaded page in the sqlite cache."""
    import sqlite3
    with sqlite3.connect("pages.db") as db:
        db.execute("insert into pages values (?, ?)", (url, body))
'''
)
COMPONENTS = """[[component]]
name = "arithmetic"
paths = ["calc/"]
spec_text = "Arithmetic helpers: add and subtract numbers. Pure functions, no I/O, no network, no database."
"""


def make_repo(root: Path) -> Path:
    (root / "calc").mkdir(parents=True)
    (root / "calc" / "arith.py").write_text(V1)
    (root / "calc" / "steady.py").write_text('"""Constants."""\nPI = 3.14159\nE = 2.71828\n')
    (root / "README.md").write_text("# demo\n")
    (root / "ssot_components.toml").write_text(COMPONENTS)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "v1")
    return root


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
    )


def workspace(ledger: Any, root: Path) -> DriftWorkspace:
    return open_workspace(ledger, [RepoRoot("demo", root)])


def score_now(ledger: Any, root: Path, embedder: Any, thresholds: DriftThresholds | None = None) -> dict[str, Any]:
    ws = workspace(ledger, root)
    assess_drift(ledger, ws.files, ws.components, embedder, thresholds or DriftThresholds())
    return {r["file_key"]: r for r in latest_scores(ledger)}


@pytest.fixture
def embedder(ledger: Any) -> CachedEmbedder:
    return CachedEmbedder(HashingEmbedder(), ledger)


def test_moving_functions_is_not_content_drift_while_ordered_diffs_call_it_change() -> None:
    ordered = 1 - difflib.SequenceMatcher(None, V1, REORDERED, autojunk=False).ratio()
    assert ordered > 0.2
    assert content_change(V1, REORDERED) == 0.0
    assert structural_change(structure_of(V1, "a.py"), structure_of(REORDERED, "a.py"), 0.0) == 0.0
    assert 0.1 < content_change(V1, V2) < 0.3  # only the two imports are new


def test_first_analysis_accepts_baselines_and_an_off_spec_edit_scores_with_every_signal(
    ledger: Any, tmp_path: Path, embedder: CachedEmbedder
) -> None:
    root = make_repo(tmp_path / "demo")
    first = score_now(ledger, root, embedder)
    assert set(first) == {"demo/calc/arith.py", "demo/calc/steady.py", "demo/README.md", "demo/ssot_components.toml"}
    assert all(r["drift_score"] == 0.0 and r["band"] == "low" for r in first.values())

    (root / "calc" / "arith.py").write_text(REORDERED)
    reordered = score_now(ledger, root, embedder)["demo/calc/arith.py"]
    (root / "calc" / "arith.py").write_text(OFF_SPEC)
    git(root, "commit", "-qam", "fetch pages")
    off_spec = score_now(ledger, root, embedder)["demo/calc/arith.py"]

    assert reordered["content_change"] == 0.0 and reordered["drift_score"] < 0.05
    assert off_spec["drift_score"] > 0.3
    assert off_spec["content_change"] > 0.5 and off_spec["structural_change"] > 0.2
    assert off_spec["semantic_distance"] > 0.0 and off_spec["churn"] > 0.5
    assert off_spec["inputs"]["git_changed_lines"] > 0
    body = off_spec["explanation"]
    for label in ("Content change", "Structural change", "Semantic distance", "Churn"):
        assert label in body
    steady = score_now(ledger, root, embedder)["demo/calc/steady.py"]
    assert steady["drift_score"] == 0.0 and steady["semantic_distance"] == 0.0


def test_accepting_the_current_state_resets_the_score(ledger: Any, tmp_path: Path, embedder: CachedEmbedder) -> None:
    root = make_repo(tmp_path / "demo")
    score_now(ledger, root, embedder)
    (root / "calc" / "arith.py").write_text(OFF_SPEC)
    assert score_now(ledger, root, embedder)["demo/calc/arith.py"]["drift_score"] > 0.3
    ws = workspace(ledger, root)
    assert accept_current_state(ledger, ws.select(["calc/arith.py"]), ws.components, embedder, by="cli") == 1
    assert latest_scores(ledger, ["demo/calc/arith.py"])[0]["drift_score"] == 0.0
    assert score_now(ledger, root, embedder)["demo/calc/arith.py"]["drift_score"] == 0.0
    history = ledger.execute(
        "SELECT accepted_by FROM drift_baseline_history WHERE file_key = %s ORDER BY id", ("demo/calc/arith.py",)
    ).fetchall()
    assert [h["accepted_by"] for h in history] == ["first analysis", "cli"]


def test_a_warm_rescore_embeds_nothing_new(ledger: Any, tmp_path: Path, embedder: CachedEmbedder) -> None:
    root = make_repo(tmp_path / "demo")
    score_now(ledger, root, embedder)
    cold_misses = embedder.stats.misses
    warm = CachedEmbedder(HashingEmbedder(), ledger)
    score_now(ledger, root, warm)
    assert cold_misses > 0 and warm.stats.misses == 0 and warm.stats.hits > 0


def test_drift_board_frame_follows_the_schema_and_explains_each_row(
    ledger: Any, tmp_path: Path, embedder: CachedEmbedder
) -> None:
    root = make_repo(tmp_path / "demo")
    score_now(ledger, root, embedder)
    (root / "calc" / "arith.py").write_text(OFF_SPEC)
    score_now(ledger, root, embedder)
    frame = drift_board_frame(ledger, [f.key for f in workspace(ledger, root).files])
    row = frame.set_index("key").loc["demo/calc/arith.py"]
    assert row["File"] == [], "not in the File Catalog: no relation the sync would wait on forever"
    assert row["Component"] == "arithmetic"
    assert row["Band"] in ("moderate", "high", "critical") and 0 < row["Drift Score"] <= 1
    assert row["body"].startswith("Drift score")
    assert frame.attrs["sync_mode"] == "full"


def test_a_file_over_the_threshold_twice_in_a_row_raises_one_task_and_accepting_closes_it(
    ledger: Any, tmp_path: Path, embedder: CachedEmbedder
) -> None:
    root = make_repo(tmp_path / "demo")
    thresholds = DriftThresholds(moderate=0.1, drifting=0.2, critical=0.99, consecutive=2)
    score_now(ledger, root, embedder, thresholds)
    (root / "calc" / "arith.py").write_text(OFF_SPEC)
    score_now(ledger, root, embedder, thresholds)
    assert drift_problems(ledger, thresholds) == [], "one analysis over the threshold is not yet a problem"
    score_now(ledger, root, embedder, thresholds)
    problems = drift_problems(ledger, thresholds)
    assert [p.task_key for p in problems] == ["drift:demo/calc/arith.py"]
    assert reconcile_tasks(ledger, problems).opened == ["drift:demo/calc/arith.py"]
    assert reconcile_tasks(ledger, drift_problems(ledger, thresholds)).opened == []
    ws = workspace(ledger, root)
    accept_current_state(ledger, ws.select(everything=True), ws.components, embedder, by="cli")
    changes = reconcile_tasks(ledger, drift_problems(ledger, thresholds))
    assert changes.resolved == ["drift:demo/calc/arith.py"]
    rows = ledger.execute("SELECT task_key, problem_state FROM secondbrain_task_state").fetchall()
    assert rows == [{"task_key": "drift:demo/calc/arith.py", "problem_state": "resolved"}]


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, msg: str) -> None:
        self.lines.append(("info", msg))

    def warning(self, msg: str) -> None:
        self.lines.append(("warning", msg))

    def error(self, msg: str) -> None:
        self.lines.append(("error", msg))


def test_critical_drift_is_notified_once_through_the_notifier(
    ledger: Any, tmp_path: Path, embedder: CachedEmbedder
) -> None:
    root = make_repo(tmp_path / "demo")
    thresholds = DriftThresholds(moderate=0.1, drifting=0.2, critical=0.3)
    score_now(ledger, root, embedder, thresholds)
    (root / "calc" / "arith.py").write_text(OFF_SPEC)
    score_now(ledger, root, embedder, thresholds)
    log = _Log()
    check = check_drift(ledger, thresholds, after_analysis_id=0)
    assert check is not None and [p.subject_key for p in check.critical] == ["demo/calc/arith.py"]
    assert notify_critical_drift(ledger, NotifierResource(), log, check) == 1
    assert notify_critical_drift(ledger, NotifierResource(), log, check) == 0, "same analysis: no repeat"
    assert [level for level, _ in log.lines] == ["error"] and "demo/calc/arith.py" in log.lines[0][1]
    score_now(ledger, root, embedder, thresholds)
    again = check_drift(ledger, thresholds, after_analysis_id=check.latest_analysis_id)
    assert again is not None and again.critical == [], "still critical, already notified"


def test_drift_sensor_requests_the_tasks_run_once_per_analysis(
    ledger: Any, ledger_url: str, tmp_path: Path, embedder: CachedEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ssot_pipelines.drift.sensors import drift_sensor

    monkeypatch.setenv("POSTGRES_URL", ledger_url)
    monkeypatch.setenv("SSOT_DRIFT_CRITICAL", "0.3")
    monkeypatch.setenv("SSOT_DRIFT_THRESHOLD", "0.2")
    root = make_repo(tmp_path / "demo")
    score_now(ledger, root, embedder)
    (root / "calc" / "arith.py").write_text(OFF_SPEC)
    score_now(ledger, root, embedder)
    resources = {"postgres": PostgresResource(url=ledger_url), "notifier": NotifierResource()}
    with dg.build_sensor_context(resources=resources) as context:
        first = drift_sensor(context)
        assert len(first.run_requests) == 1 and first.cursor is not None
        with dg.build_sensor_context(resources=resources, cursor=first.cursor) as again:
            second = drift_sensor(again)
            assert not second.run_requests and second.skip_reason is not None


def test_cached_embedder_is_not_wrapped_twice(ledger: Any) -> None:
    inner = CachedEmbedder(HashingEmbedder(), ledger)
    assert cached_embedder(inner, ledger) is inner


def _ssot(*argv: str) -> int:
    """The `ssot` command itself, as a user runs it."""
    from ssot_pipelines.cli import main

    return main(list(argv))


def test_ssot_drift_score_show_and_accept_a_component(
    ledger: Any, ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo(tmp_path / "demo")
    monkeypatch.setenv("POSTGRES_URL", ledger_url)
    monkeypatch.setenv("SSOT_REPO_ROOTS", f"demo={root}")
    monkeypatch.setenv("SSOT_EMBEDDER", "hashing")
    assert _ssot("drift", "score") == 0
    (root / "calc" / "arith.py").write_text(OFF_SPEC)
    assert _ssot("drift", "score") == 0
    capsys.readouterr()
    assert _ssot("drift", "show", "--limit", "1", "--explain") == 0
    shown = capsys.readouterr().out
    assert "demo/calc/arith.py" in shown and "Content change" in shown
    assert _ssot("drift", "accept", "--component", "arithmetic") == 0
    assert "accepted the current state of 2 file(s)" in capsys.readouterr().out
    assert latest_scores(ledger, ["demo/calc/arith.py"])[0]["drift_score"] == 0.0
    assert _ssot("drift", "accept") == 2
    assert _ssot("drift", "accept", "no/such/file.py") == 1
