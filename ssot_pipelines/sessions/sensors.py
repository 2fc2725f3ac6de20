"""The sensor that brings new hook events and changed sessions to Notion within about a minute."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from ssot_pipelines.notion.desired import last_target, synced_body_hashes
from ssot_pipelines.resources.stores import PostgresResource
from ssot_pipelines.sessions import journal, store
from ssot_pipelines.sessions.events import UNKNOWN_SESSION
from ssot_pipelines.sessions.store import Connection

JOB = "cli_sessions_job"
MAX_PATHS_PER_RUN = 200


def pending_signature(conn: Connection, directory: Path | None = None) -> str | None:
    """A fingerprint of the work waiting (undrained journal bytes, sessions not handed over); None if none."""
    parts: list[str] = []
    segments = journal.segments(directory)
    offsets = store.journal_offsets(conn, journal.journal_id(directory)) if segments else {}
    for segment in segments:
        size = segment.stat().st_size
        if size > offsets.get(segment.name, 0):
            parts.append(f"{segment.name}:{size}")
    row = conn.execute(
        "SELECT max(changed_at) AS changed, count(*) AS n FROM sessions WHERE session_id <> %s"
        " AND (extracted_at IS NULL OR changed_at > extracted_at)",
        (UNKNOWN_SESSION,),
    ).fetchone()
    if row and row["n"]:
        parts.append(f"sessions:{row['n']}:{row['changed']}")
    # Handed over but not (yet) shown by the sync engine as pushed to the target the last sync wrote to:
    # a failed or crashed sync.
    waiting = conn.execute("SELECT key, body_sha, handed_at FROM session_handover WHERE NOT confirmed").fetchall()
    if waiting:
        target = last_target(conn, "cli_sessions")
        pushed = synced_body_hashes(conn, target, "cli_sessions", [r["key"] for r in waiting]) if target else {}
        unconfirmed = [r for r in waiting if pushed.get(r["key"]) != r["body_sha"]]
        if unconfirmed:
            parts.append(f"unconfirmed:{len(unconfirmed)}:{max(r['handed_at'] for r in unconfirmed)}")
    conn.commit()
    if not parts:
        return None
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def _transcript_request(conn: Connection, limit: int = MAX_PATHS_PER_RUN) -> tuple[list[str], str]:
    """Transcripts that grew since their import (Codex has no hooks by default), and their fingerprint."""
    import time

    from ssot_pipelines.sessions.transcripts import changed_transcripts, default_roots, idle_seconds

    paths = [str(p) for p in changed_transcripts(conn, default_roots(), limit=limit)]
    sizes = []
    idle = idle_seconds()
    for path in paths:
        try:
            st = Path(path).stat()
        except OSError:
            continue
        # A file ending in an unterminated line changes its request once it has gone idle (then it is read).
        sizes.append(f"{path}:{st.st_size}:{time.time() - st.st_mtime >= idle}")
    return paths, "|".join(sizes)


@dataclass(frozen=True)
class CliSessionSensorConfig:
    """cli_session_sensor's settings (the journal directory and transcript roots come from their own
    settings, read by the functions it calls)."""

    interval_seconds: int = 30
    max_paths_per_run: int = MAX_PATHS_PER_RUN  # grown transcripts handed to one run

    @classmethod
    def from_env(cls) -> CliSessionSensorConfig:
        return cls()


@dg.sensor(
    name="cli_session_sensor",
    job_name=JOB,
    minimum_interval_seconds=CliSessionSensorConfig.interval_seconds,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs the CLI-session capture and Notion sync when hook events or sessions are waiting.",
)
def cli_session_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource) -> dg.SensorResult:
    settings = CliSessionSensorConfig.from_env()
    conn = postgres.connect()
    try:
        signature = pending_signature(conn) or ""
        paths, grown = _transcript_request(conn, settings.max_paths_per_run)
    finally:
        conn.close()
    if grown:
        signature = hashlib.sha256(f"{signature}|{grown}".encode()).hexdigest()[:24]
    if not signature or signature == context.cursor:
        return dg.SensorResult(skip_reason=dg.SkipReason("no new hook events, transcripts or session changes"))
    run_config = dg.RunConfig(ops={"cli_session_events": {"config": {"paths": paths}}}) if paths else None
    request = (
        dg.RunRequest(run_key=signature, run_config=run_config) if run_config else dg.RunRequest(run_key=signature)
    )
    return dg.SensorResult(run_requests=[request], cursor=signature)
