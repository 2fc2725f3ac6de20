"""``ssot slack``: import an export, serve the Events API, drain its journal, resolve names, link to CLI
sessions, share a session's handover pack, and search conversations. Imports stay lazy (no Dagster, no
pandas) so ``ssot --help`` stays fast."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ssot_pipelines.settings import ConfigurationError


def register(subparsers: Any) -> None:
    """Add ``slack`` and its sub-commands to the ``ssot`` parser."""
    slack = subparsers.add_parser("slack", help="Slack conversations: import, live events, bridge to CLI sessions")
    sub = slack.add_subparsers(dest="slack_command", required=True)

    imp = sub.add_parser("import", help="import a Slack workspace export (.zip or unpacked folder)")
    imp.add_argument("path", type=Path, help="the export: a .zip or the folder it unpacks to")
    imp.set_defaults(func=_import)

    serve = sub.add_parser("serve", help="receive the Events API at /slack/events (journal first, then ack)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")
    serve.set_defaults(func=_serve)

    drain = sub.add_parser("drain", help="move the events journal into the ledger (also names, links, vectors)")
    drain.add_argument("--no-names", action="store_true", help="do not ask Slack for people's names")
    drain.add_argument("--no-recall", action="store_true", help="do not embed conversations")
    drain.set_defaults(func=_drain)

    share = sub.add_parser("share", help="post a CLI session's handover pack to a Slack channel or thread")
    share.add_argument("session", help="a session id (its latest segment) or a segment key <session_id>#<n>")
    share.add_argument("--channel", required=True, help="channel id (C…), as Slack's API wants it")
    share.add_argument("--thread", help="post into this thread (the root message's ts)")
    share.add_argument("--again", action="store_true", help="post although an earlier attempt was interrupted")
    share.set_defaults(func=_share)

    context = sub.add_parser("context", help="the Slack conversations linked to a CLI session")
    context.add_argument("session", help="a session id (its latest segment) or a segment key <session_id>#<n>")
    context.set_defaults(func=_context)

    search = sub.add_parser("search", help="semantic search over Slack conversations")
    search.add_argument("query", help="what to look for, in plain words")
    search.add_argument("--top-k", type=int, default=5, help="matches to show (default 5)")
    search.add_argument("--json", action="store_true", help="print JSON instead of text")
    search.set_defaults(func=_search)


def _ledger() -> tuple[Any, str]:
    from ssot_pipelines.ledger import connect, migrate, resolve_postgres_url

    url = resolve_postgres_url()
    conn = connect(url)
    migrate(conn)
    conn.commit()
    return conn, url


def _import(args: argparse.Namespace) -> int:
    from ssot_pipelines.slack.export import ExportError
    from ssot_pipelines.slack.importer import import_export

    try:
        conn, _ = _ledger()
        with conn:
            report = import_export(conn, args.path)
    except (ExportError, ConfigurationError) as exc:
        print(f"ssot slack import: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    print(
        "run `ssot slack drain` (names, links, vectors) and `dagster asset materialize -m ssot_pipelines.definitions"
        " --select slack_conversations` to sync Notion"
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ssot_pipelines.settings import env
    from ssot_pipelines.slack.capture import journal_directory
    from ssot_pipelines.slack.receiver import PATH, make_server

    secret = env("SLACK_SIGNING_SECRET")
    if not secret:
        print(
            "ssot slack serve: SLACK_SIGNING_SECRET is not set; copy it from your Slack app's Basic Information page",
            file=sys.stderr,
        )
        return 2
    server = make_server(args.host, args.port, secret, journal_directory())
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(f"ssot slack serve: listening on http://{host}:{port}{PATH}, journal {server.journal_dir}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def recall_layer(conn: Any, url: str) -> tuple[Any, Any]:
    from ssot_pipelines.sessions.cli import recall_layer as sessions_recall_layer

    return sessions_recall_layer(conn, url)


def _drain(args: argparse.Namespace) -> int:
    from ssot_pipelines.ledger import connect
    from ssot_pipelines.slack.capture import drain
    from ssot_pipelines.slack.pipeline import capture_pass

    try:
        conn, url = _ledger()
    except ConfigurationError as exc:
        print(f"ssot slack drain: {exc}", file=sys.stderr)
        return 2
    with conn:
        report = drain(conn)
        print(report.summary())
        layer = None if args.no_recall else recall_layer(connect(url, autocommit=True), url)
        for line in capture_pass(conn, names=not args.no_names, vectors=layer):
            print(line)
    return 0


def _share(args: argparse.Namespace) -> int:
    from slack_sdk.errors import SlackApiError

    from ssot_pipelines.slack.share import ShareError, share_session
    from ssot_pipelines.slack.webapi import web_client

    try:
        client = web_client()
        conn, _ = _ledger()
        with conn:
            result = share_session(conn, client, args.session, args.channel, args.thread, again=args.again)
    except (ShareError, ConfigurationError) as exc:
        print(f"ssot slack share: {exc}", file=sys.stderr)
        return 1
    except SlackApiError as exc:
        print(
            f"ssot slack share: Slack refused the post ({exc.response.get('error')}); check the channel id and "
            "that the app is in the channel (chat:write)",
            file=sys.stderr,
        )
        return 1
    if result.already:
        print(f"already shared: {result.session_id} to {result.channel_id} at {result.message_ts}; nothing posted")
    else:
        print(
            f"shared {result.session_id} to {result.channel_id} in {len(result.parts)} message(s), first at "
            f"{result.message_ts}; logged as conversation {result.conversation_id}"
        )
    return 0


def _context(args: argparse.Namespace) -> int:
    from ssot_pipelines.slack.bridge import linked_conversations

    conn, _ = _ledger()
    with conn:
        text = linked_conversations(conn, args.session.partition("#")[0])
    print(text or f"no Slack conversation is linked to {args.session}")
    return 0


def _search(args: argparse.Namespace) -> int:
    from ssot_pipelines.slack.recall import search

    conn, url = _ledger()
    with conn:
        vectors, embedder = recall_layer(conn, url)
        hits = search(vectors, embedder, args.query, top_k=args.top_k)
    if args.json:
        print(json.dumps(hits, ensure_ascii=False, indent=2))
        return 0
    for hit in hits:
        print(f"## {hit['conversation_id']} · score {hit['score']:.3f}\n\n{hit['text']}\n")
    if not hits:
        print("no matches (conversations are indexed by `ssot slack drain`)")
    return 0
