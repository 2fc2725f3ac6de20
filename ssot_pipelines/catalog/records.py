"""File Catalog records for Notion, per the DataFrame contract (key + machine-owned properties)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ssot_pipelines.catalog.config import CatalogConfig
from ssot_pipelines.catalog.state import FileEntry

COLUMNS = ["key", "Path", "SHA", "Type", "Last Modified", "Size", "Preview", "Component", "Repository"]


def title_of(entry: FileEntry, config: CatalogConfig) -> str:
    """The Path shown in Notion: repository-relative, prefixed by the repository when there are several."""
    return entry.key if config.prefix_titles else entry.path


def last_modified(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def record_of(entry: FileEntry, config: CatalogConfig) -> dict[str, Any]:
    return {
        "key": entry.key,
        "Path": title_of(entry, config),
        "SHA": entry.sha,
        "Type": entry.file_type,
        "Last Modified": last_modified(entry.last_modified_ns),
        "Size": entry.size,
        "Preview": entry.preview,
        # The mapping is applied at record time so a changed components file reaches every row.
        "Component": config.components.component_for(entry.path, entry.repo),
        "Repository": entry.repo,
    }


def catalog_frame(
    entries: Sequence[FileEntry],
    config: CatalogConfig,
    *,
    mode: str,
    vanished: Sequence[str] = (),
    metadata: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """The File Catalog frame: ``mode`` "full" (complete desired state) or "incremental" (+ ``vanished``)."""
    # object dtype: pandas 3 would turn a missing string into NaN, which is not "no value" in JSON.
    frame = pd.DataFrame([record_of(e, config) for e in entries], columns=COLUMNS, dtype=object)
    frame.attrs["sync_mode"] = mode
    frame.attrs["vanished"] = list(vanished)
    frame.attrs["metadata"] = dict(metadata or {})
    return frame
