"""``ssot statuspage``: bring the "SSoT Status" page up to date by hand (read back and repaired)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ssot_pipelines.settings import ConfigurationError


def register(subparsers: Any) -> None:
    """Add ``statuspage`` to the ``ssot`` parser."""
    parser = subparsers.add_parser(
        "statuspage",
        help="refresh the SSoT Status page in Notion (read back, repaired)",
        description="Refresh the SSoT Status page under the parent page: the page is read back first, so a page "
        "or block a person deleted is created again and edited blocks are written back.",
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="only write the blocks whose text changed (no read-back)"
    )
    parser.set_defaults(func=_statuspage)


def _statuspage(args: argparse.Namespace) -> int:
    from ssot_pipelines.notion.setup import open_sync_manager
    from ssot_pipelines.statuspage.page import refresh_status_page

    try:
        manager = open_sync_manager()
    except ConfigurationError as exc:
        print(f"ssot statuspage: {exc}", file=sys.stderr)
        return 1
    with manager:
        update = refresh_status_page(manager, verify=not args.no_verify)
    print(update.summary())
    return 0
