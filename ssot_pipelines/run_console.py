"""``ssot run JOB``: run a job of the code location as ``dagster job execute`` does, with a console for people.

Same job, same run config (the job's defaults plus ``--config-json``), same multiprocess executor, and the
run is stored in the persistent instance (``DAGSTER_HOME``, prepared under ``SSOT_HOME/dagster`` when
unset), so ``dagster dev`` shows it afterwards. What differs is only what the terminal shows:

- Dagster's console logger at INFO (steps starting and finishing, materializations, every
  ``context.log.info`` line such as a sync's progress) instead of its DEBUG event stream. Step processes
  write to our stderr, and a few engine events are DEBUG whatever the run config says, so stderr goes
  through a line filter that drops DEBUG lines and shortens Dagster's prefix to the time and the step;
- a step that fails is printed at once, one line with its error, while the other steps go on;
- the run ends with one line: what succeeded, or what failed and what to do; the exit code is 0 or 1.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from ssot_pipelines.settings import ssot_home

DEFINITIONS_MODULE = "ssot_pipelines.definitions"
_REPO_DAGSTER_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"


def prepare_dagster_home(home: Path | None = None) -> Path:
    """``DAGSTER_HOME`` when set, else ``SSOT_HOME/dagster`` (set in this process's environment).

    The directory gets the project's ``dagster.yaml`` (a symlink, so it stays current) when it has none,
    which makes the jobs, ``dagster dev`` and the daemon share one persistent instance.
    """
    configured = os.environ.get("DAGSTER_HOME", "").strip()
    target = Path(configured).expanduser().resolve() if configured else (home or ssot_home()) / "dagster"
    target.mkdir(parents=True, exist_ok=True)
    instance_yaml = target / "dagster.yaml"
    if not instance_yaml.exists() and not instance_yaml.is_symlink() and _REPO_DAGSTER_YAML.is_file():
        instance_yaml.symlink_to(_REPO_DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(target)
    return target


def _console_config(run_config: Mapping[str, Any] | None, show_debug: bool) -> dict[str, Any]:
    """The run config with Dagster's console logger at INFO (or DEBUG), unless the caller set it."""
    config: dict[str, Any] = dict(run_config or {})
    loggers = dict(config.get("loggers") or {})
    loggers.setdefault("console", {"config": {"log_level": "DEBUG" if show_debug else "INFO"}})
    config["loggers"] = loggers
    return config


def run_job(job_name: str, *, run_config: Mapping[str, Any] | None = None, show_debug: bool = False) -> int:
    """Run ``job_name``; 0 when every step succeeded, 1 when one failed, 2 when the job does not exist."""
    dagster_home = prepare_dagster_home()
    from dagster import DagsterInstance
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.execution.api import execute_run_iterator

    repository = ReconstructableRepository.for_module(DEFINITIONS_MODULE, "defs", working_directory=os.getcwd())
    definition = repository.get_definition()
    if job_name not in definition.job_names:
        names = ", ".join(sorted(n for n in definition.job_names if not n.startswith("__")))
        print(f"ssot run: no job named {job_name!r}; the jobs are: {names}", file=sys.stderr)
        return 2
    recon_job = repository.get_reconstructable_job(job_name)
    job_def = definition.get_job(job_name)
    started = time.monotonic()
    with DagsterInstance.get() as instance:
        run = instance.create_run_for_job(
            job_def=job_def,
            run_config=_console_config(run_config, show_debug),
            tags={"ssot/started_by": "ssot run"},
            job_code_origin=recon_job.get_python_origin(),
        )
        print(
            f"ssot run: {job_name} as run {run.run_id} on the Dagster instance in {dagster_home} "
            f"(progress below; all of it in `dagster dev`)",
            flush=True,
        )
        failures: list[tuple[str, str]] = []
        succeeded = 0
        with console_filter(show_debug) as console:
            for event in execute_run_iterator(recon_job, run, instance):
                if event.is_step_failure:
                    step, message = event.step_key or "?", failure_message(event.step_failure_data.error)
                    failures.append((step, message))
                    print(f"ssot run: step {step} FAILED: {message}", file=console, flush=True)
                elif event.is_step_up_for_retry:
                    retry = event.step_retry_data
                    wait = f" in {retry.seconds_to_wait:.0f} s" if retry.seconds_to_wait else ""
                    print(
                        f"ssot run: step {event.step_key} failed; Dagster retries it{wait}: "
                        f"{failure_message(retry.error)}",
                        file=console,
                        flush=True,
                    )
                elif event.is_step_success:
                    succeeded += 1
        finished = instance.get_run_by_id(run.run_id)
    elapsed = _duration(time.monotonic() - started)
    ok = finished is not None and finished.status.value == "SUCCESS" and not failures
    if ok:
        print(f"ssot run: {job_name} succeeded in {elapsed} ({succeeded} steps)", flush=True)
        return 0
    print(
        summary_line(
            job_name, run.run_id, failures, elapsed, finished.status.value if finished is not None else "UNKNOWN"
        ),
        file=sys.stderr,
        flush=True,
    )
    return 1


# 2026-12-03 07:29:29 +0000 - dagster - INFO - full_sync_job - <run id> - [pid - ]<step> - <message>
_DAGSTER_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d (?P<time>\d\d:\d\d:\d\d) [+-]\d{4} - dagster - (?P<level>[A-Z]+) - \S+ - "
    r"[0-9a-f-]{36} - (?:\d+ - )?(?:(?P<step>[\w.\[\]-]+) - )?(?P<message>.*)$"
)


def shorten(line: str, show_debug: bool = False) -> str | None:
    """A console line as shown: None to drop it (DEBUG), Dagster's prefix cut to time, level and step."""
    match = _DAGSTER_LINE.match(line)
    if match is None:
        return line
    level = match["level"]
    if level == "DEBUG" and not show_debug:
        return None
    where = f"{match['step']}: " if match["step"] else ""
    label = "" if level == "INFO" else f"{level} "
    return f"{match['time']} {label}{where}{match['message']}"


@contextlib.contextmanager
def console_filter(show_debug: bool) -> Iterator[TextIO]:
    """Route this process's stderr (inherited by the step processes) through ``shorten``, line by line.

    Yields the terminal's own stderr, for lines that must never be filtered (ours).
    """
    sys.stderr.flush()
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        keep = True  # continuation lines (a stack trace) follow the fate of the line they belong to
        with os.fdopen(read_end, "rb", buffering=0) as source:
            pending = b""
            while chunk := source.read(65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    text = raw.decode("utf-8", "replace")
                    if _DAGSTER_LINE.match(text):
                        shown = shorten(text, show_debug)
                        keep = shown is not None
                        text = shown or ""
                    elif text == "Stack Trace:" and not show_debug:
                        keep = False  # the trace is in `dagster dev`; the error itself was shown above
                    if keep:
                        os.write(original, (text + "\n").encode())
            if pending:
                os.write(original, pending)

    reader = threading.Thread(target=pump, name="ssot-run-console", daemon=True)
    reader.start()
    console = os.fdopen(os.dup(original), "w", buffering=1)
    try:
        yield console
    finally:
        console.close()
        sys.stderr.flush()
        os.dup2(original, 2)  # our write end closes; the reader ends once every process holding it has gone
        reader.join(timeout=2.0)
        if not reader.is_alive():  # else a long-lived helper (Dagster's forkserver) still holds the pipe
            os.close(original)


def failure_message(error: Any) -> str:
    """The innermost cause of a Dagster error (the user code's exception), on one line."""
    if error is None:
        return "no error information was recorded"
    while getattr(error, "cause", None) is not None:
        error = error.cause
    text = " ".join(str(getattr(error, "message", error)).split())
    name = getattr(error, "cls_name", None)
    if name and (qualified := re.match(rf"^[\w.]+\.{re.escape(name)}: ", text)):
        text = f"{name}: {text[qualified.end() :]}"
    return text[:600] + ("…" if len(text) > 600 else "")


def summary_line(job: str, run_id: str, failures: list[tuple[str, str]], elapsed: str, status: str) -> str:
    """One line: which steps failed, the first error, and what to do."""
    if not failures:
        return (
            f"ssot run: {job} ended {status} after {elapsed} with no failed step; see run {run_id} in "
            "`dagster dev` (DAGSTER_HOME as above)"
        )
    steps = ", ".join(step for step, _ in failures)
    first = failures[0][1]
    return (
        f"ssot run: {job} FAILED after {elapsed}: {len(failures)} step(s) failed ({steps}); first error: "
        f"{first} — fix that, then run the same command again (syncs are idempotent: finished work is "
        f"not repeated); details: run {run_id} in `dagster dev`"
    )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
