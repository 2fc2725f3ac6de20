"""Dagster resources: Notion, the ledger PostgreSQL, Redis, vectors, embedder and notifier."""
