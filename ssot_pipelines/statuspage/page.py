"""The "SSoT Status" page in Notion: one page under the parent page, rewritten in place.

The page is a fixed skeleton of blocks (``sections.section_names``), created once and tracked by id in the
ledger. A refresh PATCHes only the blocks whose text changed, usually one; it never deletes and re-appends,
because Notion's Free block limit counts every block ever created. The page is read back (two requests) by
hand, on a full sync (once for all its parallel steps), at least daily, and whenever a write to a block
fails: a page a person trashed is created again, a missing block is appended in its place, a block a person
edited is written back. An ordinary incremental run reads nothing back, so its refresh is usually one request.
A create is never repeated blindly: the ledger notes it first, and a create whose answer was lost is adopted.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from ssot_pipelines.drift.records import band_counts
from ssot_pipelines.notion.codec import normalize_id
from ssot_pipelines.notion.gateway import Call, NotionError
from ssot_pipelines.notion.sync import NotionSyncManager
from ssot_pipelines.notion.text import block_text, split_text
from ssot_pipelines.statuspage import store
from ssot_pipelines.statuspage.sections import (
    SHOWN_FAILURES,
    Section,
    block_limit_section,
    budget_section,
    database_sections,
    drift_section,
    failures_section,
    hooks_section,
    intro_section,
    section_names,
    services_section,
)

log = logging.getLogger(__name__)

PAGE_TITLE = "SSoT Status"
VERIFY_BACKSTOP = timedelta(hours=24)  # read the page back at least this often, whatever runs
VERIFY_SETTLE = timedelta(minutes=10)  # a full sync's parallel steps read it back once between them
REPAIRABLE_STATUS = (400, 404)  # a block (or its page) deleted by a person: read the page back and repair


@dataclass
class StatusUpdate:
    """What one refresh did."""

    page_id: str = ""
    requests: int = 0
    blocks_written: int = 0
    blocks_recreated: int = 0
    created_page: bool = False
    verified: bool = False
    sections_written: list[str] = field(default_factory=list)

    def summary(self) -> str:
        done = "created" if self.created_page else "updated"
        extra = f", {self.blocks_recreated} block(s) recreated" if self.blocks_recreated else ""
        checked = ", read back" if self.verified else ""
        which = f" ({', '.join(self.sections_written)})" if self.sections_written and not self.created_page else ""
        return (
            f"status page {self.page_id} {done}: {self.blocks_written} block(s) written{which}{extra}{checked}; "
            f"{self.requests} request(s)"
        )


def block_limit_lines(manager: NotionSyncManager) -> list[str]:
    """The Free-workspace block limit as the engine knows it (``notion.desired.block_limit_state``)."""
    from ssot_pipelines.notion.desired import block_limit_state

    state = block_limit_state(manager.conn, manager.target)
    if state is None:
        return ["Notion never refused a new block: page bodies are written as they change"]
    if state["held"]:
        since = state["held_since"]
        when = f"{since:%Y-%m-%d %H:%M}Z" if since is not None else "an earlier run"
        return [
            f"HELD since {when} ({state['refusals']} refusals): page bodies wait in the ledger, properties keep "
            "syncing, each sync tries one body",
            str(state["what_to_do"]),
        ]
    released = state["released_at"]
    when = f"{released:%Y-%m-%d %H:%M}Z" if released is not None else "a later run"
    return [f"Notion refused new blocks ({state['refusals']} times); writing resumed at {when}: bodies are written"]


def gather_sections(manager: NotionSyncManager) -> list[Section]:
    """Every section's current text, from the ledger, the pacer and the services (no Notion request)."""
    from ssot_pipelines.services.status import service_status
    from ssot_pipelines.sessions.store import capture_backlog
    from ssot_pipelines.settings import redact

    conn = manager.conn
    bands = band_counts(conn)
    backlog = capture_backlog(conn)
    base = manager.gateway.base_url
    local = (urlsplit(base).hostname or "") in ("127.0.0.1", "localhost", "::1")
    notion = ("Notion API", "local sandbox" if local else "configured", redact(base))
    services = [
        (p.part, p.mode, p.where)
        for p in service_status()
        if p.part not in ("Notion", "Notion sandbox", "Hook capture")
    ]
    sections = [
        intro_section(),
        *database_sections(conn, manager.target),
        drift_section(bands),
        hooks_section(backlog.journal_bytes_pending, backlog.quarantined),
        budget_section(manager.gateway.pacer.describe()),
        services_section([notion, *services]),
        block_limit_section(block_limit_lines(manager)),
        failures_section(store.recent_failures(conn, SHOWN_FAILURES)),
    ]
    conn.commit()
    assert [s.name for s in sections] == section_names()
    return sections


def rich_text(section: Section) -> list[dict[str, Any]]:
    title = {"type": "text", "text": {"content": section.title}, "annotations": {"bold": True}}
    rest = split_text("\n" + "\n".join(section.lines)) if section.lines else []
    return [title, *({"type": "text", "text": {"content": piece}} for piece in rest)]


def paragraph(section: Section) -> dict[str, Any]:
    return {"object": "block", "type": "paragraph", "paragraph": {"rich_text": rich_text(section)}}


def text_hash(section: Section) -> str:
    return hashlib.sha256(json.dumps(rich_text(section), sort_keys=True).encode()).hexdigest()


class StatusPageWriter:
    """Writes one target's status page through the manager's gateway (paced and counted like every request)."""

    def __init__(self, manager: NotionSyncManager) -> None:
        if not manager.parent_page_id:
            raise RuntimeError("the sync manager does not know its parent page; open it with open_sync_manager")
        self.manager = manager
        self.gateway = manager.gateway
        self.conn = manager.conn
        self.target = manager.target
        self.parent_page_id = manager.parent_page_id

    def refresh(self, *, verify: bool = False, full_sync: bool = False) -> StatusUpdate:
        """Make the page show the current figures. ``verify`` reads the page back (and repairs it); so does a
        ``full_sync`` unless another step just did."""
        sections = gather_sections(self.manager)
        before = self.gateway.stats.snapshot()["requests"]
        update = StatusUpdate()
        with store.page_lock(self.conn, self.target):
            stored = store.stored_page(self.conn, self.target)
            if stored is not None and not stored.page_id:
                stored = self._adopt(sections)  # a create whose answer was lost: find the page it may have made
            if stored is None:
                self._create(sections, update)
            else:
                update.page_id = stored.page_id
                age = datetime.now(UTC) - stored.verified_at if stored.verified_at else None
                due = age is None or age > VERIFY_BACKSTOP or (full_sync and age > VERIFY_SETTLE)
                if verify or due or not self._write_changed(stored, sections, update):
                    self._verify(stored, sections, update)
        update.requests = self.gateway.stats.snapshot()["requests"] - before
        return update

    # -- creating -----------------------------------------------------------------------------------

    def _create(self, sections: list[Section], update: StatusUpdate) -> None:
        # A create is never repeated blindly: until its answer is kept, the ledger says one may have landed.
        store.save_page(self.conn, self.target, "")
        self.conn.commit()
        body = {
            "parent": {"type": "page_id", "page_id": self.parent_page_id},
            "properties": {"title": {"title": [{"type": "text", "text": {"content": PAGE_TITLE}}]}},
            "children": [paragraph(s) for s in sections],
        }
        page = self.gateway.call("POST", "pages", body=body, kind=Call.CREATE)
        page_id = str(page["id"])
        store.save_page(self.conn, self.target, page_id)
        self.conn.commit()
        children = self._children(page_id)
        for section, block in zip(sections, children, strict=False):
            store.save_block(self.conn, self.target, section.name, str(block["id"]), text_hash(section))
        self.conn.commit()
        update.page_id = page_id
        update.created_page = True
        update.blocks_written = len(sections)

    def _adopt(self, sections: list[Section]) -> store.StoredPage | None:
        """The live "SSoT Status" child page of the parent, if an interrupted create made one; its blocks are
        matched to sections by their first line (the section title), the rest is repaired by a read-back."""
        pages = [
            b
            for b in self._children(self.parent_page_id)
            if b.get("type") == "child_page" and b.get("child_page", {}).get("title") == PAGE_TITLE
        ]
        if not pages:
            return None
        page_id = str(pages[-1]["id"])
        store.save_page(self.conn, self.target, page_id)
        by_title = {s.title: s for s in sections}  # titles are unique on the page
        for block in self._children(page_id):
            text = block_text(block) if block.get("type") == "paragraph" else ""
            section = by_title.pop(text.split("\n", 1)[0], None)
            if section is not None:
                written = text_hash(section) if text == section.text else ""
                store.save_block(self.conn, self.target, section.name, str(block["id"]), written)
        self.conn.commit()
        log.info("adopted the status page %s an interrupted create left", page_id)
        adopted = store.stored_page(self.conn, self.target)
        return None if adopted is None else store.StoredPage(adopted.page_id, None, adopted.blocks)

    def _children(self, block_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query: dict[str, Any] = {"page_size": 100, **({"start_cursor": cursor} if cursor else {})}
            res = self.gateway.call("GET", f"blocks/{block_id}/children", query=query, kind=Call.READ)
            out += [b for b in res.get("results", []) if not b.get("in_trash")]
            if not res.get("has_more"):
                return out
            cursor = str(res["next_cursor"])

    # -- writing in place ---------------------------------------------------------------------------

    def _write_changed(self, stored: store.StoredPage, sections: list[Section], update: StatusUpdate) -> bool:
        """PATCH the blocks whose text changed; False when a block is missing or a write found it gone."""
        for section in sections:
            known = stored.blocks.get(section.name)
            if known is None:
                return False
            block_id, written = known
            digest = text_hash(section)
            if digest == written:
                continue
            try:
                self._patch(block_id, section)
            except NotionError as exc:
                if exc.status in REPAIRABLE_STATUS:
                    log.info("status page block %s could not be written (%s): reading the page back", block_id, exc)
                    return False
                raise
            update.blocks_written += 1
            update.sections_written.append(section.name)
        return True

    def _patch(self, block_id: str, section: Section) -> None:
        self.gateway.call(
            "PATCH", f"blocks/{block_id}", body={"paragraph": {"rich_text": rich_text(section)}}, kind=Call.UPDATE
        )
        store.save_block(self.conn, self.target, section.name, block_id, text_hash(section))
        self.conn.commit()

    # -- reading back and repairing -----------------------------------------------------------------

    def _verify(self, stored: store.StoredPage, sections: list[Section], update: StatusUpdate) -> None:
        update.verified = True
        try:
            page: dict[str, Any] | None = self.gateway.call("GET", f"pages/{stored.page_id}", kind=Call.READ)
        except NotionError as exc:
            if exc.status != 404:
                raise
            page = None
        if page is None or page.get("in_trash") or page.get("archived"):
            log.info("the status page %s was deleted in Notion: creating it again", stored.page_id)
            update.blocks_written = 0
            self._create(sections, update)
            return
        live = {normalize_id(str(b["id"])): b for b in self._children(stored.page_id)}
        previous: str | None = None
        for section in sections:
            known = stored.blocks.get(section.name)
            block = live.get(normalize_id(known[0])) if known else None
            if block is not None and known is not None:
                if block.get("type") == "paragraph" and (
                    block_text(block) != section.text or known[1] != text_hash(section)
                ):
                    self._patch(known[0], section)
                    update.blocks_written += 1
                    update.sections_written.append(section.name)
                if block.get("type") == "paragraph":
                    previous = known[0]
                    continue
            previous = self._append(stored.page_id, section, previous)
            update.blocks_recreated += 1
            update.blocks_written += 1
            update.sections_written.append(section.name)
        store.mark_verified(self.conn, self.target)
        self.conn.commit()

    def _append(self, page_id: str, section: Section, after: str | None) -> str:
        """Append a missing section's block after the previous section's (``after`` or, from 2026-03-11 on,
        ``position``: the gateway words it for its version)."""
        body = self.gateway.append_body([paragraph(section)], after_block=after)
        res = self.gateway.call("PATCH", f"blocks/{page_id}/children", body=body, kind=Call.CREATE)
        block_id = str(res["results"][0]["id"])
        store.save_block(self.conn, self.target, section.name, block_id, text_hash(section))
        self.conn.commit()
        return block_id


def refresh_status_page(manager: NotionSyncManager, *, verify: bool = False, full_sync: bool = False) -> StatusUpdate:
    """Bring the target's "SSoT Status" page up to date (see the module docstring)."""
    return StatusPageWriter(manager).refresh(verify=verify, full_sync=full_sync)
