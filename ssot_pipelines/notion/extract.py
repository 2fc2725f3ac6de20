"""The extract contract: what an extract function gets, and what it returns (a DataFrame of records).

Plain code, no Dagster: the asset wrapper (``assets/notion_sync.py``) and the ``ssot`` commands build an
``ExtractContext`` and call the extract; the sync engine takes the frame it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import psycopg
import redis

from ssot_pipelines.notion.sync import NotionSyncManager


@dataclass(frozen=True)
class SyncOptions:
    """How one run syncs a database (the plain fields of the asset's run config)."""

    full: bool = False  # daily reconcile: read Notion back, repair edits to machine values, recreate deleted rows
    paths: Sequence[str] = field(default_factory=tuple)  # incremental scope (File Catalog): only these paths
    force_archive: bool = False  # allow archiving more than half of a database in one run


@dataclass
class ExtractContext:
    """What an extract function may use; it returns the desired records as a DataFrame."""

    config: SyncOptions
    log: Any  # logging.Logger-like: info/warning
    ledger: psycopg.Connection[dict[str, Any]]
    redis: redis.Redis
    postgres_url: str
    vectors: Callable[[], Any]
    embedder: Callable[[], Any]
    notifier: Any
    run_id: str
    sync: NotionSyncManager


Extract = Callable[[ExtractContext], pd.DataFrame]
