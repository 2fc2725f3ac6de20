"""Audit the project's views (reads only): each recorded view exists, with its declared type and grouping."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import psycopg

from ssot_pipelines.dashboards.plan import VIEW_PLAN, MissingProperty, differences, home_database
from ssot_pipelines.dashboards.provision import retrieve_view
from ssot_pipelines.dashboards.records import recorded_views
from ssot_pipelines.notion.codec import normalize_id
from ssot_pipelines.notion.gateway import NotionGateway
from ssot_pipelines.notion.provision import DatabaseIds

SETUP = "run `ssot setup`"


def check_views(
    gateway: NotionGateway,
    conn: psycopg.Connection[Any],
    target: str,
    ids: Mapping[str, DatabaseIds],
    databases: Iterable[str],
    live_property_ids: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, list[str]]:
    """Problems with our views, by the database they are shown in; each says what to do.

    ``live_property_ids``: the property ids Notion has now, by database (from the schema check), so a view
    whose property a person deleted is reported; the ids recorded at provisioning stand in for the others."""
    live = live_property_ids or {}
    wanted = set(databases)
    recorded = recorded_views(conn, target)
    problems: dict[str, list[str]] = {name: [] for name in wanted}
    for spec in VIEW_PLAN:
        home = home_database(spec)
        if home not in wanted:
            continue
        found = problems[home]
        rec = recorded.get(spec.slot)
        if rec is None or spec.database not in ids or home not in ids:
            found.append(f"view {spec.title!r} was never provisioned: {SETUP} to create it")
            continue
        view = retrieve_view(gateway, rec.view_id)
        if view is None:
            found.append(f"view {spec.title!r} ({rec.view_id}) was deleted in Notion: {SETUP} to recreate it")
            continue
        dashboard = recorded.get(spec.dashboard) if spec.dashboard else None
        if dashboard is not None and normalize_id(str(view.get("dashboard_view_id") or "")) != normalize_id(
            dashboard.view_id
        ):
            found.append(f"view {spec.title!r} is not on the project's dashboard any more: {SETUP} to put it back")
            continue
        if view.get("type") != spec.type.value:
            found.append(
                f"view {spec.title!r} is a {view.get('type')} view, declared {spec.type.value}: {SETUP} to replace it"
            )
            continue
        try:
            body = spec.create_body(
                live.get(spec.database) or ids[spec.database].property_ids,
                database_id=ids[home].database_id,
                data_source_id=ids[spec.database].data_source_id,
                dashboard_id=dashboard.view_id if dashboard else "",
            )
        except MissingProperty as exc:
            found.append(str(exc))
            continue
        diffs = differences(body, view)
        if diffs:
            found.append(f"view {spec.title!r}: its {', '.join(diffs)} changed in Notion: {SETUP} to put it back")
    return problems
