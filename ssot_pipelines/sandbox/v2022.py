"""Notion-Version 2022-06-28, as far as a peer sync tool needs it (issue 14 §3: data2notion 1.3.3).

Before 2025-09-03 a database *was* its one data source: ``GET /v1/databases/{id}`` carried the schema in
``properties`` (no ``data_sources``), rows were queried with ``POST /v1/databases/{id}/query``, and a page's
parent was ``{"type": "database_id", ...}``. Endpoints produce 2025-09-03 shapes; this module adds the
database query and reshapes what differs. A database with more than one data source refuses these calls
with the message Notion documents for old versions (reference/notion-api.md §2).
"""

from __future__ import annotations

from typing import Any

from .errors import ApiError, validation
from .pages_api import PageEndpoints
from .store import Record

V2022_06_28 = "2022-06-28"


class DatabaseQueryEndpoint(PageEndpoints):
    """``POST /v1/databases/{id}/query`` (2022-06-28): the query of the database's only data source."""

    def query_database(self, db_id: str, params: Any, body: Record) -> Record:
        ds_id = self._only_data_source(db_id)
        return self.query_data_source(ds_id, params, body)

    def _only_data_source(self, db_id: str) -> str:
        db = self._get("database", db_id)
        if len(db["data_sources"]) != 1:
            raise validation("Databases with multiple data sources are not supported in this API version.")
        return str(db["data_sources"][0])

    def as_2022_06_28(self, kind: str, result: Record) -> Record:
        """A 2025-09-03 result in its 2022-06-28 shape."""
        if result.get("object") == "database":
            ds_id = self._only_data_source(str(result["id"]))
            ds = self.store.get(ds_id, "data_source")
            result.pop("data_sources", None)
            result["properties"] = self.render_data_source(ds)["properties"] if ds else {}
        _database_parents(result)
        return result


def refuse_in_newer_versions(kind: str, version: str) -> None:
    """The database query is gone from 2025-09-03 on: its callers query a data source."""
    if kind == "databases.query" and version != V2022_06_28:
        raise ApiError(400, "invalid_request_url", "Invalid request URL.")


def _database_parents(value: Any) -> None:
    """A page's parent names its database, not its data source."""
    if isinstance(value, dict):
        parent = value.get("parent")
        if value.get("object") == "page" and isinstance(parent, dict) and parent.get("type") == "data_source_id":
            value["parent"] = {"type": "database_id", "database_id": parent.get("database_id")}
        for item in value.values():
            _database_parents(item)
    elif isinstance(value, list):
        for item in value:
            _database_parents(item)
