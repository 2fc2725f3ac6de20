"""The Dagster instance: storage chosen by the environment, and pool slots never kept by a dead run.

``dagster.yaml`` names the classes here so one file serves both: with ``DAGSTER_PG_URL`` set, runs, events and
schedules live in PostgreSQL (dagster-postgres, shared by every webserver, daemon and run worker);
unset, they live in SQLite under ``$DAGSTER_HOME`` or the project data directory, so a fresh clone runs.

A run killed with SIGKILL never frees the ``notion_api`` pool slots its steps claimed, and Dagster frees them
only for runs it knows ended. Two things here make sure the next run does not wait on them forever:

- ``SlotReleasingInstance`` (``instance_class``): whenever a process opens the instance (``dagster job
  execute``, a run worker, the webserver, the daemon), before any step waits for a slot, it marks each run
  whose orchestrating process is gone as failed and frees its slots. This needs no daemon.
- ``LivenessCheckedRunLauncher`` (``run_launcher``): the same liveness check as Dagster's run-monitoring
  health check, so a running ``dagster-daemon`` (``run_monitoring`` in ``dagster.yaml``) fails a dead run
  within a poll interval and frees its slots ``free_slots_after_run_end_seconds`` later, with no new run needed.

A run's process is judged only on the machine it runs on: its pid is the one Dagster recorded with the run's
start event, and its host is the ``ssot/host`` tag a Notion step writes when it starts (``record_run_host``).
A run on another machine, or one that cannot be vouched for, is always treated as alive.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

import psutil
import yaml
from dagster import DagsterInstance
from dagster._core.events import DagsterEventType
from dagster._core.instance.ref import InstanceRef
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus
from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.dagster_run import FINISHED_STATUSES, DagsterRun, DagsterRunStatus, RunsFilter
from dagster._serdes.config_class import ConfigurableClass, ConfigurableClassData

log = logging.getLogger(__name__)

RUN_HOST_TAG = "ssot/host"  # the machine whose process orchestrates the run, written by its first Notion step
FINISHED_RUN_GRACE_SECONDS = 30  # a step process may outlive its run by a moment; its slot is freed after this
_HOLDING = (DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING)


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


# -- is a run's process still there? ---------------------------------------------------------------


class RunProcess(StrEnum):
    ALIVE = "alive"
    GONE = "gone"
    UNKNOWN = "unknown"  # another machine's run, or one not started yet: never treated as dead


def run_pid(instance: DagsterInstance, run_id: str) -> int | None:
    """The pid of the process that orchestrates the run: Dagster records it with the run's start event."""
    events = instance.event_log_storage.get_logs_for_run(run_id, of_type=DagsterEventType.RUN_START, limit=1)
    event = events[0].dagster_event if events else None
    return event.pid if event is not None else None


def record_run_host(instance: DagsterInstance, run_id: str) -> None:
    """Tag the run with this machine's name when this process is the run's orchestrator or descends from it.

    Called by a Notion step as it starts; with an executor that runs steps elsewhere (Kubernetes, Celery) the
    orchestrator is not an ancestor, nothing is tagged, and the run's process is never judged from here.
    """
    run = instance.get_run_by_id(run_id)
    if run is None or RUN_HOST_TAG in run.tags:
        return
    pid = run_pid(instance, run_id)
    if pid is None:
        return
    me = psutil.Process()
    if pid == me.pid or pid in {p.pid for p in me.parents()}:
        instance.add_run_tags(run_id, {RUN_HOST_TAG: socket.gethostname()})


def _local_storage(instance: DagsterInstance) -> bool:
    """SQLite storage lives on one machine, so every run it records ran on this one."""
    from dagster._core.storage.runs import SqliteRunStorage

    return isinstance(instance.run_storage, SqliteRunStorage)


def run_process(instance: DagsterInstance, run: DagsterRun, started_at: float | None) -> RunProcess:
    """Whether the process orchestrating ``run`` still exists on this machine."""
    host = run.tags.get(RUN_HOST_TAG)
    if host is not None and host != socket.gethostname():
        return RunProcess.UNKNOWN
    if host is None and not _local_storage(instance):
        return RunProcess.UNKNOWN
    pid = run_pid(instance, run.run_id)
    if pid is None:
        return RunProcess.UNKNOWN
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return RunProcess.GONE
        # A pid is reused after its process dies: a process younger than the run is somebody else.
        if started_at is not None and process.create_time() > started_at + 1:
            return RunProcess.GONE
    except psutil.NoSuchProcess:
        return RunProcess.GONE
    except psutil.Error:
        return RunProcess.UNKNOWN
    return RunProcess.ALIVE


# -- freeing the slots of dead runs ----------------------------------------------------------------


def _slot_holders(instance: DagsterInstance) -> set[str]:
    storage = instance.event_log_storage
    holders = set(storage.get_concurrency_run_ids())
    for info in storage.get_concurrency_infos(sorted(storage.get_concurrency_keys())).values():
        holders.update(slot.run_id for slot in info.claimed_slots)
    return holders


def release_dead_runs(instance: DagsterInstance) -> list[str]:
    """Fail every run holding (or queued for) pool slots whose process is gone, and free its slots.

    Also frees slots left behind by runs that ended, or whose record was deleted. Returns the run ids freed.
    """
    if not instance.event_log_storage.supports_global_concurrency_limits:
        return []
    holders = _slot_holders(instance)
    if not holders:
        return []
    records = {r.dagster_run.run_id: r for r in instance.get_run_records(RunsFilter(run_ids=sorted(holders)))}
    freed = []
    for run_id in sorted(holders):
        record = records.get(run_id)
        if record is None:
            reason = "its run no longer exists"
        elif record.dagster_run.status in FINISHED_STATUSES:
            ended = record.end_time or 0.0
            if time.time() - ended < FINISHED_RUN_GRACE_SECONDS:
                continue
            reason = f"it ended ({record.dagster_run.status.value})"
        elif record.dagster_run.status in _HOLDING:
            if run_process(instance, record.dagster_run, record.start_time) is not RunProcess.GONE:
                continue
            reason = "its process is gone (killed)"
            current = instance.get_run_by_id(run_id)  # another process may have failed it meanwhile
            if current is not None and current.status in _HOLDING:
                instance.report_run_failed(
                    current,
                    f"The process running this run on {socket.gethostname()} is gone (it was killed or crashed); "
                    "marked failed and its concurrency pool slots freed so that other runs can go on.",
                )
        else:
            continue
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        log.warning("freed the concurrency pool slots of run %s: %s", run_id, reason)
        freed.append(run_id)
    return freed


class SlotReleasingInstance(DagsterInstance):
    """A ``DagsterInstance`` that frees the pool slots of dead runs whenever a process opens it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        try:
            release_dead_runs(self)
        except Exception:  # never keep a process from opening the instance; the daemon checks again
            log.warning("could not check for pool slots held by dead runs", exc_info=True)

    @classmethod
    def config_schema(cls) -> dict[str, Any]:
        return {}

    @staticmethod
    def config_defaults(base_dir: str) -> Any:
        return InstanceRef.config_defaults(base_dir)


class LivenessCheckedRunLauncher(DefaultRunLauncher):  # type: ignore[misc]
    """Dagster's default launcher, plus the run-worker health check that run monitoring calls."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        record = self._instance.get_run_record_by_id(run.run_id)
        started = record.start_time if record is not None else None
        state = run_process(self._instance, run, started)
        if state is RunProcess.GONE:
            return CheckRunHealthResult(WorkerStatus.FAILED, "the run's process is gone (killed or crashed)")
        return CheckRunHealthResult(WorkerStatus.RUNNING, f"run process: {state.value}")
