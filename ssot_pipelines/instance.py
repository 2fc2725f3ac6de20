"""Dagster instance storage chosen by the environment: PostgreSQL in production, local files otherwise.

``dagster.yaml`` names this class so one file serves both: with ``DAGSTER_PG_URL`` set, runs, events and
schedules live in PostgreSQL (dagster-postgres, shared by every webserver, daemon and run worker);
unset, they live in SQLite under ``$DAGSTER_HOME`` or the project data directory, so a fresh clone runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from dagster._core.storage.base_storage import DagsterStorage
from dagster._serdes.config_class import ConfigurableClass, ConfigurableClassData


class EnvSelectedStorage(DagsterStorage, ConfigurableClass):  # type: ignore[misc]
    """Never instantiated: ``from_config_value`` returns the PostgreSQL or SQLite storage."""

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any) -> Any:
        url = os.environ.get("DAGSTER_PG_URL", "").strip()
        if url:
            from dagster_postgres import DagsterPostgresStorage

            data = ConfigurableClassData(
                "dagster_postgres", "DagsterPostgresStorage", yaml.safe_dump({"postgres_url": url})
            )
            return DagsterPostgresStorage(postgres_url=url, inst_data=data)
        from dagster._core.storage.sqlite_storage import DagsterSqliteStorage

        base = local_storage_dir()
        data = ConfigurableClassData(
            "dagster._core.storage.sqlite_storage", "DagsterSqliteStorage", yaml.safe_dump({"base_dir": str(base)})
        )
        return DagsterSqliteStorage.from_local(str(base), inst_data=data)


def local_storage_dir() -> Path:
    home = os.environ.get("DAGSTER_HOME", "").strip()
    if home:
        base = Path(home) / "storage"
    else:
        from ssot_pipelines.settings import ssot_home

        base = ssot_home() / "dagster" / "storage"
    base.mkdir(parents=True, exist_ok=True)
    return base
