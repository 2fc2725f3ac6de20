"""The ledger: the durable record in PostgreSQL of what the machine knows and what was pushed to Notion."""

from ssot_pipelines.ledger.db import LEDGER_SCHEMA, connect, migrate, resolve_postgres_url

__all__ = ["LEDGER_SCHEMA", "connect", "migrate", "resolve_postgres_url"]
