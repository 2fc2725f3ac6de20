"""``ssot search QUERY [--in KINDS] [--limit N] [--json]``: one search over everything the SecondBrain holds.

Imports neither Dagster nor pandas: agents call it often.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ssot_pipelines.search.model import CONTEXT, KINDS
from ssot_pipelines.settings import ConfigurationError


def register(subparsers: Any) -> None:
    """Add ``search`` to the ``ssot`` parser."""
    search = subparsers.add_parser(
        "search",
        help="search sessions, Slack, files, findings and tasks at once",
        description="Hybrid search (vectors + PostgreSQL full-text, fused by reciprocal rank; exact identifiers "
        "such as a session id, file path, rule code or task id first). Every hit has its kind, "
        "title, Notion URL and the paragraphs or messages around it.",
    )
    search.add_argument("query", help="what to look for: plain words, or an exact id, path or rule code")
    search.add_argument(
        "--in", dest="kinds", default=None, help=f"comma-separated kinds to search (default all: {','.join(KINDS)})"
    )
    search.add_argument("--limit", type=int, default=10, help="hits to show (default 10)")
    search.add_argument(
        "--around", type=int, default=CONTEXT, help=f"paragraphs or messages of context either side (default {CONTEXT})"
    )
    search.add_argument("--json", action="store_true", help="print JSON instead of text")
    search.set_defaults(func=_search)


def open_search(conn: Any, url: str, *, on_note: Any = None) -> Any:
    """A ``UnifiedSearch`` over ``conn`` with the configured vector store and embedder."""
    from ssot_pipelines.search.engine import UnifiedSearch
    from ssot_pipelines.sessions.cli import recall_layer

    store, embedder = recall_layer(conn, url)
    return UnifiedSearch(conn, store, embedder, on_note=on_note)


def _search(args: argparse.Namespace) -> int:
    from ssot_pipelines.ledger import connect, migrate, resolve_postgres_url
    from ssot_pipelines.search.engine import parse_kinds

    try:
        kinds = parse_kinds(args.kinds)
    except ValueError as exc:
        print(f"ssot search: {exc}", file=sys.stderr)
        return 2
    if args.limit < 1 or args.around < 0:
        print("ssot search: --limit must be at least 1 and --around at least 0", file=sys.stderr)
        return 2
    try:
        url = resolve_postgres_url()
        conn = connect(url)
        migrate(conn)
        conn.commit()
    except ConfigurationError as exc:
        print(f"ssot search: {exc}", file=sys.stderr)
        return 2
    with conn:
        engine = open_search(conn, url, on_note=lambda text: print(f"ssot search: {text}", file=sys.stderr))
        try:
            result = engine.search(args.query, kinds, limit=args.limit, around=args.around)
        finally:
            close = getattr(engine.store, "close", None)
            if close is not None:
                close()
    if args.json:
        print(
            json.dumps(
                {"hits": [h.as_dict() for h in result.hits], "notes": result.notes}, ensure_ascii=False, indent=2
            )
        )
        return 0
    if not result.hits:
        print("no matches (sessions and Slack are indexed by `ssot worker` and `ssot slack drain`)")
    for hit in result.hits:
        print(hit.as_text())
    return 0
