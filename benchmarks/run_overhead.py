"""What a run costs when there is nothing to do: Dagster's own overhead against ours, in seconds and requests.

Times, as a user runs them (each a process of its own, the project's dagster.yaml in a throwaway
DAGSTER_HOME):

- ``dagster asset materialize`` of a trivial asset (a module with one asset returning 1): Dagster's floor
  for one materialization (process start, instance, step subprocess);
- the same command for ``file_catalog`` with nothing changed (an incremental no-op run of one Notion asset),
  and for ``notion_databases,file_catalog`` (provisioning upstream, as the incremental job runs it);
- ``ssot catalog sync`` with nothing changed;
- with ``--with-job``: ``dagster job execute`` of ``incremental_sync_job`` with nothing changed (every database);
- ``python -c "import ssot_pipelines.definitions"``: what loading our code location costs each process.

Against a local sandbox (rate limit lifted: the no-op runs make no request to pace) over an 85-file
repository, synced once before the measured runs. Target: the no-op Notion run within 2x the trivial asset.

Run: ``.venv/bin/python benchmarks/run_overhead.py [--runs 3] [--files 85]``. Uses POSTGRES_URL / REDIS_URL or
the embedded services (a throwaway ledger database). Prints figures only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from catalog_common import build_tree
from ledger_db import ROOT, throwaway_ledger

from ssot_pipelines.notion.setup import resolve_redis_url
from ssot_pipelines.sandbox import SandboxServer

SANDBOX_TOKEN = "sandbox-token"
TRIVIAL = """import dagster as dg


@dg.asset
def trivial() -> int:
    return 1


defs = dg.Definitions(assets=[trivial])
"""


def _env(base: Path, sandbox: SandboxServer, ledger_url: str, repo: Path) -> dict[str, str]:
    home = base / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    # PYTHONDONTWRITEBYTECODE would make every process compile the project again: not how users run it
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(
        {
            "DAGSTER_HOME": str(home),
            "NOTION_TOKEN": SANDBOX_TOKEN,
            "NOTION_BASE_URL": sandbox.url,
            "NOTION_PARENT_PAGE_ID": sandbox.root_page_id,
            "NOTION_RPS": "1000",
            "POSTGRES_URL": ledger_url,
            "REDIS_URL": resolve_redis_url(),
            "SSOT_REPO_ROOTS": str(repo),
            "SSOT_EMBEDDER": "hashing",
            "SSOT_HOME": str(base / "ssot_home"),
            "SSOT_JOURNAL_DIR": str(base / "journal"),
            "CLAUDE_CONFIG_DIR": str(base / "claude"),
            "CODEX_HOME": str(base / "codex"),
            "PYTHONPATH": str(base),
        }
    )
    return env


def _run(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:6])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of each command (median shown)")
    parser.add_argument("--files", type=int, default=85, help="files in the repository (default 85)")
    parser.add_argument(
        "--with-job", action="store_true", help="also time `dagster job execute` of incremental_sync_job (slow)"
    )
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="run-overhead-"))
    sandbox = SandboxServer(base / "notion.sqlite", port=0, rate_limit_rps=None, tokens=(SANDBOX_TOKEN,))
    sandbox.start()
    try:
        repo = base / "repo"
        repo.mkdir()
        build_tree(repo, args.files)
        (base / "trivial_defs.py").write_text(TRIVIAL)
        with throwaway_ledger("run_overhead") as (url, _conn):
            env = _env(base, sandbox, url, repo)
            python = sys.executable
            materialize = [python, "-m", "dagster", "asset", "materialize"]
            ssot = [python, "-m", "ssot_pipelines.cli"]
            _run([*ssot, "catalog", "sync"], env, base)  # the first sync: provisioning and every row
            commands = {
                "python -c pass": [python, "-c", "pass"],
                "import ssot_pipelines.definitions": [python, "-c", "import ssot_pipelines.definitions"],
                "dagster: trivial asset": [*materialize, "-m", "trivial_defs", "--select", "trivial"],
                "dagster: file_catalog, no-op": [
                    *materialize,
                    "-m",
                    "ssot_pipelines.definitions",
                    "--select",
                    "file_catalog",
                ],
                "dagster: notion_databases+file_catalog, no-op": [
                    *materialize,
                    "-m",
                    "ssot_pipelines.definitions",
                    "--select",
                    "notion_databases,file_catalog",
                ],
                "ssot catalog sync, no-op": [*ssot, "catalog", "sync"],
            }
            if args.with_job:
                job = [python, "-m", "dagster", "job", "execute", "-m", "ssot_pipelines.definitions"]
                commands["dagster: incremental_sync_job, no-op"] = [*job, "-j", "incremental_sync_job"]
            for command in commands.values():  # warm the file cache and the instance's storage
                _run(command, env, base)
            times: dict[str, list[float]] = {name: [] for name in commands}
            requests: dict[str, list[int]] = {name: [] for name in commands}
            for _ in range(args.runs):  # interleaved, so a busy moment of the machine hits every command alike
                for name, command in commands.items():
                    sandbox.reset_stats()
                    times[name].append(_run(command, env, base))
                    requests[name].append(int(sandbox.stats()["requests"]))
        trivial = statistics.median(times["dagster: trivial asset"])
        print(f"{args.files}-file repository, {args.runs} runs each, {os.cpu_count()} CPUs (median wall seconds)")
        print(f"{'command':48} {'seconds':>8} {'x trivial':>10} {'requests':>9}")
        for name in commands:
            seconds = statistics.median(times[name])
            print(f"{name:48} {seconds:8.2f} {seconds / trivial:10.2f} {max(requests[name]):9d}")
    finally:
        sandbox.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
