"""The edits gate: one search says which databases a person edited since their last pull.

Pulling people's edits costs one data-source query per database even when nobody edited anything. One
``POST /v1/search`` for pages, newest edit first (``sort: {timestamp: last_edited_time, direction:
descending}``), answers the question for every database a step pulls: a database none of whose pages was
edited by someone other than this integration since its pull watermark (minus the pull's own margin) needs
no query. Our own writes (``last_edited_by`` is the integration's bot user) do not open the gate; an edit a
person made between the engine's pre-write pull and its write of the same page is caught by the next writing
run's pre-write pull, which always queries from the old watermark.

Safe by construction:

- a skipped database keeps its watermark, so the pull that follows later still starts from the old one:
  an edit that Notion's search index shows late is pulled then, never lost;
- when the first result page is full and every page on it is newer than the oldest watermark (a busy
  workspace, or a run that just wrote 100 pages), the gate cannot tell and says "pull everything": no paging
  through search results;
- a database without a watermark (never pulled) is always pulled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ssot_pipelines.notion.codec import normalize_id
from ssot_pipelines.notion.gateway import Call, NotionGateway

# Notion's timestamps are minute-granular: a pull looks back this far, and so does the gate.
PULL_MARGIN = timedelta(minutes=2)
SEARCH_PAGE_SIZE = 100


@dataclass
class GateAnswer:
    """Which databases to pull, and why (for logs and run metadata)."""

    pull: list[str]
    skip: list[str]
    searched: bool = False
    fell_back: bool = False  # the first result page could not answer: everything is pulled
    edited_by_people: dict[str, int] = field(default_factory=dict)


def _parse(stamp: Any) -> datetime | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


def _parent_ids(page: Mapping[str, Any]) -> set[str]:
    parent = page.get("parent") or {}
    return {normalize_id(str(parent[k])) for k in ("data_source_id", "database_id") if parent.get(k)}


def edited_since(
    gateway: NotionGateway,
    watermarks: Mapping[str, datetime | None],
    parents: Mapping[str, set[str]],
    bot_user_id: str | None,
) -> GateAnswer:
    """Ask Notion once which of ``watermarks``' databases have pages edited by a person since their watermark.

    ``parents`` gives each database's data source and database ids (a page's ``parent`` names one of them,
    by API version). ``bot_user_id`` is this integration's user: pages it edited last are its own writes.
    """
    names = list(watermarks)
    never = [n for n in names if watermarks[n] is None]
    known = {n: w for n, w in watermarks.items() if w is not None}
    if not known:
        return GateAnswer(pull=names, skip=[])
    cutoffs = {n: w - PULL_MARGIN for n, w in known.items()}
    oldest = min(cutoffs.values())
    body = {
        "filter": {"property": "object", "value": "page"},
        "sort": {"direction": "descending", "timestamp": "last_edited_time"},
        "page_size": SEARCH_PAGE_SIZE,
    }
    res = gateway.call("POST", "search", body=body, kind=Call.READ)
    results = [r for r in res.get("results", []) if isinstance(r, dict)]
    stamps = [_parse(r.get("last_edited_time")) for r in results]
    if res.get("has_more") and all(s is not None and s >= oldest for s in stamps):
        return GateAnswer(pull=names, skip=[], searched=True, fell_back=True)
    owner = {i: n for n, ids in parents.items() if n in known for i in ids}
    edited: dict[str, int] = {}
    for page, stamp in zip(results, stamps, strict=True):
        hit = next((owner[i] for i in _parent_ids(page) if i in owner), None)
        if hit is None:
            continue
        if stamp is None:  # no timestamp to judge by: pull
            edited[hit] = edited.get(hit, 0) + 1
            continue
        by = normalize_id(str((page.get("last_edited_by") or {}).get("id", "")))
        if bot_user_id and by == normalize_id(bot_user_id):
            continue  # our own write
        if stamp >= cutoffs[hit]:
            edited[hit] = edited.get(hit, 0) + 1
    pull = [n for n in names if n in never or n in edited]
    return GateAnswer(pull=pull, skip=[n for n in names if n not in pull], searched=True, edited_by_people=edited)
