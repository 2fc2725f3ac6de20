"""The ``ssot sandbox`` command and ``python -m ssot_pipelines.sandbox``: run the sandbox in the foreground."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any

from ssot_pipelines.settings import (
    SANDBOX_PORT_DEFAULT,
    ConfigurationError,
    env,
    private_token,
    sandbox_token_path,
    ssot_home,
)

from .ratelimit import RateLimitConfig
from .server import SandboxServer, is_loopback


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", type=Path, default=None, help="SQLite state file (default: $SSOT_HOME/notion-sandbox.sqlite)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port on the loopback interface (0 = any; default: SSOT_SANDBOX_PORT, else 8765)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (others are refused)")
    parser.add_argument(
        "--rps", type=float, default=3.0, help="average requests/second per token; 0 disables rate limiting"
    )
    parser.add_argument("--burst", type=int, default=10, help="rate limit burst size")
    parser.add_argument(
        "--window-budget",
        type=int,
        default=None,
        help="requests per token per window (Notion's per-connection model; default: off)",
    )
    parser.add_argument("--window-seconds", type=float, default=60.0, help="length of that window (Notion: 60)")
    parser.add_argument(
        "--workspace-budget",
        type=int,
        default=None,
        help="requests per window shared by every token (Notion's workspace model; default: off)",
    )
    parser.add_argument("--workspace-window-seconds", type=float, default=60.0, help="length of the workspace window")
    parser.add_argument(
        "--token-file",
        type=Path,
        default=None,
        help="file holding the API token (default: $SSOT_HOME/sandbox-token, made random, "
        "mode 0600, on first use); every client of this SSOT_HOME reads it there",
    )
    parser.add_argument(
        "--token",
        action="append",
        default=None,
        help="another accepted API token (repeatable); other users can see command lines, "
        "so use it for throwaway tokens only",
    )
    parser.add_argument(
        "--view-url",
        action="store_true",
        help="print the address that opens the HTML view (it carries the token) and exit",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; returns the process exit code."""
    if not is_loopback(args.host):
        print(f"refusing to bind {args.host!r}: the sandbox listens on loopback addresses only", file=sys.stderr)
        return 2
    if args.port is None:
        raw = env("SSOT_SANDBOX_PORT") or str(SANDBOX_PORT_DEFAULT)
        if not raw.isdigit():
            print(f"SSOT_SANDBOX_PORT={raw!r} is not a port number; set it to one from 1 to 65535", file=sys.stderr)
            return 2
        args.port = int(raw)
    if not 0 <= args.port <= 65535:
        print(f"--port {args.port} is not a TCP port; give one from 0 (any free port) to 65535", file=sys.stderr)
        return 2
    try:
        token = private_token(args.token_file or sandbox_token_path())
    except (ConfigurationError, OSError) as exc:
        print(f"cannot read the sandbox token: {exc}", file=sys.stderr)
        return 2
    if args.view_url:
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"http://{host}:{args.port}/?token={token}")
        return 0
    db = args.db if args.db is not None else ssot_home() / "notion-sandbox.sqlite"
    try:
        server = SandboxServer(
            db,
            host=args.host,
            port=args.port,
            tokens=(token, *(args.token or ())),
            rate_limits=RateLimitConfig(
                rps=args.rps or None,
                burst=args.burst,
                window_budget=args.window_budget,
                window_seconds=args.window_seconds,
                workspace_budget=args.workspace_budget,
                workspace_window_seconds=args.workspace_window_seconds,
            ),
        )
    except (RuntimeError, ValueError) as exc:
        print(f"cannot start the Notion sandbox: {exc}", file=sys.stderr)
        return 1
    try:
        server.start()
    except OSError as exc:
        server.stop()
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    # The token itself is never printed: this line ends up in $SSOT_HOME/sandbox.log.
    print(
        f"Notion sandbox on {server.url} (root page {server.root_page_id}, state {db}, token in "
        f"{args.token_file or sandbox_token_path()}); open the view with the address `ssot sandbox --view-url` "
        "prints",
        flush=True,
    )
    with contextlib.suppress(ValueError):  # not the main thread: the caller owns signal handling
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM stops the sandbox like Ctrl-C, so the state file is closed cleanly."""
    raise KeyboardInterrupt


def register(subparsers: Any) -> None:
    """Add ``ssot sandbox`` to the ``ssot`` command."""
    parser = subparsers.add_parser(
        "sandbox", help="run the local Notion sandbox (Notion-API compatible)", description=__doc__
    )
    add_options(parser)
    parser.set_defaults(func=run)
