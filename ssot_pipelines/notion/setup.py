"""Where Notion is (real workspace or local sandbox), and a ready NotionSyncManager for it."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import redis

from ssot_pipelines.ledger import connect, migrate, resolve_postgres_url
from ssot_pipelines.notion.checkpoints import adopt_target
from ssot_pipelines.notion.gateway import NotionGateway, RetrySettings
from ssot_pipelines.notion.pacer import LearningPacer, pacer_from_settings, workspace_of
from ssot_pipelines.notion.provision import ProvisionReport, load_ids, provision, trusted_ids
from ssot_pipelines.notion.sync import NotionSyncManager
from ssot_pipelines.services.redis_url import resolve_redis_url as resolve_redis_url  # re-exported
from ssot_pipelines.settings import (
    NOTION_VERSION_DEFAULT,
    SANDBOX_PORT_DEFAULT,
    ConfigurationError,
    env,
    sandbox_token,
    ssot_home,
)
from ssot_pipelines.settings import (
    notion_version as checked_version,
)

_HEX32 = re.compile(r"[0-9a-f]{32}")
PARENT_PAGE_FORM = (
    "the page's 32-character id, with or without dashes (0123456789abcdef0123456789abcdef), or the URL "
    'Notion\'s "Copy link" gives (https://www.notion.so/My-Page-0123456789abcdef0123456789abcdef)'
)


def normalize_parent_page_id(value: str, variable: str = "NOTION_PARENT_PAGE_ID") -> str:
    """The dashed, lower-case form of a Notion page id given as an id (any case, with or without dashes)
    or as a page URL; a ConfigurationError naming ``variable`` and the expected form otherwise."""
    given = value.strip()
    candidate = given
    if given.lower().startswith(("http://", "https://")):
        parts = urlsplit(given)
        peeked = parse_qs(parts.query).get("p")  # a page opened as a peek: ...?p=<page id>
        candidate = peeked[0] if peeked else parts.path.rstrip("/").rsplit("/", 1)[-1]
        compact = candidate.replace("-", "").lower()
        # the slug is "Title-words-<id>": the id is the last 32 characters once dashes are gone
        compact = compact[-32:] if len(compact) >= 32 else compact
    else:
        compact = candidate.replace("-", "").lower()
    if not _HEX32.fullmatch(compact):
        shown = given if len(given) <= 80 else given[:77] + "..."
        raise ConfigurationError(
            f"NOTION_PARENT_PAGE_ID is not a Notion page id or page URL ({variable}={shown!r}): set it to "
            f"{PARENT_PAGE_FORM}."
        )
    return f"{compact[:8]}-{compact[8:12]}-{compact[12:16]}-{compact[16:20]}-{compact[20:]}"


def _target_hash(base_url: str, parent_page_id: str) -> str:
    return hashlib.sha256(f"{base_url}|{parent_page_id}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class NotionTarget:
    """One Notion workspace parent page reached through one base URL.

    ``parent_page_id`` is normalised (dashed, lower case); ``given`` keeps the values as configured, to
    find a ledger written before normalisation (its target id hashed them as given).
    """

    base_url: str
    token: str
    parent_page_id: str
    notion_version: str = NOTION_VERSION_DEFAULT
    is_sandbox: bool = False
    given: tuple[str, str] = field(default=("", ""), compare=False)

    @property
    def target_id(self) -> str:
        """Ledger rows are kept per target, so the sandbox and a real workspace never mix."""
        return _target_hash(self.base_url, self.parent_page_id)

    @property
    def legacy_target_ids(self) -> list[str]:
        """Target ids an older version computed from the same values written another way."""
        bases = {self.base_url, self.base_url + "/", *([self.given[0]] if self.given[0] else [])}
        compact = self.parent_page_id.replace("-", "")
        parents = {self.parent_page_id, compact, compact.upper(), *([self.given[1]] if self.given[1] else [])}
        ids = {_target_hash(b, p) for b in bases for p in parents}
        ids.discard(self.target_id)
        return sorted(ids)

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
    version = checked_version(notion_version or env("NOTION_VERSION"))
    if token:
        if not parent_page_id:
            raise ConfigurationError(
                "NOTION_TOKEN is set but NOTION_PARENT_PAGE_ID is not: set it to the id of the Notion page "
                "(shared with your integration) under which the seven databases live."
            )
        parent = normalize_parent_page_id(parent_page_id)
        base = (base_url or "https://api.notion.com").rstrip("/")
        return NotionTarget(base, token, parent, version, given=(base_url or "", parent_page_id))
    # checked before the sandbox starts: a bad value fails at once
    chosen = normalize_parent_page_id(parent_page_id) if parent_page_id else None
    from ssot_pipelines.services.embedded import ensure_embedded_sandbox

    port = int(env("SSOT_SANDBOX_PORT", str(SANDBOX_PORT_DEFAULT)) or SANDBOX_PORT_DEFAULT)
    home = ssot_home()
    url, root = ensure_embedded_sandbox(port, home)
    return NotionTarget(
        (base_url or url).rstrip("/"),
        sandbox_token(home),
        chosen or normalize_parent_page_id(root),
        version,
        is_sandbox=True,
        given=(base_url or url, parent_page_id or root),
    )


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

    ``provision_databases``: True reads Notion and provisions (idempotent; a full sync, ``ssot setup``);
    None trusts the ledger while its schema fingerprint holds (no request at all) and provisions otherwise;
    False never provisions. What provisioning did is in ``manager.provisioned``. ``GET /v1/users/me`` is
    asked when Notion is read again or the (target, token) was not checked within ``PREFLIGHT_TTL``.
    """
    target = resolve_target(
        token=token, base_url=notion_base_url, parent_page_id=parent_page_id, notion_version=notion_version
    )
    conn = connect(postgres_url or resolve_postgres_url())
    migrate(conn)
    conn.commit()
    adopt_target(conn, target.target_id, target.legacy_target_ids)
    redis_client = redis.Redis.from_url(redis_url or resolve_redis_url(), socket_timeout=5)
    pacer = pacer_from_settings(redis_client, target.token, rps=rps)
    gateway = NotionGateway(
        token=target.token,
        base_url=target.base_url,
        pacer=pacer,
        notion_version=target.notion_version,
        retry=retry,
    )
    try:
        ids = load_ids(conn, target.target_id) if provision_databases is False else None
        if provision_databases is None:
            ids = trusted_ids(conn, target.target_id)
        # users/me: a wrong address or token fails here, with the fix. Asked again when Notion is read again.
        me = None if provision_databases or ids is None else cached_preflight(conn, target)
        if me is None:
            me = gateway.preflight()
            _record_preflight(conn, target, me)
        if isinstance(pacer, LearningPacer):  # the workspace's pause is shared by every token of it
            pacer.use_workspace(workspace_of(me, target.base_url))
        report = ProvisionReport()
        if provision_databases or (provision_databases is None and ids is None):
            ids, report = provision(gateway, conn, target.target_id, target.parent_page_id)
    except Exception:
        gateway.close()
        redis_client.close()
        conn.close()
        raise
    manager = NotionSyncManager(
        gateway, conn, target.target_id, ids or {}, redis_client=redis_client, parent_page_id=target.parent_page_id
    )
    manager.provisioned = report
    manager.parent_page_id = target.parent_page_id
    manager.bot_user_id = str(me.get("id") or "") or None  # our own writes, told from people's edits
    return manager


# A cached "who are we" is asked again after this long, so a token rotated in place is noticed even by a
# target that only ever runs incrementally (a refused token fails clearly at its first request anyway).
PREFLIGHT_TTL = "1 day"


def _token_digest(target: NotionTarget) -> str:
    return hashlib.sha256(f"{target.target_id}|{target.token}".encode()).hexdigest()


def cached_preflight(conn: psycopg.Connection[Any], target: NotionTarget) -> dict[str, Any] | None:
    """The users/me answer recorded for this target and token within ``PREFLIGHT_TTL``, if any."""
    row = conn.execute(
        "SELECT answer FROM notion_preflights WHERE target = %s AND token_digest = %s"
        " AND checked_at > now() - %s::interval",
        (target.target_id, _token_digest(target), PREFLIGHT_TTL),
    ).fetchone()
    conn.commit()
    return dict(row["answer"]) if row is not None else None


def _record_preflight(conn: psycopg.Connection[Any], target: NotionTarget, me: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO notion_preflights (target, token_digest, answer) VALUES (%s, %s, %s)"
        " ON CONFLICT (target, token_digest) DO UPDATE SET answer = EXCLUDED.answer, checked_at = now()",
        (target.target_id, _token_digest(target), json.dumps(me)),
    )
    conn.commit()
