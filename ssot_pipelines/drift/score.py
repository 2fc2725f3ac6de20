"""The drift score: a weighted mean of the available signals, its band, and the explanation of both."""

from __future__ import annotations

from dataclasses import dataclass

from ssot_pipelines.settings import ConfigurationError, env

WEIGHTS = {"content": 0.25, "structure": 0.20, "semantic": 0.30, "churn": 0.10}
LABELS = {
    "content": "Content change",
    "structure": "Structural change",
    "semantic": "Semantic distance",
    "churn": "Churn",
}
BANDS = ("low", "moderate", "high", "critical")  # the Drift Board's Band options


@dataclass(frozen=True)
class DriftThresholds:
    """Score cut-offs: ``moderate`` starts the watch band, ``drifting`` raises a task after ``consecutive``
    analyses in a row, ``critical`` raises one (and a notification) at once."""

    moderate: float = 0.2
    drifting: float = 0.4
    critical: float = 0.6
    consecutive: int = 2

    @classmethod
    def from_env(cls) -> DriftThresholds:
        """``SSOT_DRIFT_MODERATE`` / ``SSOT_DRIFT_THRESHOLD`` / ``SSOT_DRIFT_CRITICAL`` / ``SSOT_DRIFT_CONSECUTIVE``."""
        values: dict[str, float] = {}
        for name, var in (
            ("moderate", "SSOT_DRIFT_MODERATE"),
            ("drifting", "SSOT_DRIFT_THRESHOLD"),
            ("critical", "SSOT_DRIFT_CRITICAL"),
        ):
            raw = env(var)
            if raw is not None:
                try:
                    values[name] = float(raw)
                except ValueError:
                    raise ConfigurationError(f"{var}={raw!r} is not a number; use e.g. 0.4") from None
        thresholds = cls(
            values.get("moderate", cls.moderate),
            values.get("drifting", cls.drifting),
            values.get("critical", cls.critical),
        )
        raw_consecutive = env("SSOT_DRIFT_CONSECUTIVE")
        if raw_consecutive is not None:
            if not raw_consecutive.isdigit() or int(raw_consecutive) < 1:
                raise ConfigurationError(f"SSOT_DRIFT_CONSECUTIVE={raw_consecutive!r} must be a whole number ≥ 1")
            thresholds = cls(thresholds.moderate, thresholds.drifting, thresholds.critical, int(raw_consecutive))
        if not 0 < thresholds.moderate <= thresholds.drifting <= thresholds.critical <= 1:
            raise ConfigurationError(
                "drift thresholds must satisfy 0 < SSOT_DRIFT_MODERATE ≤ SSOT_DRIFT_THRESHOLD ≤ "
                f"SSOT_DRIFT_CRITICAL ≤ 1 (got {thresholds})"
            )
        return thresholds

    def band(self, score: float) -> str:
        if score >= self.critical:
            return "critical"
        if score >= self.drifting:
            return "high"
        if score >= self.moderate:
            return "moderate"
        return "low"


@dataclass(frozen=True)
class DriftSignals:
    content: float
    structure: float
    semantic: float | None  # None when the file's component has no spec
    churn: float

    def available(self) -> dict[str, float]:
        values = {"content": self.content, "structure": self.structure, "churn": self.churn}
        if self.semantic is not None:
            values["semantic"] = self.semantic
        return values


def drift_score(signals: DriftSignals) -> float:
    """Σ wᵢ·Dᵢ / Σ wᵢ over the available signals, in [0, 1]."""
    values = signals.available()
    total = sum(WEIGHTS[k] for k in values)
    return min(1.0, max(0.0, sum(WEIGHTS[k] * v for k, v in values.items()) / total))


def explanation(
    path: str, signals: DriftSignals, score: float, band: str, details: dict[str, str], baseline: str | None = None
) -> str:
    """The Drift Board page body: the score, then each signal by its contribution, largest first, then the
    baseline it is measured from. Nothing in it depends on when it was computed, only on what it explains."""
    values = signals.available()
    total = sum(WEIGHTS[k] for k in values)
    lines = [f"Drift score {score:.3f} ({band}) for {path}.", "", "Contributions (weight x signal, largest first):"]
    for name, value in sorted(values.items(), key=lambda kv: -WEIGHTS[kv[0]] * kv[1]):
        share = WEIGHTS[name] * value / total
        lines.append(
            f"- {LABELS[name]}: {value:.3f} x weight {WEIGHTS[name] / total:.2f} = {share:.3f}"
            + (f" — {details[name]}" if name in details else "")
        )
    if signals.semantic is None:
        lines.append("- Semantic distance: not scored (the component has no spec in ssot_components.toml)")
    if baseline:
        lines += ["", f"Baseline: {baseline}."]
    return "\n".join(lines)
