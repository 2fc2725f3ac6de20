"""Notion as a Dagster resource: the real API with a token, the local sandbox without one."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from ssot_pipelines.instance import record_run_host
from ssot_pipelines.notion.setup import open_sync_manager
from ssot_pipelines.notion.sync import NotionSyncManager


class NotionResource(dg.ConfigurableResource):  # type: ignore[misc,type-arg]
    """``token`` empty: the local Notion sandbox (started on demand). Values come from EnvVars."""

    token: str = Field(default="", repr=False, description="NOTION_TOKEN (a secret); empty: the local sandbox")
    parent_page_id: str = ""
    base_url: str = ""
    notion_version: str = "2025-09-03"
    requests_per_second: float = 0.0  # 0: the pacer NOTION_PACER chooses; > 0: fixed at this rate

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Name this machine on the run, so a killed run's pool slots can be freed (``ssot_pipelines.instance``)."""
        if context.instance is not None and context.run_id is not None:
            record_run_host(context.instance, context.run_id)

    def open(self, postgres_url: str, redis_url: str, *, provision: bool | None = None) -> NotionSyncManager:
        """A sync manager over the provisioned databases (provisioning them when the ledger lacks any)."""
        return open_sync_manager(
            notion_base_url=self.base_url or None,
            token=self.token or None,
            parent_page_id=self.parent_page_id or None,
            postgres_url=postgres_url,
            redis_url=redis_url,
            rps=self.requests_per_second or None,
            provision_databases=provision,
            notion_version=self.notion_version or None,
        )
