"""Search quality: recall@1 and recall@5 of ``ssot search --in sessions`` on questions about real transcripts.

Run: ``.venv/bin/python benchmarks/search_recall.py``. The transcripts are the repository's own test data,
``ssot_pipelines_tests/data/sessions/`` (two Claude Code sessions with a sub-agent, one Codex rollout: real
files in the formats those tools write). The eight questions below were written by hand for this benchmark,
each with the session that answers it; they paraphrase rather than quote where they can. Imported with
``import_paths`` and indexed with the configured embedder (``SSOT_EMBEDDER``; MiniLM when installed, else
hashing, printed), into a throwaway ledger. A hit counts when its session is the expected one. Prints recall
for hybrid (pgvector + full-text) and full-text only. The set is small: treat the figures as a smoke check of
ranking, not a measurement of MiniLM. Asserts nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ledger_db import ROOT, throwaway_ledger

from ssot_pipelines.search.engine import UnifiedSearch
from ssot_pipelines.sessions.recall import index_sessions
from ssot_pipelines.sessions.transcripts import import_paths
from ssot_pipelines.vectors import CachedEmbedder, embedder_from_env
from ssot_pipelines.vectors.pgvector_store import PgVectorStore

A = "aaaa1111-0000-4000-8000-000000000001"
B = "bbbb2222-0000-4000-8000-000000000002"
CODEX = "019a2d7a-1111-7000-8000-00000000000c"
QUESTIONS = [
    ("which session fixed the failing parser test?", A),
    ("the parser gave back a string instead of an integer", A),
    ("convert the parsed value to int", A),
    # The file bbbb2222 continues session aaaa1111: its first exchange carries aaaa1111's sessionId.
    ("how many tests passed when the whole suite ran?", A),
    ("where was the changelog entry added?", B),
    ("CHANGELOG.md", B),
    ("what files are in the project root? README and src", CODEX),
    ("list the files with ls", CODEX),
]


def main() -> None:
    data = ROOT / "ssot_pipelines_tests" / "data" / "sessions"
    with tempfile.TemporaryDirectory() as tmp, throwaway_ledger("recall") as (url, conn):
        samples = Path(tmp) / "samples"
        shutil.copytree(data, samples)
        import_paths(conn, [samples], allow_outside_roots=True)
        store = PgVectorStore(url)
        inner = embedder_from_env()
        embedder = CachedEmbedder(inner, conn)
        index_sessions(conn, store, embedder)
        print(
            f"{len(QUESTIONS)} questions over the transcripts in ssot_pipelines_tests/data/sessions "
            f"(embedder: {inner.name})"
        )
        for mode, engine in (
            ("pgvector + full-text", UnifiedSearch(conn, store, embedder)),
            ("full-text only", UnifiedSearch(conn, None, None)),
        ):
            at1 = at5 = 0
            for question, expected in QUESTIONS:
                hits = engine.search(question, ["sessions"], limit=5).hits
                found = [h.doc.notion_key.split("#")[0] for h in hits]
                at1 += bool(found[:1] == [expected])
                at5 += expected in found
            n = len(QUESTIONS)
            print(f"{mode:22} recall@1 {at1}/{n} = {at1 / n:.2f}   recall@5 {at5}/{n} = {at5 / n:.2f}")
        store.close()


if __name__ == "__main__":
    main()
