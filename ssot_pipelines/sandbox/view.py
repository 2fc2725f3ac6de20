"""A read-only HTML view of the sandbox workspace: what a new user looks at before connecting Notion."""

from __future__ import annotations

from html import escape

from .api import NotionApi
from .blocks import block_text
from .ids import iso_minute, try_parse_id
from .properties import value_text
from .richtext import plain_text
from .store import Record

_STYLE = ("body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}"
          "th{background:#f4f4f4}.muted{color:#888}")


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


def _document(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")


def _index(api: NotionApi) -> str:
    rows = []
    for db in api.store.objects.values():
        if db["kind"] != "database" or db["in_trash"]:
            continue
        count = sum(1 for ds_id in db["data_sources"] for page_id in api.store.rows.get(ds_id, [])
                    if not api.store.objects[page_id]["in_trash"])
        rows.append(f"<tr><td><a href='/view/databases/{db['id']}'>{escape(plain_text(db['title']) or 'Untitled')}"
                    f"</a></td><td>{count}</td><td>{iso_minute(db['edited'])}</td></tr>")
    table = ("<table><tr><th>Database</th><th>Rows</th><th>Last edited</th></tr>" + "".join(rows) + "</table>"
             if rows else "<p class='muted'>No databases yet: run provisioning.</p>")
    root = escape(api.store.root_page_id)
    return _document("Notion sandbox", f"<h1>Notion sandbox</h1><p class='muted'>Root page "
                                       f"<a href='/view/pages/{root}'>SecondBrain</a> ({root})</p>{table}")


def _database(api: NotionApi, db: Record) -> str:
    title = plain_text(db["title"]) or "Untitled"
    sections = []
    for ds_id in db["data_sources"]:
        ds = api.store.get(ds_id, "data_source")
        if ds is None:
            continue
        props = list(ds["props"].values())
        head = "".join(f"<th>{escape(p['name'])}</th>" for p in props)
        body = []
        for page_id in api.store.rows.get(ds_id, []):
            page = api.store.objects[page_id]
            if page["in_trash"]:
                continue
            cells = []
            for prop in props:
                text = escape(value_text(page, prop))
                if prop["type"] == "title":
                    text = f"<a href='/view/pages/{page['id']}'>{text or 'Untitled'}</a>"
                cells.append(f"<td>{text}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        sections.append(f"<h2>{escape(plain_text(ds['title']))}</h2><p class='muted'>{len(body)} rows</p>"
                        f"<table><tr>{head}</tr>{''.join(body)}</table>")
    return _document(title, f"<p><a href='/'>← all databases</a></p><h1>{escape(title)}</h1>{''.join(sections)}")


def _page(api: NotionApi, page: Record) -> str:
    rendered = api.render_page(page)
    rows = []
    title = ""
    ds = api.page_data_source(page)
    props = list(ds["props"].values()) if ds else [{"id": "title", "name": "title", "type": "title"}]
    for prop in props:
        text = value_text(page, prop)
        if prop["type"] == "title":
            title = text
        rows.append(f"<tr><th>{escape(prop['name'])}</th><td>{escape(text)}</td></tr>")
    lines = [f"<p>{escape(text)}</p>" for text in _body_text(api, page["children"])]
    back = (f"<a href='/view/databases/{escape(rendered['parent']['database_id'])}'>← database</a>"
            if ds else "<a href='/'>← all databases</a>")
    trashed = "<p class='muted'>(in trash)</p>" if page["in_trash"] else ""
    return _document(title or "Untitled", f"<p>{back}</p><h1>{escape(title or 'Untitled')}</h1>{trashed}"
                                          f"<table>{''.join(rows)}</table><h2>Body</h2>{''.join(lines)}")


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
