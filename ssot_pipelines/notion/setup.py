"""Where Notion is (real workspace or local sandbox), and a ready NotionSyncManager for it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import redis

from ssot_pipelines.ledger import connect, migrate, resolve_postgres_url
from ssot_pipelines.notion.gateway import NotionGateway, RetrySettings
from ssot_pipelines.notion.pacer import RequestPacer
from ssot_pipelines.notion.provision import ProvisionReport, load_ids, provision
from ssot_pipelines.notion.sync import NotionSyncManager
from ssot_pipelines.schemas import DATABASES
from ssot_pipelines.services.redis_url import resolve_redis_url as resolve_redis_url  # re-exported
from ssot_pipelines.settings import (
    NOTION_VERSION_DEFAULT,
    SANDBOX_PORT_DEFAULT,
    ConfigurationError,
    env,
    sandbox_token,
    ssot_home,
)


@dataclass(frozen=True)
class NotionTarget:
    """One Notion workspace parent page reached through one base URL."""

    base_url: str
    token: str
    parent_page_id: str
    notion_version: str = NOTION_VERSION_DEFAULT
    is_sandbox: bool = False

    @property
    def target_id(self) -> str:
        """Ledger rows are kept per target, so the sandbox and a real workspace never mix."""
        return hashlib.sha256(f"{self.base_url}|{self.parent_page_id}".encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"NotionTarget(base_url={self.base_url!r}, parent={self.parent_page_id!r}, sandbox={self.is_sandbox})"


def resolve_target(
    *,
    token: str | None = None,
    base_url: str | None = None,
    parent_page_id: str | None = None,
    notion_version: str | None = None,
) -> NotionTarget:
    """Real Notion when NOTION_TOKEN is set, else the local sandbox (started on demand)."""
    token = token or env("NOTION_TOKEN")
    base_url = base_url or env("NOTION_BASE_URL")
    parent_page_id = parent_page_id or env("NOTION_PARENT_PAGE_ID")
    version = notion_version or env("NOTION_VERSION") or NOTION_VERSION_DEFAULT
    if token:
        if not parent_page_id:
            raise ConfigurationError(
                "NOTION_TOKEN is set but NOTION_PARENT_PAGE_ID is not: set it to the id of the Notion page "
                "(shared with your integration) under which the seven databases live."
            )
        return NotionTarget(base_url or "https://api.notion.com", token, parent_page_id, version)
    from ssot_pipelines.services.embedded import ensure_embedded_sandbox

    port = int(env("SSOT_SANDBOX_PORT", str(SANDBOX_PORT_DEFAULT)) or SANDBOX_PORT_DEFAULT)
    home = ssot_home()
    url, root = ensure_embedded_sandbox(port, home)
    return NotionTarget(base_url or url, sandbox_token(home), parent_page_id or root, version, is_sandbox=True)


def open_sync_manager(
    notion_base_url: str | None = None,
    token: str | None = None,
    parent_page_id: str | None = None,
    postgres_url: str | None = None,
    redis_url: str | None = None,
    *,
    rps: float | None = None,
    retry: RetrySettings | None = None,
    provision_databases: bool | None = None,
    notion_version: str | None = None,
) -> NotionSyncManager:
    """A NotionSyncManager over the seven databases, with the ledger migrated.

    ``provision_databases``: True provisions (idempotent), None only when the ledger lacks a database,
    False never. What provisioning did is in ``manager.provisioned``.
    """
    target = resolve_target(
        token=token, base_url=notion_base_url, parent_page_id=parent_page_id, notion_version=notion_version
    )
    conn = connect(postgres_url or resolve_postgres_url())
    migrate(conn)
    conn.commit()
    redis_client = redis.Redis.from_url(redis_url or resolve_redis_url(), socket_timeout=5)
    pace = rps if rps is not None else float(env("NOTION_RPS", "2.5") or 2.5)
    pacer = RequestPacer(redis_client, target.token, rps=pace)
    gateway = NotionGateway(
        token=target.token, base_url=target.base_url, pacer=pacer, notion_version=target.notion_version,
        retry=retry,
    )
    try:
        gateway.preflight()
    except Exception:
        gateway.close()
        conn.close()
        raise
    report = ProvisionReport()
    ids = load_ids(conn, target.target_id)
    if provision_databases or (provision_databases is None and not set(DATABASES) <= set(ids)):
        ids, report = provision(gateway, conn, target.target_id, target.parent_page_id)
    manager = NotionSyncManager(gateway, conn, target.target_id, ids)
    manager.provisioned = report
    return manager
