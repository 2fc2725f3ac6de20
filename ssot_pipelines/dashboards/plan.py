"""The views the project provisions, declared once (issue 13 §1), and the request bodies they become.

A view names properties by **id** (notion-2026.md §3), so a plan entry names them by the schema's property
name and ``configuration`` turns names into ids with the ids recorded at provisioning. ``essentials`` is
what makes a view ours-as-declared: its type, what it groups by or plots, its date property, its filter and
sorts; cosmetic settings a person changes (column widths, visible properties) are not compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from ssot_pipelines.schemas import DatabaseSchema, PropType, database


class ViewType(StrEnum):
    TABLE = "table"
    BOARD = "board"
    TIMELINE = "timeline"
    CHART = "chart"
    DASHBOARD = "dashboard"


# The group-by ``type`` a property type takes in a view configuration.
_GROUP_TYPE = {
    PropType.SELECT: "select",
    PropType.MULTI_SELECT: "multi_select",
    PropType.DATE: "date",
    PropType.TITLE: "title",
    PropType.RICH_TEXT: "text",
    PropType.NUMBER: "number",
    PropType.RELATION: "relation",
}
_GROUP_KEYS = ("group_by", "sub_group_by", "x_axis", "stack_by")


class MissingProperty(LookupError):
    """A property a view needs is not in the data source (a person deleted it): ``ssot setup`` re-adds it."""


@dataclass(frozen=True)
class ViewSpec:
    """One view the project owns. ``slot`` is its stable identity in the ledger (never its name)."""

    slot: str
    database: str  # whose data source the view reads; for a tab, also the database it is a tab of
    name: str
    type: ViewType
    groups: tuple[str, ...] = ()  # (group_by, sub_group_by) of a board/table, (x_axis, stack_by) of a chart
    dates: tuple[str, ...] = ()  # (start, end) of a timeline
    open_only: str = ""  # a select property and value this view keeps to: "Status=open"
    sort_by: str = ""  # a property sorted ascending (select: in option order)
    dashboard: str = ""  # the slot of the dashboard this view is a widget of

    @property
    def schema(self) -> DatabaseSchema:
        return database(self.database)

    @property
    def title(self) -> str:
        """How people and messages name it: ``Tech-Debt: Open findings by Severity``, or for a widget
        ``SecondBrain dashboard: Files by Band``."""
        where = VIEWS_BY_SLOT[self.dashboard].name if self.dashboard else self.schema.title
        return f"{where}: {self.name}"

    def configuration(self, property_ids: Mapping[str, str]) -> dict[str, Any] | None:
        """The ``configuration`` object (None for a dashboard, which has none on create)."""
        pid = _ids(self, property_ids)
        if self.type is ViewType.DASHBOARD:
            return None
        config: dict[str, Any] = {"type": self.type.value}
        if self.type is ViewType.CHART:
            config["chart_type"] = "column"
            config["y_axis"] = {"aggregator": "count"}
            for key, name in zip(("x_axis", "stack_by"), self.groups, strict=False):
                config[key] = self._group(name, pid)
        elif self.type is ViewType.TIMELINE:
            config["date_property_id"] = pid(self.dates[0])
            if len(self.dates) > 1:
                config["end_date_property_id"] = pid(self.dates[1])
        else:
            for key, name in zip(("group_by", "sub_group_by"), self.groups, strict=False):
                config[key] = self._group(name, pid)
        return config

    def filter(self, property_ids: Mapping[str, str]) -> dict[str, Any] | None:
        if not self.open_only:
            return None
        name, _, value = self.open_only.partition("=")
        prop = self.schema.prop(name)
        return {"property": _ids(self, property_ids)(name), prop.type.value: {"equals": value}}

    def sorts(self, property_ids: Mapping[str, str]) -> list[dict[str, Any]] | None:
        if not self.sort_by:
            return None
        return [{"property": _ids(self, property_ids)(self.sort_by), "direction": "ascending"}]

    def create_body(
        self, property_ids: Mapping[str, str], *, database_id: str, data_source_id: str, dashboard_id: str = ""
    ) -> dict[str, Any]:
        """The ``POST /v1/views`` body: a tab of ``database_id``, or a widget of ``dashboard_id``."""
        body: dict[str, Any] = {"data_source_id": data_source_id, "name": self.name, "type": self.type.value}
        if self.dashboard:
            body["view_id"] = dashboard_id
            body["placement"] = {"type": "new_row"}
        else:
            body["database_id"] = database_id
        for key, value in (
            ("configuration", self.configuration(property_ids)),
            ("filter", self.filter(property_ids)),
            ("sorts", self.sorts(property_ids)),
        ):
            if value is not None:
                body[key] = value
        return body

    def update_body(self, property_ids: Mapping[str, str]) -> dict[str, Any]:
        """The ``PATCH /v1/views/{id}`` body that puts our essentials back (a person's cosmetics stay)."""
        body: dict[str, Any] = {"filter": self.filter(property_ids), "sorts": self.sorts(property_ids)}
        config = self.configuration(property_ids)
        if config is not None:
            body["configuration"] = config
        return body

    def _group(self, name: str, pid: Any) -> dict[str, Any]:
        prop = self.schema.prop(name)
        group: dict[str, Any] = {"type": _GROUP_TYPE[prop.type], "property_id": pid(name), "sort": {"type": "manual"}}
        if prop.type is PropType.DATE:
            group["group_by"] = "week"
            group["sort"] = {"type": "ascending"}
        return group


def _ids(spec: ViewSpec, property_ids: Mapping[str, str]) -> Any:
    def pid(name: str) -> str:
        found = property_ids.get(name)
        if not found:
            raise MissingProperty(
                f"the view {spec.title!r} needs the property {name!r}, which the {spec.schema.title} database "
                "lacks: run `ssot setup` to add it back"
            )
        return found

    return pid


def essentials(view: Mapping[str, Any]) -> dict[str, Any]:
    """What a view shows, from a view object or a create body: compared to tell ours from a changed one."""
    config = view.get("configuration") or {}
    out: dict[str, Any] = {"type": view.get("type")}
    for key in _GROUP_KEYS:
        group = config.get(key)
        if isinstance(group, dict):
            out[key] = (group.get("type"), group.get("property_id"))
    for key in ("date_property_id", "end_date_property_id", "chart_type"):
        if config.get(key) is not None:
            out[key] = config[key]
    y_axis = config.get("y_axis")
    if isinstance(y_axis, dict):
        out["y_axis"] = (y_axis.get("aggregator"), y_axis.get("property_id"))
    if view.get("filter"):
        out["filter"] = view["filter"]
    if view.get("sorts"):
        out["sorts"] = view["sorts"]
    return out


def differences(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """The essentials that differ, by name (``group_by``, ``filter``…)."""
    want, have = essentials(expected), essentials(actual)
    return sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))


DASHBOARD_SLOT = "dashboard"
FILES_BY_BAND = ViewSpec("drift_board/chart", "drift_board", "Files by Band", ViewType.CHART, groups=("Band",))
OPEN_FINDINGS_CHART = ViewSpec(
    "tech_debt/chart",
    "tech_debt",
    "Open findings by Severity and Tool",
    ViewType.CHART,
    groups=("Severity", "Tool"),
    open_only="Status=open",
)

# The order matters: a dashboard before its widgets.
VIEW_PLAN: tuple[ViewSpec, ...] = (
    ViewSpec("secondbrain_tasks/board", "secondbrain_tasks", "Board by Status", ViewType.BOARD, groups=("Status",)),
    ViewSpec(
        "task_tracking/board",
        "task_tracking",
        "Board by Status and Agent",
        ViewType.BOARD,
        groups=("Status", "Assigned Agent"),
    ),
    ViewSpec("drift_board/board", "drift_board", "Board by Band", ViewType.BOARD, groups=("Band",)),
    FILES_BY_BAND,
    ViewSpec(
        "tech_debt/open",
        "tech_debt",
        "Open findings by Severity",
        ViewType.TABLE,
        open_only="Status=open",
        sort_by="Severity",
    ),
    OPEN_FINDINGS_CHART,
    ViewSpec(
        "cli_sessions/timeline",
        "cli_sessions",
        "Timeline by Start Time",
        ViewType.TIMELINE,
        dates=("Start Time", "End Time"),
    ),
    ViewSpec("file_catalog/by_component", "file_catalog", "Files by Component", ViewType.TABLE, groups=("Component",)),
    # One dashboard (a tab of the Drift Board) that brings the charts together, each chart a widget.
    ViewSpec(DASHBOARD_SLOT, "drift_board", "SecondBrain dashboard", ViewType.DASHBOARD),
    replace(FILES_BY_BAND, slot="dashboard/files_by_band", dashboard=DASHBOARD_SLOT),
    replace(OPEN_FINDINGS_CHART, slot="dashboard/open_findings", dashboard=DASHBOARD_SLOT),
)
VIEWS_BY_SLOT: dict[str, ViewSpec] = {v.slot: v for v in VIEW_PLAN}


def home_database(spec: ViewSpec) -> str:
    """The database a view is shown in: its own for a tab, its dashboard's for a widget."""
    return VIEWS_BY_SLOT[spec.dashboard].database if spec.dashboard else spec.database
