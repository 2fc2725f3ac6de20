"""Unified search over a real ledger: sessions, Slack, files, findings and tasks, each found by meaning and by
exact identifier, with its context and its Notion URL; the full-text fallback without pgvector; the command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ssot_pipelines.analysis.ingest import import_report_file
from ssot_pipelines.catalog.refresh import refresh_catalog
from ssot_pipelines.ledger.db import migrations
from ssot_pipelines.search.engine import UnifiedSearch, parse_kinds
from ssot_pipelines.sessions import search_queries as session_search
from ssot_pipelines.sessions.recall import index_sessions
from ssot_pipelines.sessions.transcripts import import_paths
from ssot_pipelines.slack import recall as slack_recall
from ssot_pipelines.slack import search_queries as slack_search
from ssot_pipelines.slack.importer import import_export
from ssot_pipelines.tasks import graph
from ssot_pipelines.vectors import HashingEmbedder
from ssot_pipelines.vectors.pgvector_store import PgVectorStore
from ssot_pipelines_tests.catalog_fixtures import config_for, make_repo
from ssot_pipelines_tests.notion_helpers import frame, sync_manager
from ssot_pipelines_tests.slack_fixtures import sample_export
from ssot_pipelines_tests.test_vectors_pgvector import plain_postgres15  # noqa: F401  (a fixture)

Conn = psycopg.Connection[dict[str, Any]]
REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "analysis"
INVOICE = (
    "def total(lines):\n    return sum(l.amount for l in lines)\n\n"
    "def rounded(value):\n    # banker's rounding keeps invoice totals fair\n    return round(value, 2)\n"
)


def _seed(tmp_path: Path, ledger: Conn, store: PgVectorStore) -> dict[str, Any]:
    embedder = HashingEmbedder()
    # A transcript: thirty paragraphs, the fix in the middle.
    path = tmp_path / "long.jsonl"
    topics = [f"routine step number {i} of the migration" for i in range(30)]
    topics[15] = "the flaky websocket reconnect test was fixed by raising the heartbeat timeout"
    lines = [
        json.dumps(
            {
                "type": "user",
                "uuid": f"u{i}",
                "sessionId": "long-session-7f3a",
                "timestamp": f"2026-01-01T00:{i:02d}:00Z",
                "message": {"role": "user", "content": f"{t} " + "filler words " * 120},
            }
        )
        for i, t in enumerate(topics)
    ]
    path.write_text("\n".join(lines) + "\n")
    import_paths(ledger, [path], allow_outside_roots=True)
    index_sessions(ledger, store, embedder)
    # Slack: the sample workspace export, indexed for recall.
    import_export(ledger, sample_export().write_folder(tmp_path / "export"), zone=UTC)
    slack_recall.index_conversations(ledger, store, embedder)
    # Files: a repository in the catalog.
    repo = make_repo(tmp_path / "shop", {"src/billing/invoice.py": INVOICE, "README.md": "# Shop\n\nSells things.\n"})
    refresh_catalog(ledger, config_for([repo], components="billing=src/billing/**"))
    # Findings: a real ruff report.
    import_report_file(ledger, DATA / "ruff.json", repo_root=None)
    # Tasks with activity.
    task = graph.add_task(ledger, "Rotate the API credentials", agent="planner-1", body="Keys leaked in a log.")
    graph.note(ledger, task.id, "exec-1", "revoked the old key; new one stored in the vault")
    other = graph.add_task(ledger, "Write the onboarding guide", agent="planner-1")
    conversation = ledger.execute("SELECT conversation_id FROM slack_conversations WHERE kind = 'thread'").fetchone()
    ledger.commit()
    assert conversation is not None
    return {"task": task.id, "other": other.id, "conversation": conversation["conversation_id"]}


@pytest.fixture
def seeded(tmp_path: Path, ledger: Conn, ledger_url: str) -> Iterator[tuple[UnifiedSearch, dict[str, Any]]]:
    store = PgVectorStore(ledger_url)
    ids = _seed(tmp_path, ledger, store)
    yield UnifiedSearch(ledger, store, HashingEmbedder()), ids
    store.close()


def test_each_kind_is_found_by_meaning_with_its_context(seeded: tuple[UnifiedSearch, dict[str, Any]]) -> None:
    engine, ids = seeded
    [hit] = engine.search("websocket reconnect heartbeat", ["sessions"], limit=1).hits
    assert hit.doc.kind == "sessions" and hit.doc.notion_key == "long-session-7f3a#1"
    assert any("websocket reconnect" in p for p in hit.doc.matched)
    assert len(hit.doc.before) == 5 and len(hit.doc.after) == 5, "five paragraphs either side"
    assert all(("filler words " * 119) in p for p in hit.doc.before), "context paragraphs are never cut"
    assert {"vector", "fulltext"} <= set(hit.reasons)

    [hit] = engine.search("deploying version two", ["slack"], limit=1).hits
    assert hit.doc.kind == "slack" and any("Deploy of v2 is starting" in p for p in hit.doc.matched)
    assert any("first reply from bobby" in p for p in hit.doc.matched + hit.doc.after)

    top = engine.search("invoices rounded", limit=3).hits[0]
    assert (top.doc.kind, top.doc.ref) == ("files", "shop/src/billing/invoice.py")
    assert any("banker's rounding" in p for p in top.doc.after) and "component billing" in top.doc.matched[0]

    top = engine.search("shell security problem in subprocess calls", limit=3).hits[0]
    assert top.doc.kind == "tech_debt" and top.doc.title.startswith("ruff:S602")
    assert any("F841" in line for line in top.doc.before), "its neighbours in the same file"

    top = engine.search("vault where the new key is stored", ["tasks"], limit=3).hits[0]
    assert top.doc.kind == "tasks" and top.doc.ref.startswith(f"{ids['task']}:")
    assert "revoked the old key" in top.doc.matched[0] and "Rotate the API credentials" in top.doc.before[0]


def test_exact_identifiers_rank_first(seeded: tuple[UnifiedSearch, dict[str, Any]]) -> None:
    engine, ids = seeded
    cases = {
        "long-session-7f3a": ("sessions", "long-session-7f3a#1:0"),
        "src/billing/invoice.py": ("files", "shop/src/billing/invoice.py"),
        "S602": ("tech_debt", None),
        f"#{ids['other']}": ("tasks", str(ids["other"])),
        ids["conversation"]: ("slack", f"{ids['conversation']}:0"),
    }
    for query, (kind, ref) in cases.items():
        top = engine.search(query, limit=5).hits[0]
        assert top.doc.kind == kind and "exact" in top.reasons, (query, top.doc.kind, top.doc.title)
        if ref is not None:
            assert top.doc.ref == ref
    assert engine.search("S602", limit=1).hits[0].doc.matched[0].startswith("ruff:S602")


def test_hits_carry_the_notion_url_of_their_page(
    tmp_path: Path, ledger: Conn, ledger_url: str, redis_url: str, sandbox: Any
) -> None:
    repo = make_repo(tmp_path / "shop", {"src/billing/invoice.py": INVOICE})
    refresh_catalog(ledger, config_for([repo]))
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        sync.sync("file_catalog", frame([{"key": "shop/src/billing/invoice.py", "Path": "src/billing/invoice.py"}]))
        page_id = sync.page_id("file_catalog", "shop/src/billing/invoice.py")
    assert page_id
    [hit] = UnifiedSearch(ledger, None, None).search("src/billing/invoice.py", ["files"], limit=1).hits
    assert hit.notion_url == "https://www.notion.so/" + page_id.replace("-", "")


def test_without_pgvector_search_falls_back_to_full_text_and_says_so_once(
    tmp_path: Path,
    ledger: Conn,
    ledger_url: str,
    plain_postgres15: str,  # noqa: F811
) -> None:
    store = PgVectorStore(ledger_url)
    _seed(tmp_path, ledger, store)
    store.close()
    notes: list[str] = []
    engine = UnifiedSearch(ledger, PgVectorStore(plain_postgres15), HashingEmbedder(), on_note=notes.append)
    first = engine.search("websocket reconnect heartbeat", limit=3)
    second = engine.search("deploying version two", limit=3)
    assert len(notes) == 1 and "full-text only" in notes[0] and "no pgvector extension" in notes[0]
    assert first.hits[0].doc.kind == "sessions" and first.hits[0].reasons == ["fulltext"]
    assert second.hits and second.notes == []


def test_the_command_searches_by_kind_and_refuses_an_unknown_kind(
    tmp_path: Path, ledger: Conn, ledger_url: str
) -> None:
    store = PgVectorStore(ledger_url)
    _seed(tmp_path, ledger, store)
    store.close()
    env = {
        **os.environ,
        "POSTGRES_URL": ledger_url,
        "SSOT_EMBEDDER": "hashing",
        "PYTHONPATH": str(REPO),
        "SSOT_HOME": str(tmp_path / "home"),
    }
    env.pop("PINECONE_API_KEY", None)

    def ssot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ssot_pipelines.cli", "search", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    out = ssot("heartbeat timeout", "--in", "sessions", "--json")
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)["hits"]
    assert hits and {h["kind"] for h in hits} == {"sessions"}
    assert hits[0]["notion_key"] == "long-session-7f3a#1" and len(hits[0]["before"]) == 5
    text = ssot("Rotate the API credentials", "--limit", "2")
    assert text.returncode == 0 and "## [tasks] #" in text.stdout and "(not in Notion yet)" in text.stdout
    bad = ssot("x", "--in", "sessions,emails")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "emails" in bad.stderr
    assert "tech_debt" in bad.stderr
    with pytest.raises(ValueError):
        parse_kinds(",")


def _migration_sql(version: int) -> str:
    [sql] = [sql for v, _, sql in migrations() if v == version]
    return sql


def test_stored_tsvector_migrations_fill_existing_rows_and_can_run_again(ledger: Conn) -> None:
    """Migrations 0220/0810 on a ledger that already holds paragraphs and messages (and the expression
    indexes search used to create): the rows become searchable through the stored column, with the vector
    the old expression gave, and running the migrations a second time changes nothing."""
    # Back to the ledger before the migrations: no column, the expression indexes made at query time.
    ledger.execute("ALTER TABLE session_paragraphs DROP COLUMN tsv")
    ledger.execute("ALTER TABLE slack_messages DROP COLUMN tsv")
    ledger.execute(
        "CREATE INDEX session_paragraphs_fts ON session_paragraphs"
        " USING gin (to_tsvector('english', left(text, 200000)))"
    )
    ledger.execute(
        "CREATE INDEX slack_messages_fts ON slack_messages USING gin (to_tsvector('english', left(text, 200000)))"
    )
    huge = "heartbeat " + "x" * 300_000 + " unreachable"  # past the 200,000 characters that are indexed
    ledger.execute(
        "INSERT INTO session_paragraphs (session_key, paragraph_no, text) VALUES"
        " ('old#1', 0, 'routine work'), ('old#1', 1, 'the reconnect heartbeat timeout was raised'), ('old#1', 2, %s)",
        (huge,),
    )
    ledger.execute(
        "INSERT INTO session_chunks (chunk_id, session_key, chunk_no, first_paragraph, last_paragraph, text_sha)"
        " VALUES ('old#1:0', 'old#1', 0, 0, 0, 'a'), ('old#1:1', 'old#1', 1, 1, 2, 'b')"
    )
    ledger.execute(
        "INSERT INTO slack_messages (channel_id, ts, ts_num, conversation_id, kind, text, digest) VALUES"
        " ('C1', '1.000100', 1.0001, 'C1/day', 'message', 'deploy is blocked on the flaky heartbeat', 'd1'),"
        " ('C1', '2.000100', 2.0001, 'C1/day', 'message', 'lunch?', 'd2')"
    )
    ledger.execute(
        "INSERT INTO slack_chunks (conversation_id, chunk_no, first_ts, last_ts, text_sha)"
        " VALUES ('C1/day', 0, '1.000100', '1.000100', 'a'), ('C1/day', 1, '2.000100', '2.000100', 'b')"
    )
    ledger.commit()

    for _ in range(2):
        for version in (220, 810):
            ledger.execute(_migration_sql(version))
            ledger.commit()

    for table in ("session_paragraphs", "slack_messages"):
        differing = ledger.execute(
            f"SELECT count(*) AS n FROM {table} WHERE tsv IS DISTINCT FROM to_tsvector('english', left(text, 200000))"
        ).fetchone()
        assert differing is not None and differing["n"] == 0
    indexes = {
        r["indexname"]: r["indexdef"]
        for r in ledger.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('session_paragraphs', 'slack_messages')"
        ).fetchall()
    }
    assert "session_paragraphs_fts" not in indexes and "slack_messages_fts" not in indexes
    assert indexes["session_paragraphs_tsv"].endswith("USING gin (tsv)")
    assert indexes["slack_messages_tsv"].endswith("USING gin (tsv)")
    ledger.commit()

    assert session_search.fulltext_refs(ledger, "heartbeat", 10) == ["old#1:1"]
    assert session_search.fulltext_refs(ledger, "unreachable", 10) == []  # beyond the indexed beginning
    assert slack_search.fulltext_refs(ledger, "heartbeat", 10) == ["C1/day:0"]
    # A paragraph written after the migration gets its vector from the column's expression.
    ledger.execute("INSERT INTO session_paragraphs (session_key, paragraph_no, text) VALUES ('old#1', 3, 'heartbeat')")
    ledger.execute("UPDATE slack_messages SET text = 'heartbeat at lunch' WHERE ts = '2.000100'")
    ledger.execute("UPDATE session_chunks SET last_paragraph = 3 WHERE chunk_id = 'old#1:0'")
    ledger.commit()
    assert sorted(session_search.fulltext_refs(ledger, "heartbeat", 10)) == ["old#1:0", "old#1:1"]
    assert sorted(slack_search.fulltext_refs(ledger, "heartbeat", 10)) == ["C1/day:0", "C1/day:1"]
