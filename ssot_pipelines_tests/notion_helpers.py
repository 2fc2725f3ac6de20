"""Reading the sandbox back the way a person (or an auditor) would: through notion-client over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
from notion_client import Client

from ssot_pipelines.notion.gateway import RetrySettings
from ssot_pipelines.notion.setup import open_sync_manager
from ssot_pipelines.notion.sync import NotionSyncManager
from ssot_pipelines.notion.text import plain_text

# The token the `sandbox` fixture's server accepts (conftest.py). A test sandbox only: the embedded one
# of an SSOT_HOME has a random token (settings.sandbox_token).
SANDBOX_TOKEN = "sandbox-token"
FAST_RETRY = RetrySettings(max_attempts=12, base_seconds=0.05, max_backoff_seconds=0.5)


@contextmanager
def sync_manager(sandbox: Any, ledger_url: str, redis_url: str, **kwargs: Any) -> Iterator[NotionSyncManager]:
    manager = open_sync_manager(
        notion_base_url=sandbox.url,
        token=sandbox.token,
        parent_page_id=sandbox.root_page_id,
        postgres_url=ledger_url,
        redis_url=redis_url,
        rps=kwargs.pop("rps", 1000.0),
        retry=kwargs.pop("retry", FAST_RETRY),
        **kwargs,
    )
    with manager:  # closes the gateway, the ledger connection and the Redis client
        yield manager


def person(sandbox: Any) -> Client:
    """A plain notion-client, as a person's own script or the Notion UI would act."""
    return Client(auth=sandbox.token, base_url=sandbox.url, retry=False)


def as_person(sandbox: Any) -> Client:
    """A client acting as a person in the Notion UI (the sandbox's person prefix): its edits show the person as
    ``last_edited_by``, as people's edits do in Notion. ``person()`` shares the integration's token, so Notion
    (and the edits gate) counts its edits as the integration's own writes."""
    return Client(auth=sandbox.token, base_url=f"{sandbox.url}/__sandbox/person", retry=False)


def live_rows(client: Client, data_source_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every live page of a data source grouped by its Key."""
    out: dict[str, list[dict[str, Any]]] = {}
    cursor = None
    while True:
        body: dict[str, Any] = {"page_size": 100}
        if cursor:
            body["start_cursor"] = cursor
        res: Any = client.request(path=f"data_sources/{data_source_id}/query", method="POST", body=body)
        for page in res["results"]:
            key = plain_text(page["properties"]["Key"]["rich_text"])
            out.setdefault(key, []).append(page)
        if not res["has_more"]:
            return out
        cursor = res["next_cursor"]


def text_of(page: dict[str, Any], prop: str) -> str:
    value = page["properties"][prop]
    return plain_text(value.get(value["type"]))


def frame(rows: list[dict[str, Any]], mode: str = "full", vanished: list[str] | None = None) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df.attrs["sync_mode"] = mode
    df.attrs["vanished"] = vanished or []
    return df


def dagster_resources(sandbox: Any, ledger_url: str, redis_url: str) -> dict[str, Any]:
    """The resources definitions.py binds, pointed at the test's sandbox, ledger and Redis."""
    from ssot_pipelines.resources.notifier import NotifierResource
    from ssot_pipelines.resources.notion import NotionResource
    from ssot_pipelines.resources.stores import PostgresResource, RedisResource
    from ssot_pipelines.resources.vectors import EmbedderResource, VectorsResource

    return {
        "notion": NotionResource(
            token=sandbox.token, parent_page_id=sandbox.root_page_id, base_url=sandbox.url, requests_per_second=1000.0
        ),
        "postgres": PostgresResource(url=ledger_url),
        "redis": RedisResource(url=redis_url),
        "vectors": VectorsResource(postgres_url=ledger_url),
        "embedder": EmbedderResource(kind="hashing"),
        "notifier": NotifierResource(),
    }
