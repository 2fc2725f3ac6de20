"""One drift analysis: every tracked file against its accepted baseline and its component's spec."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ssot_pipelines.drift.baseline import Baseline, Conn, load_baselines, save_baselines
from ssot_pipelines.drift.files import TrackedFile, read_text
from ssot_pipelines.drift.history import head_commit, line_churn_since
from ssot_pipelines.drift.records import latest_scores, shown
from ssot_pipelines.drift.score import DriftSignals, DriftThresholds, drift_score, explanation
from ssot_pipelines.drift.signals import (
    changed_lines,
    churn_score,
    content_change,
    semantic_distance,
    structural_change,
    structure_of,
    summary_text,
    vector_cosine,
)
from ssot_pipelines.drift.specs import DriftComponents
from ssot_pipelines.vectors.embedder import Embedder


@dataclass
class DriftAssessment:
    analysis_id: int
    files: int = 0
    scored: int = 0
    new_baselines: int = 0
    unreadable: list[str] = field(default_factory=list)
    bands: Counter[str] = field(default_factory=Counter)
    embedded_texts: int = 0
    seconds: float = 0.0


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _loc(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())


class SpecSimilarity:
    """cos(E(spec), E(summary)) with every text embedded once per call batch (and cached by the embedder)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.vectors: dict[str, list[float]] = {}
        self.embedded = 0

    def prepare(self, texts: Iterable[str]) -> None:
        missing = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        for start in range(0, len(missing), 512):
            batch = missing[start : start + 512]
            self.vectors.update(zip(batch, self.embedder.embed(batch), strict=True))
        self.embedded += len(missing)

    def similarity(self, spec: str, summary: str) -> float:
        return vector_cosine(self.vectors[spec], self.vectors[summary])


def new_baseline(
    file: TrackedFile,
    text: str,
    components: DriftComponents,
    similarity: SpecSimilarity,
    now: datetime,
    by: str,
    commit: str | None,
) -> Baseline:
    spec = components.spec_for(file.component)
    spec_similarity = None
    if spec is not None:
        summary = summary_text(text, file.path)
        similarity.prepare([spec.text, summary])
        spec_similarity = similarity.similarity(spec.text, summary)
    return Baseline(
        file.key,
        file.path,
        file.component,
        text,
        sha256_text(text),
        _loc(text),
        spec_similarity,
        spec.sha256 if spec else None,
        now,
        by,
        commit,
    )


def assess_drift(
    conn: Conn,
    files: Sequence[TrackedFile],
    components: DriftComponents,
    embedder: Embedder,
    thresholds: DriftThresholds,
    *,
    now: datetime | None = None,
) -> DriftAssessment:
    """Score every readable file, record the scores as one analysis, and commit."""
    started = time.monotonic()
    now = now or datetime.now(UTC)
    texts: dict[str, str] = {}
    unreadable = []
    for file in files:
        text = read_text(file.location)
        if text is None:
            unreadable.append(file.key)
        else:
            texts[file.key] = text
    readable = [f for f in files if f.key in texts]
    baselines = load_baselines(conn, [f.key for f in readable])
    similarity = SpecSimilarity(embedder)
    summaries = {f.key: summary_text(texts[f.key], f.path) for f in readable if components.spec_for(f.component)}
    similarity.prepare([*(s.text for s in components.specs.values()), *summaries.values()])

    heads = {root: head_commit(root) for root in {f.root for f in readable}}
    created = []
    for file in readable:
        if file.key not in baselines:
            baseline = new_baseline(
                file, texts[file.key], components, similarity, now, "first analysis", heads[file.root]
            )
            baselines[file.key] = baseline
            created.append(baseline)
    churn = _git_churn(readable, baselines)

    rows = _score_rows(readable, texts, baselines, components, similarity, summaries, churn, thresholds)
    bands = Counter(r["band"] for r in rows)
    with conn.transaction():
        save_baselines(conn, created)
        analysis_id = _insert_analysis(conn, rows, now, time.monotonic() - started)
    conn.commit()
    return DriftAssessment(
        analysis_id,
        len(files),
        len(rows),
        len(created),
        unreadable,
        bands,
        similarity.embedded,
        time.monotonic() - started,
    )


def _score_rows(
    files: Sequence[TrackedFile],
    texts: dict[str, str],
    baselines: dict[str, Baseline],
    components: DriftComponents,
    similarity: SpecSimilarity,
    summaries: dict[str, str],
    churn: dict[str, int],
    thresholds: DriftThresholds,
) -> list[dict[str, Any]]:
    """One score row per file: its signals, score, band, explanation and the inputs behind them."""
    rows = []
    for file in files:
        baseline = baselines[file.key]
        signals, details, inputs = _signals(
            file, texts[file.key], baseline, components, similarity, summaries.get(file.key), churn.get(file.key)
        )
        score = drift_score(signals)
        band = thresholds.band(score)
        rows.append(
            {
                "file_key": file.key,
                "path": file.path,
                "component": file.component,
                "content_change": signals.content,
                "structural_change": signals.structure,
                "semantic_distance": signals.semantic,
                "churn": signals.churn,
                "drift_score": score,
                "band": band,
                "explanation": explanation(file.path, signals, score, band, details, baseline=_baseline_note(baseline)),
                "inputs": json.dumps(inputs),
            }
        )
    return rows


def _baseline_note(baseline: Baseline) -> str:
    """The accepted baseline, as the explanation names it: it moves only when a new baseline is accepted."""
    when = baseline.accepted_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"accepted {when} ({baseline.accepted_by})"


def _git_churn(files: Sequence[TrackedFile], baselines: dict[str, Baseline]) -> dict[str, int]:
    """Committed churn per file key; one ``git log`` per distinct (repository, baseline commit)."""
    groups: dict[tuple[Path, str], dict[str, str]] = {}
    for file in files:
        commit = baselines[file.key].git_commit
        if commit:
            groups.setdefault((file.root, commit), {})[file.path] = file.key
    churn: dict[str, int] = {}
    for (root, commit), paths in groups.items():
        found = line_churn_since(root, commit, paths)
        if found is not None:
            churn.update({paths[p]: n for p, n in found.items()})
    return churn


def _signals(
    file: TrackedFile,
    text: str,
    baseline: Baseline,
    components: DriftComponents,
    similarity: SpecSimilarity,
    summary: str | None,
    git_changed: int | None,
) -> tuple[DriftSignals, dict[str, str], dict[str, Any]]:
    same = sha256_text(text) == baseline.content_sha256
    content = 0.0 if same else content_change(baseline.content, text)
    structure = (
        0.0
        if same
        else structural_change(structure_of(baseline.content, file.path), structure_of(text, file.path), content)
    )
    # Commits since the baseline catch edits that were later undone; the diff catches uncommitted ones.
    diffed = 0 if same else changed_lines(baseline.content, text)
    changed = max(git_changed or 0, diffed)
    churn = churn_score(changed, baseline.loc)
    spec = components.spec_for(file.component)
    semantic = None
    details = {
        "churn": f"{changed} lines changed since the baseline (git history: "
        f"{'n/a' if git_changed is None else git_changed}, diff: {diffed}), "
        f"baseline {baseline.loc} lines",
        "content": "order-insensitive: moved lines do not count",
    }
    inputs: dict[str, Any] = {
        "changed_lines": changed,
        "git_changed_lines": git_changed,
        "diff_lines": diffed,
        "baseline_loc": baseline.loc,
        "baseline_accepted_at": baseline.accepted_at.isoformat(),
        "baseline_accepted_by": baseline.accepted_by,
    }
    if spec is not None and summary is not None:
        current_similarity = similarity.similarity(spec.text, summary)
        baseline_similarity = baseline.spec_similarity if baseline.spec_similarity is not None else current_similarity
        semantic = semantic_distance(baseline_similarity, current_similarity)
        details["semantic"] = (
            f"similarity to the {spec.component} spec {current_similarity:.3f}, "
            f"at the baseline {baseline_similarity:.3f}"
        )
        inputs.update(
            spec_similarity=current_similarity, baseline_spec_similarity=baseline_similarity, spec_source=spec.source
        )
    return DriftSignals(content, structure, semantic, churn), details, inputs


_SCORE_COLUMNS = (
    "file_key",
    "path",
    "component",
    "content_change",
    "structural_change",
    "semantic_distance",
    "churn",
    "drift_score",
    "band",
    "explanation",
    "inputs",
    "changed_at",
)


def _insert_analysis(conn: Conn, rows: list[dict[str, Any]], now: datetime, seconds: float) -> int:
    """Record one analysis; each row keeps the ``changed_at`` of the file's previous row while what it shows
    is the same, so the Drift Board's "Score Changed" (and its page) moves only with the score."""
    previous = {r["file_key"]: r for r in latest_scores(conn, [r["file_key"] for r in rows])}
    row = conn.execute(
        "INSERT INTO drift_analyses (analyzed_at, files, seconds) VALUES (%s, %s, %s) RETURNING id",
        (now, len(rows), seconds),
    ).fetchone()
    assert row is not None
    analysis_id = int(row["id"])
    with (
        conn.cursor() as cur,
        cur.copy(f"COPY drift_scores (analysis_id, {', '.join(_SCORE_COLUMNS)}) FROM STDIN") as copy,
    ):
        for r in rows:
            before = previous.get(r["file_key"])
            same = before is not None and shown(before) == shown(r)
            changed_at = (before["changed_at"] or before["analyzed_at"]) if same and before is not None else now
            copy.write_row((analysis_id, *(r[c] for c in _SCORE_COLUMNS[:-1]), changed_at))
    return analysis_id


def accept_current_state(
    conn: Conn,
    files: Sequence[TrackedFile],
    components: DriftComponents,
    embedder: Embedder,
    *,
    by: str,
    now: datetime | None = None,
    thresholds: DriftThresholds | None = None,
) -> int:
    """Make each file's current text its baseline and record its score against it; returns files accepted.

    The score row is computed exactly as the next analysis computes it (0 in every signal for an unchanged
    file), so re-scoring right after an acceptance changes nothing on the Drift Board.
    """
    now = now or datetime.now(UTC)
    similarity = SpecSimilarity(embedder)
    heads = {root: head_commit(root) for root in {f.root for f in files}}
    texts: dict[str, str] = {}
    accepted: dict[str, Baseline] = {}
    for file in files:
        text = read_text(file.location)
        if text is None:
            continue
        texts[file.key] = text
        accepted[file.key] = new_baseline(file, text, components, similarity, now, by, heads[file.root])
    if not accepted:
        return 0
    readable = [f for f in files if f.key in accepted]
    summaries = {f.key: summary_text(texts[f.key], f.path) for f in readable if components.spec_for(f.component)}
    similarity.prepare(summaries.values())
    rows = _score_rows(
        readable,
        texts,
        accepted,
        components,
        similarity,
        summaries,
        _git_churn(readable, accepted),
        thresholds or DriftThresholds.from_env(),
    )
    with conn.transaction():
        save_baselines(conn, accepted.values())
        conn.execute(
            "UPDATE drift_baselines SET notion_accept_consumed = notion_accept_consumed OR %s WHERE file_key = ANY(%s)",
            (by == "notion", list(accepted)),
        )
        _insert_analysis(conn, rows, now, 0.0)
    conn.commit()
    return len(accepted)
