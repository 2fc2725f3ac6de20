"""A dagster-celery worker for this code location that names, at INFO, every step it runs.

The worker is dagster-celery's own: the same Celery app (``make_app``), the same ``execute_plan`` task and
queue as ``dagster-celery worker start -A dagster_celery.app``. What it adds is the broker resolved like the
rest of the project (``REDIS_URL`` or the embedded Redis) and one log line when a step starts and ends,
with the worker's name and process id, so an operator (and the tests) can see which machine ran what.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence
from typing import Any

from ssot_pipelines.deploy.broker import DAGSTER_QUEUE, celery_broker_url
from ssot_pipelines.deploy.executor import CELERY_CONFIG_SOURCE

log = logging.getLogger("ssot.celery")

# Celery waits a task's default_retry_delay (180 s) before re-sending a step whose worker process died; the
# steps are idempotent, so this worker re-sends sooner. (`dagster-celery worker start` keeps the 180 s.)
WORKER_LOST_RETRY_DELAY_SECONDS = 5

_started: dict[str, float] = {}


def step_of(kwargs: dict[str, Any] | None) -> tuple[list[str], str] | None:
    """The step keys and run id an ``execute_plan`` task was sent to run (None for any other task)."""
    packed = (kwargs or {}).get("execute_step_args_packed")
    if not packed:
        return None
    from dagster._grpc.types import ExecuteStepArgs
    from dagster._serdes import unpack_value

    args = unpack_value(packed, as_type=ExecuteStepArgs)
    return list(args.step_keys_to_execute or []), args.run_id


def _hostname(task: Any) -> str:
    return str(getattr(getattr(task, "request", None), "hostname", None) or socket.gethostname())


def _on_prerun(task_id: str = "", task: Any = None, kwargs: dict[str, Any] | None = None, **_: Any) -> None:
    step = step_of(kwargs)
    if step is None:
        return
    _started[task_id] = time.monotonic()
    keys, run_id = step
    log.info("step %s of run %s started on %s (pid %d)", ",".join(keys), run_id, _hostname(task), os.getpid())


def _on_postrun(
    task_id: str = "", task: Any = None, kwargs: dict[str, Any] | None = None, state: str | None = None, **_: Any
) -> None:
    step = step_of(kwargs)
    if step is None:
        return
    seconds = time.monotonic() - _started.pop(task_id, time.monotonic())
    keys, run_id = step
    log.info(
        "step %s of run %s finished on %s (pid %d) in %.1f s: %s",
        ",".join(keys),
        run_id,
        _hostname(task),
        os.getpid(),
        seconds,
        state or "?",
    )


def celery_app(broker_url: str | None = None) -> Any:
    """dagster-celery's app with its ``execute_plan``, ``execute_job`` and ``resume_job`` tasks registered."""
    from dagster._core.execution.retries import RetryMode
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app
    from dagster_celery.tasks import create_execute_job_task, create_resume_job_task, create_task

    url = broker_url or celery_broker_url()
    # dagster-celery is untyped; these are its public entry points, used as `dagster-celery worker` uses them
    executor = CeleryExecutor(  # type: ignore[no-untyped-call]
        retries=RetryMode(RetryMode.DISABLED), broker=url, backend=url, config_source=dict(CELERY_CONFIG_SOURCE)
    )
    app = make_app(executor.app_args())  # type: ignore[no-untyped-call]
    create_task(app, default_retry_delay=WORKER_LOST_RETRY_DELAY_SECONDS)  # type: ignore[no-untyped-call]
    create_execute_job_task(app)
    create_resume_job_task(app)
    return app


def worker_argv(
    *, name: str | None, concurrency: int | None, queues: Sequence[str], loglevel: str = "INFO"
) -> list[str]:
    """The ``celery worker`` arguments, the same ``dagster-celery worker start`` would pass."""
    argv = ["worker", f"--loglevel={loglevel}", "--prefetch-multiplier=1"]
    for queue in queues or (DAGSTER_QUEUE,):
        argv += ["-Q", queue]
    argv += ["-n", f"{name or 'ssot-' + str(os.getpid())}@%h"]
    if concurrency:
        argv += [f"--concurrency={concurrency}"]
    return argv


def run_worker(
    *, name: str | None = None, concurrency: int | None = None, queues: Sequence[str] = (), loglevel: str = "INFO"
) -> None:
    """Start a worker in this process (blocks until it is shut down)."""
    from celery.signals import task_postrun, task_prerun

    app = celery_app()
    # weak=False: the handlers are module functions, but keep them connected whatever imports them
    task_prerun.connect(_on_prerun, weak=False)
    task_postrun.connect(_on_postrun, weak=False)
    app.worker_main(worker_argv(name=name, concurrency=concurrency, queues=queues, loglevel=loglevel))
