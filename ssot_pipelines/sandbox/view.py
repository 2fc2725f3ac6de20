"""A read-only HTML view of the sandbox workspace: what a new user looks at before connecting Notion.

Made to be read on an ordinary screen (1,600 pixels): long cells are cut with a ``<details>`` to expand
them, numbers are grouped (27,408), relations show the related pages' titles, and an empty database says
which command fills it.
"""

from __future__ import annotations

from html import escape

from .api import NotionApi
from .blocks import block_text
from .ids import iso_minute, try_parse_id
from .properties import stored_value, title_property, value_text
from .richtext import plain_text
from .store import Record

CELL_PREVIEW_CHARS = 120  # longer cells show this much, with the rest behind a click

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5rem 2rem;color:#222;max-width:100rem}"
    "h1{margin:.4rem 0}.wrap{overflow-x:auto}"
    "table{border-collapse:collapse;font-size:.9rem}"
    "td,th{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top;max-width:32rem;"
    "overflow-wrap:anywhere}"
    "th{background:#f4f4f4;position:sticky;top:0}td.num{text-align:right;white-space:nowrap}"
    "details summary{cursor:pointer}details[open] summary{color:#888}"
    ".muted{color:#777}code{background:#f4f4f4;padding:0 .25rem}"
)

# Which command fills each of the project's databases, shown when one is empty.
FILL_COMMANDS = {
    "File Catalog": "dagster asset materialize -m ssot_pipelines.definitions --select file_catalog",
    "Drift Board": "dagster asset materialize -m ssot_pipelines.definitions --select drift_board",
    "Tech-Debt": "ssot analyze run (or ssot analyze import REPORT), then "
    "dagster asset materialize -m ssot_pipelines.definitions --select tech_debt",
    "CLI Sessions": "ssot hooks install (live) or ssot import (existing transcripts), then "
    "dagster asset materialize -m ssot_pipelines.definitions --select cli_session_events+",
    "Slack Conversations": "ssot slack import EXPORT.zip (or ssot slack serve for live events), then "
    "dagster asset materialize -m ssot_pipelines.definitions --select slack_conversations",
    "Task Tracking": "ssot stage task_tracking FILE, then "
    "dagster asset materialize -m ssot_pipelines.definitions --select task_tracking",
    "SecondBrain Tasks": "raised by drift and critical tech debt: "
    "dagster asset materialize -m ssot_pipelines.definitions --select secondbrain_tasks",
}


def render(api: NotionApi, path: str) -> tuple[int, str]:
    """Status and HTML for ``/``, ``/view/databases/{id}`` or ``/view/pages/{id}``."""
    with api.store.lock:
        if path == "/":
            return 200, _index(api)
        parts = path.strip("/").split("/")
        object_id = try_parse_id(parts[2]) if len(parts) == 3 else None
        if object_id and parts[1] == "databases" and (db := api.store.get(object_id, "database")):
            return 200, _database(api, db)
        if object_id and parts[1] == "pages" and (page := api.store.get(object_id, "page")):
            return 200, _page(api, page)
    return 404, _document("Not found", "<p>No such database or page in this sandbox.</p>")


def plural(count: int, noun: str) -> str:
    """``1 row``, ``2 rows``, ``27,408 rows``."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def format_number(value: object) -> str:
    """27408.0 → ``27,408``; 0.4567 → ``0.4567``; anything else unchanged."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def cell(text: str, limit: int = CELL_PREVIEW_CHARS) -> str:
    """Escaped text; past ``limit`` characters the rest sits behind a click (``<details>``)."""
    if len(text) <= limit:
        return escape(text)
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return (
        f"<details><summary>{escape(cut)}… <span class='muted'>({len(text):,} characters)</span>"
        f"</summary>{escape(text)}</details>"
    )


def _document(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<meta name='viewport' content='width=device-width'><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def _live_rows(api: NotionApi, db: Record) -> list[Record]:
    return [
        api.store.objects[page_id]
        for ds_id in db["data_sources"]
        for page_id in api.store.rows.get(ds_id, [])
        if not api.store.objects[page_id]["in_trash"]
    ]


def _index(api: NotionApi) -> str:
    rows = []
    for db in api.store.objects.values():
        if db["kind"] != "database" or db["in_trash"]:
            continue
        pages = _live_rows(api, db)
        title = plain_text(db["title"]) or "Untitled"
        # A database's own timestamp moves only when its schema does; people want to know when rows did.
        edited = max([db["edited"], *(p["edited"] for p in pages)])
        hint = "" if pages else _fill_hint(title)
        rows.append(
            f"<tr><td><a href='/view/databases/{db['id']}'>{escape(title)}</a></td>"
            f"<td class='num'>{len(pages):,}</td><td>{_when(edited)}</td><td>{hint}</td></tr>"
        )
    table = (
        "<table><tr><th>Database</th><th>Rows</th><th>Last edited</th><th></th></tr>" + "".join(rows) + "</table>"
        if rows
        else "<p class='muted'>No databases yet: run <code>ssot setup</code> (or <code>bash .ci/quickstart</code>) "
        "to create them.</p>"
    )
    root = escape(api.store.root_page_id)
    return _document(
        "Notion sandbox",
        f"<h1>Notion sandbox</h1><p class='muted'>Root page "
        f"<a href='/view/pages/{root}'>SecondBrain</a> ({root})</p>{table}",
    )


def _fill_hint(title: str, lead: str = "empty") -> str:
    command = FILL_COMMANDS.get(title)
    if command is None:
        return f"<span class='muted'>{lead}</span>"
    return f"<span class='muted'>{lead}: fill it with</span> <code>{escape(command)}</code>"


def _when(ts: float) -> str:
    """Minute precision, as Notion reports it, in a form people read (``2026-12-03 07:41 UTC``)."""
    iso = iso_minute(ts)
    return f"{iso[:10]} {iso[11:16]} UTC"


def _database(api: NotionApi, db: Record) -> str:
    title = plain_text(db["title"]) or "Untitled"
    sections = []
    for ds_id in db["data_sources"]:
        ds = api.store.get(ds_id, "data_source")
        if ds is None:
            continue
        props = _ordered(list(ds["props"].values()))
        head = "".join(f"<th>{escape(p['name'])}</th>" for p in props)
        body = []
        for page_id in api.store.rows.get(ds_id, []):
            page = api.store.objects[page_id]
            if page["in_trash"]:
                continue
            body.append("<tr>" + "".join(_cell_html(api, page, prop) for prop in props) + "</tr>")
        ds_title = plain_text(ds["title"])
        heading = f"<h2>{escape(ds_title)}</h2>" if ds_title and ds_title != title else ""
        if body:
            table = f"<div class='wrap'><table><tr>{head}</tr>{''.join(body)}</table></div>"
        else:
            table = f"<p>{_fill_hint(title, 'This database is empty')}</p>"
        sections.append(f"{heading}<p class='muted'>{plural(len(body), 'row')}</p>{table}")
    views = _views_html(api, db)
    return _document(title, f"<p><a href='/'>← all databases</a></p><h1>{escape(title)}</h1>{views}{''.join(sections)}")


def _views_html(api: NotionApi, db: Record) -> str:
    """The database's views (its tabs, a dashboard's widgets under it): name, type, what it groups by, who made it."""
    items = []
    for tab in api.views_of(db):
        widgets = "".join(f"<li>{_view_line(api, w)}</li>" for w in api.widgets_of(tab))
        items.append(f"<li>{_view_line(api, tab)}" + (f"<ul>{widgets}</ul>" if widgets else "") + "</li>")
    if not items:
        return "<p class='muted'>No views.</p>"
    return f"<h2>Views</h2><ul>{''.join(items)}</ul>"


def _view_line(api: NotionApi, view: Record) -> str:
    ds = api.store.get(view["data_source_id"], "data_source")
    names = {p["id"]: p["name"] for p in ds["props"].values()} if ds else {}
    config = view.get("configuration") or {}
    details = []
    for key, label in (
        ("group_by", "grouped by"),
        ("sub_group_by", "sub-grouped by"),
        ("x_axis", "x axis"),
        ("stack_by", "stacked by"),
    ):
        spec = config.get(key)
        if isinstance(spec, dict) and spec.get("property_id"):
            details.append(f"{label} {names.get(spec['property_id'], spec['property_id'])}")
    if config.get("date_property_id"):
        details.append(f"by {names.get(config['date_property_id'], config['date_property_id'])}")
    if view.get("filter"):
        details.append("filtered")
    who = "a person" if view["created_by"] == api.store.person_user_id else "the integration"
    shown = f" ({', '.join(details)})" if details else ""
    return (
        f"<strong>{escape(view['name'])}</strong> <span class='muted'>{escape(view['type'])}{escape(shown)}, "
        f"made by {who}</span>"
    )


def _ordered(props: list[Record]) -> list[Record]:
    """The title first (it links to the page), then the rest in schema order."""
    return sorted(props, key=lambda p: p["type"] != "title")


def _cell_html(api: NotionApi, page: Record, prop: Record) -> str:
    if prop["type"] == "title":
        text = value_text(page, prop) or "Untitled"
        return f"<td><a href='/view/pages/{page['id']}'>{cell(text, 80)}</a></td>"
    if prop["type"] == "number":
        value = stored_value(page, prop)
        return f"<td class='num'>{'' if value is None else escape(format_number(value))}</td>"
    if prop["type"] == "relation":
        return f"<td>{_relation_links(api, stored_value(page, prop) or [])}</td>"
    return f"<td>{cell(value_text(page, prop))}</td>"


def _relation_links(api: NotionApi, ids: list[str]) -> str:
    links = []
    for related_id in ids[:10]:
        related = api.store.objects.get(related_id)
        name = _page_title(api, related) if related else related_id
        links.append(f"<a href='/view/pages/{escape(related_id)}'>{escape(name[:60] or 'Untitled')}</a>")
    more = f" <span class='muted'>and {len(ids) - 10:,} more</span>" if len(ids) > 10 else ""
    return ", ".join(links) + more


def _page_title(api: NotionApi, page: Record) -> str:
    ds = api.page_data_source(page)
    if ds is None:
        return plain_text(page["props"].get("title", []))
    return value_text(page, title_property(ds))


def _page(api: NotionApi, page: Record) -> str:
    rendered = api.render_page(page)
    rows = []
    title = ""
    ds = api.page_data_source(page)
    props = list(ds["props"].values()) if ds else [{"id": "title", "name": "title", "type": "title"}]
    for prop in props:
        if prop["type"] == "title":
            title = value_text(page, prop)
            continue  # it is the page's heading
        if prop["type"] == "number":
            value = stored_value(page, prop)
            shown = "" if value is None else escape(format_number(value))
        elif prop["type"] == "relation":
            shown = _relation_links(api, stored_value(page, prop) or [])
        else:
            shown = cell(value_text(page, prop), 400)
        rows.append(f"<tr><th>{escape(prop['name'])}</th><td>{shown}</td></tr>")
    lines = [f"<p>{escape(text)}</p>" for text in _body_text(api, page["children"])]
    back = (
        f"<a href='/view/databases/{escape(rendered['parent']['database_id'])}'>← database</a>"
        if ds
        else "<a href='/'>← all databases</a>"
    )
    trashed = "<p class='muted'>(in trash)</p>" if page["in_trash"] else ""
    table = f"<table>{''.join(rows)}</table>" if rows else ""
    body = f"<h2>Body</h2>{''.join(lines)}" if lines else ""
    return _document(title or "Untitled", f"<p>{back}</p><h1>{escape(title or 'Untitled')}</h1>{trashed}{table}{body}")


def _body_text(api: NotionApi, child_ids: list[str], depth: int = 0) -> list[str]:
    out: list[str] = []
    for child_id in child_ids:
        rec = api.store.objects.get(child_id)
        if rec is None or rec["in_trash"]:
            continue
        if rec["kind"] == "block":
            out.append("    " * depth + block_text(rec))
            out.extend(_body_text(api, rec["children"], depth + 1))
        elif rec["kind"] == "page":
            out.append("    " * depth + "📄 " + plain_text(rec["props"].get("title", [])))
        elif rec["kind"] == "database":
            out.append("    " * depth + "🗃 " + plain_text(rec["title"]))
    return out
