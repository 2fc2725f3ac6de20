"""Make the project's views exist as declared (``plan.VIEW_PLAN``), on full syncs and ``ssot setup``.

- A view is ours only by the id recorded in ``dashboard_views``. A person's view is never changed or
  deleted, even when it has the name of one of ours.
- One of ours that a person deleted is recreated and reported (``restored``). One whose grouping, axes,
  filter or sorts were changed is patched back (``repaired``); a person's cosmetic changes stay.
- Without a record (first run, or a ledger reset) a view is adopted only when it is safe: same name and
  type, made by this integration (``created_by`` is our bot user), not recorded for another slot.
- ``views.create`` is not idempotent: it is sent as ``Call.CREATE`` (never repeated blindly). A create
  that may or may not have been applied leaves no record, so the next run adopts it instead of making a twin.
- Cost: one retrieve per view on a full sync (plus list calls only when something must be adopted); an
  incremental run never calls this.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from ssot_pipelines.dashboards.plan import VIEW_PLAN, MissingProperty, ViewSpec, differences, home_database
from ssot_pipelines.dashboards.records import mark_checked, record_view, recorded_views
from ssot_pipelines.notion.codec import normalize_id
from ssot_pipelines.notion.gateway import AmbiguousWriteError, Call, NotionError, NotionGateway
from ssot_pipelines.notion.provision import DatabaseIds

Log = Callable[[str], None]


@dataclass
class ViewsReport:
    """What one provisioning pass did, by the views' titles (``Tech-Debt: Open findings by Severity``)."""

    created: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    requests: int = 0

    def summary(self) -> str:
        return (
            f"views: {len(self.created)} created, {len(self.restored)} restored, {len(self.repaired)} repaired, "
            f"{len(self.adopted)} adopted, {len(self.unchanged)} unchanged, {len(self.failed)} failed "
            f"({self.requests} requests)"
        )


def provision_views(
    gateway: NotionGateway,
    conn: psycopg.Connection[Any],
    target: str,
    ids: Mapping[str, DatabaseIds],
    *,
    log: Log | None = None,
    plan: Sequence[ViewSpec] = VIEW_PLAN,
    fresh_databases: Collection[str] = (),
) -> ViewsReport:
    """Create, restore or repair the project's views; one provisioner per target at a time.

    ``fresh_databases``: databases created moments ago by the same caller (``ssot setup``), which hold no
    view of ours to adopt, so they are not searched."""
    lock = "ssot-views:" + target
    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (lock,))
    try:
        provisioner = _Provisioner(gateway, conn, target, ids, log or (lambda _line: None), set(fresh_databases))
        return provisioner.run(plan)
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (lock,))
        conn.commit()


class _Provisioner:
    def __init__(
        self,
        gateway: NotionGateway,
        conn: psycopg.Connection[Any],
        target: str,
        ids: Mapping[str, DatabaseIds],
        log: Log,
        fresh: set[str],
    ) -> None:
        self.gateway = gateway
        self.conn = conn
        self.target = target
        self.ids = ids
        self.log = log
        self.report = ViewsReport()
        self.recorded = recorded_views(conn, target)
        self.current: dict[str, str] = {}  # slot → the view id in use after this run
        self._property_ids: dict[str, dict[str, str]] = {}
        self._bot_id: str | None = None
        self._listed: dict[str, list[str]] = {}
        self._seen: dict[str, dict[str, Any] | None] = {}  # views retrieved while looking for ours
        self.fresh = fresh

    def run(self, plan: Sequence[ViewSpec]) -> ViewsReport:
        before = self.gateway.stats.requests
        for spec in plan:
            try:
                self._ensure(spec)
            except (NotionError, MissingProperty) as exc:
                self.report.failed[spec.title] = str(exc)
                self.log(f"view {spec.title!r} could not be provisioned: {exc}")
            self.conn.commit()
        self.report.requests = self.gateway.stats.requests - before
        return self.report

    # -- one view ------------------------------------------------------------------------------------

    def _ensure(self, spec: ViewSpec) -> None:
        home = home_database(spec)
        if spec.database not in self.ids or home not in self.ids:
            raise MissingProperty(f"the {spec.schema.title} database is not provisioned: run `ssot setup`")
        dashboard_id = ""
        if spec.dashboard:
            dashboard_id = self.current.get(spec.dashboard, "")
            if not dashboard_id:
                raise MissingProperty(f"its dashboard ({spec.dashboard}) could not be provisioned")
        body = spec.create_body(
            self._props(spec.database),
            database_id=self.ids[home].database_id,
            data_source_id=self.ids[spec.database].data_source_id,
            dashboard_id=dashboard_id,
        )
        rec = self.recorded.get(spec.slot)
        view = self._retrieve(rec.view_id) if rec is not None else None
        if view is not None and spec.dashboard and not _same(view.get("dashboard_view_id"), dashboard_id):
            view = None  # a widget of a dashboard that is gone (its widgets went with it)
        if view is not None:
            self._check(spec, view, body, home)
            return
        if rec is None and home not in self.fresh and spec.database not in self.fresh:
            adopted = self._adoptable(spec, body, home, dashboard_id)
            if adopted is not None:
                self.report.adopted.append(spec.title)
                self.log(f"view {spec.title!r}: adopted {adopted['id']} (made by this integration, not recorded)")
                self._check(spec, adopted, body, home, adopted_now=True)
                return
        created = self._create(spec, body, home, forget_on_doubt=rec is not None)
        if rec is None:
            self.report.created.append(spec.title)
        else:
            self.report.restored.append(spec.title)
            self.log(f"view {spec.title!r} was deleted in Notion; recreated it as {created}")

    def _check(
        self, spec: ViewSpec, view: Mapping[str, Any], body: Mapping[str, Any], home: str, *, adopted_now: bool = False
    ) -> None:
        view_id = str(view["id"])
        diffs = differences(body, view)
        if not diffs:
            if not adopted_now:
                self.report.unchanged.append(spec.title)
            record_view(self.conn, self.target, spec.slot, view_id, home, spec.type.value)
            mark_checked(self.conn, self.target, spec.slot)
            self.current[spec.slot] = view_id
            return
        if view.get("type") == spec.type.value:
            self.gateway.call(
                "PATCH", f"views/{view_id}", body=spec.update_body(self._props(spec.database)), kind=Call.UPDATE
            )
            record_view(self.conn, self.target, spec.slot, view_id, home, spec.type.value)
            self.current[spec.slot] = view_id
        else:
            # A view's type cannot be patched: make the right one, then drop ours that changed type.
            self._create(spec, dict(body), home, forget_on_doubt=True)
            self.gateway.call("DELETE", f"views/{view_id}", kind=Call.UPDATE)
        if not adopted_now:
            self.report.repaired.append(spec.title)
        self.log(f"view {spec.title!r}: put back {', '.join(diffs)} (changed in Notion)")

    def _create(self, spec: ViewSpec, body: Mapping[str, Any], home: str, *, forget_on_doubt: bool) -> str:
        try:
            created = self.gateway.call("POST", "views", body=dict(body), kind=Call.CREATE)
        except AmbiguousWriteError:
            if forget_on_doubt:  # the next run looks for it (adoption) instead of creating a twin
                self.conn.execute(
                    "DELETE FROM dashboard_views WHERE target = %s AND slot = %s", (self.target, spec.slot)
                )
            raise
        view_id = str(created["id"])
        record_view(self.conn, self.target, spec.slot, view_id, home, spec.type.value, restored=forget_on_doubt)
        self.current[spec.slot] = view_id
        return view_id

    # -- reading Notion --------------------------------------------------------------------------------

    def _retrieve(self, view_id: str) -> dict[str, Any] | None:
        return retrieve_view(self.gateway, view_id)

    def _props(self, database_name: str) -> dict[str, str]:
        """Property ids by name: those recorded at provisioning, re-read once if one is missing."""
        if database_name not in self._property_ids:
            self._property_ids[database_name] = dict(self.ids[database_name].property_ids)
        wanted = {p.name for p in _needed(database_name)}
        if not wanted <= set(self._property_ids[database_name]):
            ds = self.gateway.call("GET", f"data_sources/{self.ids[database_name].data_source_id}")
            self._property_ids[database_name] = {
                name: str(p.get("id", name)) for name, p in (ds.get("properties") or {}).items()
            }
        return self._property_ids[database_name]

    def _adoptable(
        self, spec: ViewSpec, body: Mapping[str, Any], home: str, dashboard_id: str
    ) -> dict[str, Any] | None:
        """One of our views from before a ledger reset: same name and type, made by this integration."""
        if spec.dashboard:
            candidates = self._list("data_source_id", self.ids[spec.database].data_source_id)
        else:
            candidates = self._list("database_id", self.ids[home].database_id)
        taken = {normalize_id(r.view_id) for r in self.recorded.values()} | {
            normalize_id(v) for v in self.current.values()
        }
        for view_id in candidates:
            if normalize_id(view_id) in taken:
                continue
            if view_id not in self._seen:
                self._seen[view_id] = self._retrieve(view_id)
            view = self._seen[view_id]
            if view is None or view.get("name") != spec.name or view.get("type") != spec.type.value:
                continue
            if spec.dashboard and not _same(view.get("dashboard_view_id"), dashboard_id):
                continue
            creator = (view.get("created_by") or {}).get("id")
            if creator and _same(creator, self._bot_user_id()):
                return view
        return None

    def _list(self, by: str, object_id: str) -> list[str]:
        key = f"{by}={object_id}"
        if key not in self._listed:
            found: list[str] = []
            cursor: str | None = None
            while True:
                query: dict[str, Any] = {by: object_id, "page_size": 100}
                if cursor:
                    query["start_cursor"] = cursor
                res = self.gateway.call("GET", "views", query=query)
                found += [str(v["id"]) for v in res.get("results", [])]
                if not res.get("has_more"):
                    break
                cursor = res.get("next_cursor")
            self._listed[key] = found
        return self._listed[key]

    def _bot_user_id(self) -> str:
        if self._bot_id is None:
            me = self.gateway.call("GET", "users/me")
            self._bot_id = str(me.get("id", ""))
        return self._bot_id


def retrieve_view(gateway: NotionGateway, view_id: str) -> dict[str, Any] | None:
    """The view, or None when it was deleted (404; a trashed view counts as deleted too)."""
    try:
        view: dict[str, Any] = gateway.call("GET", f"views/{view_id}")
    except NotionError as exc:
        if exc.status == 404:
            return None
        raise
    return None if view.get("in_trash") or view.get("archived") else view


def _needed(database_name: str) -> list[Any]:
    """The schema's properties the plan's views of ``database_name`` use."""
    names: set[str] = set()
    for spec in VIEW_PLAN:
        if spec.database == database_name:
            names.update(spec.groups, spec.dates)
            for ref in (spec.open_only.partition("=")[0], spec.sort_by):
                if ref:
                    names.add(ref)
    schema_props = {p.name: p for spec in VIEW_PLAN if spec.database == database_name for p in spec.schema.properties}
    return [schema_props[n] for n in sorted(names)]


def _same(a: Any, b: Any) -> bool:
    return bool(a) and bool(b) and normalize_id(str(a)) == normalize_id(str(b))
