"""``ssot celery``: a dagster-celery worker for this code location, and its config for ``dagster-celery``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import yaml

from ssot_pipelines.settings import ConfigurationError, redact


def register(subparsers: Any) -> None:
    """Add ``celery worker`` and ``celery config`` to the ``ssot`` parser."""
    celery = subparsers.add_parser("celery", help="run steps on Celery workers (with SSOT_EXECUTOR=celery)")
    commands = celery.add_subparsers(dest="celery_command", required=True)
    worker = commands.add_parser(
        "worker", help="start a Celery worker for this code location (broker: REDIS_URL or the embedded Redis)"
    )
    worker.add_argument("--name", "-n", help="worker name (default: ssot-<pid>); @<hostname> is appended")
    worker.add_argument("--concurrency", "-c", type=int, help="steps run at once (default: the CPU count)")
    worker.add_argument("--queue", "-q", action="append", default=[], help="queue to consume (default: dagster)")
    worker.add_argument("--loglevel", "-l", default="INFO", help="Celery's log level (default INFO)")
    worker.set_defaults(func=_worker)
    config = commands.add_parser(
        "config", help="print the executor config for `dagster-celery worker start -y FILE` (holds the Redis URL)"
    )
    config.set_defaults(func=_config)


def _worker(args: argparse.Namespace) -> int:
    from ssot_pipelines.deploy.worker import run_worker

    try:
        run_worker(name=args.name, concurrency=args.concurrency, queues=args.queue, loglevel=args.loglevel)
    except ConfigurationError as exc:
        print(f"ssot celery worker: {exc}", file=sys.stderr)
        return 2
    return 0


def _config(args: argparse.Namespace) -> int:
    from ssot_pipelines.deploy.executor import celery_executor_config

    try:
        config = celery_executor_config()
    except ConfigurationError as exc:
        print(f"ssot celery config: {exc}", file=sys.stderr)
        return 2
    if sys.stdout.isatty():
        # on a terminal, show the shape without a password; redirect to a file for the real thing
        config = {**config, "broker": redact(config["broker"]), "backend": redact(config["backend"])}
    print(yaml.safe_dump({"execution": {"config": config}}, sort_keys=False), end="")
    return 0
