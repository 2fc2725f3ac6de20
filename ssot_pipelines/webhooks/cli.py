"""``ssot notion webhook serve``: receive Notion's webhooks so people's edits reach the ledger in seconds."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Any

from ssot_pipelines.settings import ConfigurationError

DEFAULT_PORT = 8787


def register(subparsers: Any) -> None:
    """Add ``notion webhook serve`` to the ``ssot`` parser."""
    notion = subparsers.add_parser("notion", help="Notion webhooks: people's edits reach the ledger in seconds")
    sub = notion.add_subparsers(dest="notion_command", required=True)
    webhook = sub.add_parser("webhook", help="Notion's webhook endpoint")
    wsub = webhook.add_subparsers(dest="webhook_command", required=True)
    serve = wsub.add_parser(
        "serve", help="complete the handshake, check X-Notion-Signature, journal each event, pull the page"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)"
    )
    serve.set_defaults(func=_serve)


def webhook_directory() -> Any:
    """Where the receiver keeps its verification token (0600) and its journal: ``$SSOT_HOME/notion-webhooks``."""
    from ssot_pipelines.settings import ssot_home

    return ssot_home() / "notion-webhooks"


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the server the way Ctrl-C does: the drain finishes its event


def _serve(args: argparse.Namespace) -> int:
    from ssot_pipelines.ledger import connect, resolve_postgres_url
    from ssot_pipelines.notion.gateway import Call
    from ssot_pipelines.notion.setup import open_sync_manager
    from ssot_pipelines.webhooks.drain import WebhookDrain
    from ssot_pipelines.webhooks.receiver import make_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        manager = open_sync_manager(provision_databases=False)
    except ConfigurationError as exc:
        print(f"ssot notion webhook serve: {exc}", file=sys.stderr)
        return 2
    try:
        me = manager.gateway.call("GET", "users/me", kind=Call.READ)
        bot_id = str(me.get("id") or "") or None
        drain = WebhookDrain(connect(resolve_postgres_url()), manager, bot_id)
        directory = webhook_directory()
        server = make_server(args.host, args.port, directory, drain.submit)
        replayed = drain.replay(server.journal.entries())
        drain.start()
        host, port = str(server.server_address[0]), int(server.server_address[1])
        token_state = "stored" if server.tokens.get() else "awaiting the handshake"
        print(
            f"ssot notion webhook serve: listening on http://{host}:{port}/ (verification token {token_state} "
            f"in {server.tokens.path}; journal {server.journal.path}; {replayed} journalled events replayed)",
            flush=True,
        )
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            server.serve_forever(0.1)
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
            drain.stop()
            drain.conn.close()
    finally:
        manager.close()
    return 0
