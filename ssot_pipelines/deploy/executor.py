"""The executor of every job, selected by ``SSOT_EXECUTOR``: multiprocess (default) or dagster-celery.

Configuration alone switches engines: the job graph, the resources and the assets are the same, because
no step keeps state on local disk for another step (assets return ``MaterializeResult``; the ledger and
Redis hold everything else).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import dagster as dg

from ssot_pipelines.settings import ConfigurationError, env

# Two concurrent steps on one machine: the Notion pacer bounds requests anyway, and the pool keeps
# PostgreSQL connections and memory modest on a laptop.
MULTIPROCESS_MAX_CONCURRENT = 2

# Added to dagster-celery's own defaults (prefetch 1, queue ``dagster``). Results are read once by the run
# that submitted the step, so a day is plenty. Tasks are acknowledged on receipt (Celery's default), so a
# long sync step is never redelivered to a second worker while the first still runs it; a worker process
# that dies mid-step (SIGKILL, out of memory) instead has its step sent again, up to the task's max_retries
# (3): dagster-celery's run loop would otherwise wait forever for a result the dead process never writes.
# Re-running a step is safe because every sync is crash-safe and idempotent.
CELERY_CONFIG_SOURCE: dict[str, Any] = {
    "result_expires": 86400,
    "worker_prefetch_multiplier": 1,
    "task_retry_on_worker_lost": True,
}


class ExecutorKind(StrEnum):
    MULTIPROCESS = "multiprocess"
    CELERY = "celery"


def executor_kind() -> ExecutorKind:
    """``SSOT_EXECUTOR`` (unset: multiprocess); anything else is a configuration error naming the variable."""
    raw = (env("SSOT_EXECUTOR") or ExecutorKind.MULTIPROCESS.value).strip().lower()
    try:
        return ExecutorKind(raw)
    except ValueError:
        choices = ", ".join(k.value for k in ExecutorKind)
        raise ConfigurationError(
            f"SSOT_EXECUTOR={raw!r} is not an executor: use one of {choices} (or unset it)."
        ) from None


def celery_executor_config(_: Any = None) -> dict[str, Any]:
    """dagster-celery's executor config, resolved when a run starts (not when the code location loads), so
    loading definitions never starts or pings Redis. The URL never enters the run's stored config."""
    from ssot_pipelines.deploy.broker import celery_broker_url

    url = celery_broker_url()
    return {"broker": url, "backend": url, "config_source": dict(CELERY_CONFIG_SOURCE)}


def selected_executor() -> dg.ExecutorDefinition:
    """The executor definition for ``Definitions(executor=...)``."""
    if executor_kind() is ExecutorKind.CELERY:
        from dagster_celery import celery_executor

        return celery_executor.configured(celery_executor_config, config_schema={})
    return dg.multiprocess_executor.configured({"max_concurrent": MULTIPROCESS_MAX_CONCURRENT})
