"""The search endpoint: pages and data sources whose title contains the query."""

from __future__ import annotations

import json

from . import query as query_mod
from .api_base import list_response
from .errors import body_validation
from .properties import title_property
from .render import Renderer
from .richtext import plain_text
from .store import Record
from .validation import check_object, check_page_size, reject_unknown_keys


class SearchEndpoints(Renderer):
    """``/v1/search``."""

    def search(self, body: Record) -> Record:
        reject_unknown_keys("body", body, {"query", "sort", "filter", "start_cursor", "page_size"})
        page_size = check_page_size("body.page_size", body.get("page_size"))
        text = body.get("query") or ""
        if not isinstance(text, str):
            raise body_validation("body.query", "should be a string")
        kinds: tuple[str, ...] = ("page", "data_source")
        if body.get("filter") is not None:
            flt = check_object("body.filter", body["filter"])
            if flt.get("property") != "object" or flt.get("value") not in kinds:
                raise body_validation(
                    "body.filter.value", f'should be `"page"` or `"data_source"`, instead was `"{flt.get("value")}"`'
                )
            kinds = (flt["value"],)
        with self.store.lock:
            hits = [
                r
                for r in self.store.objects.values()
                if r["kind"] in kinds and not r["in_trash"] and text.lower() in self._title_of(r).lower()
            ]
            if body.get("sort") is not None:
                # documented: {"direction": "ascending" | "descending", "timestamp": "last_edited_time"}
                hits.sort(key=lambda r: (r["edited"], r["seq"]), reverse=self._descending(body["sort"]))
            window = query_mod.paginate(hits, [h["id"] for h in hits], page_size, body.get("start_cursor"))
            results = [self.render_page(r) if r["kind"] == "page" else self.render_data_source(r) for r in window.items]
            return list_response(results, window, "page_or_data_source")

    @staticmethod
    def _descending(raw: object) -> bool:
        sort = check_object("body.sort", raw)
        reject_unknown_keys("body.sort", sort, {"direction", "timestamp"})
        if sort.get("timestamp") != "last_edited_time":
            raise body_validation(
                "body.sort.timestamp",
                f'should be `"last_edited_time"`, instead was `{json.dumps(sort.get("timestamp"))}`',
            )
        if sort.get("direction") not in ("ascending", "descending"):
            raise body_validation(
                "body.sort.direction",
                f'should be `"ascending"` or `"descending"`, instead was `{json.dumps(sort.get("direction"))}`',
            )
        return bool(sort["direction"] == "descending")

    def _title_of(self, rec: Record) -> str:
        if rec["kind"] == "data_source" or rec["kind"] == "database":
            return plain_text(rec["title"])
        ds = self.page_data_source(rec)
        return plain_text(rec["props"].get(title_property(ds)["id"] if ds else "title", []))
