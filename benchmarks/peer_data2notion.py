"""This project against data2notion 1.3.3 on the same workload and the same server (issue 14 §3).

The workload: an 85-file repository's File Catalog (``catalog_common.build_tree``), synced into a local
sandbox that enforces 3 requests/s with bursts of 10 (its token bucket, per token; before each step the
benchmark waits the 3.8 s the bucket takes to fill, so every step starts alike for both tools). Four steps each:

- provisioning: ``ssot setup`` makes the seven databases; data2notion needs its database made by hand
  (done here through the API, not counted);
- initial: the 85 rows (``ssot catalog sync``; ``data2notion write-to-notion <db> csv catalog.csv``);
- no change: the same again;
- 1 % changed + 1 deleted: one file edited and one deleted (data2notion gets the same two changes in its CSV).

data2notion's CSV holds exactly the values our sync wrote (read back from the sandbox after our step), so
both tools push the same rows. data2notion is installed into a throwaway virtualenv under /tmp (never into
the project's dependencies). It speaks Notion-Version 2022-06-28 (``databases/{id}`` and
``databases/{id}/query``, which the sandbox serves for that version: ``sandbox/v2022.py``); notion-client
2.5.0 has no base-URL setting data2notion passes on, so a two-line runner points its client at the sandbox.
Requests and 429s are counted by the sandbox; seconds are each command's wall time, process start included.

Run: ``.venv/bin/python benchmarks/peer_data2notion.py [--files 85] [--rps 3]`` (default: this project's
learning pacer; ``--rps 3`` runs it at a fixed NOTION_RPS). Uses POSTGRES_URL / REDIS_URL or the embedded
services (a throwaway ledger). Prints figures only.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from catalog_common import build_tree
from ledger_db import throwaway_ledger

from ssot_pipelines.notion.setup import resolve_redis_url
from ssot_pipelines.sandbox import SandboxServer
from ssot_pipelines.schemas import database

OURS, PEER, READER = "ours-token", "peer-token", "reader-token"
PEER_VERSION = "1.3.3"
PEER_VENV = Path(tempfile.gettempdir()) / f"ssot-bench-data2notion-{PEER_VERSION}"
RUNNER = """import os, sys
import notion_client
_init = notion_client.AsyncClient.__init__
def _at_sandbox(self, options=None, client=None, **kwargs):
    kwargs.setdefault("base_url", os.environ["PEER_BASE_URL"])
    _init(self, options, client, **kwargs)
notion_client.AsyncClient.__init__ = _at_sandbox
import data2notion_main
sys.argv = ["data2notion", *sys.argv[1:]]
sys.exit(data2notion_main.main())
"""
COLUMNS = ("Path", "Key", "SHA", "Type", "Last Modified", "Size", "Preview", "Component", "Repository")
# The figures for data2notion (its own measurement on an independent strict server), used when
# data2notion cannot be installed here.
QUOTED = {"initial": (26.8, 113, 26), "no change": (0.24, 2, 0), "1 % changed + 1 deleted": (0.3, 4, 0)}


def peer_python() -> Path | None:
    """data2notion in a throwaway virtualenv (made once per machine); None when it cannot be installed."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"data2notion=={PEER_VERSION}"], capture_output=True
        )
        if done.returncode != 0:
            shutil.rmtree(PEER_VENV, ignore_errors=True)
            print(f"data2notion {PEER_VERSION} could not be installed:\n{done.stderr.decode()[-800:]}")
            return None
    return python


class Bench:
    def __init__(self, base: Path, sandbox: SandboxServer, rps: float, trace: bool = False) -> None:
        self.trace = trace
        self.base = base
        self.sandbox = sandbox
        self.rps = rps
        self.rows: list[tuple[str, str, float, int, int]] = []

    def step(self, tool: str, step: str, command: list[str], env: dict[str, str]) -> None:
        # Every step starts alike: a full bucket. Time for it to fill (10 requests at 3/s) passes before each
        # step, for the sandbox's bucket and for this project's pacer (whose Redis state would otherwise
        # still count the previous step's last requests) alike; then the sandbox's bucket is reset as well.
        time.sleep(10 / 3 + 0.5)
        self.sandbox.set_rate_limit(3.0, 10)
        self.sandbox.reset_stats()
        seen = len(self.sandbox.limiter.arrivals)
        started, clock = time.perf_counter(), time.monotonic()
        done = subprocess.run(command, env=env, cwd=self.base, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        arrivals = [t - clock for t in list(self.sandbox.limiter.arrivals)[seen:]]
        if self.trace and arrivals:
            # where the seconds go: before the first request, between requests (the longest gaps), after
            gaps = sorted(((b - a, a) for a, b in itertools.pairwise(arrivals)), reverse=True)[:5]
            print(
                f"{tool} {step}: first request at {arrivals[0]:.2f} s, last at {arrivals[-1]:.2f} s, exit at "
                f"{seconds:.2f} s; longest gaps " + ", ".join(f"{g:.2f} s at {a:.1f}" for g, a in gaps),
                flush=True,
            )
        if done.returncode != 0:
            raise SystemExit(f"{tool} {step} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        stats = self.sandbox.stats()
        self.rows.append((tool, step, seconds, int(stats["requests"]), int(stats["rate_limited_429"])))


def _plain(prop: dict[str, Any]) -> str:
    kind = prop["type"]
    value = prop.get(kind)
    if kind in ("title", "rich_text"):
        return "".join(t.get("plain_text", "") for t in value or [])
    if kind == "select":
        return str(value["name"]) if value else ""
    if kind == "date":
        return str(value["start"]) if value else ""
    if kind == "number":
        return "" if value is None else str(value)
    return ""


def export_csv(sandbox: SandboxServer, data_source_id: str, out: Path) -> int:
    """The live rows of our File Catalog as data2notion's CSV (read with a token of its own, not counted)."""
    rows: list[dict[str, str]] = []
    body: dict[str, Any] = {"page_size": 100}
    headers = {"Authorization": f"Bearer {READER}", "Notion-Version": "2025-09-03"}
    while True:
        res = httpx.post(f"{sandbox.url}/v1/data_sources/{data_source_id}/query", json=body, headers=headers).json()
        rows += [{c: _plain(page["properties"][c]) for c in COLUMNS} for page in res["results"]]
        if not res["has_more"]:
            break
        body["start_cursor"] = res["next_cursor"]
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: r["Path"]))
    return len(rows)


def peer_database(sandbox: SandboxServer) -> str:
    """data2notion's database, made by hand: the File Catalog's columns (people's Notes left out)."""
    schema = database("file_catalog")
    properties = {p.name: p.notion_config({}) for p in schema.properties if p.name in COLUMNS}
    res = httpx.post(
        f"{sandbox.url}/v1/databases",
        headers={"Authorization": f"Bearer {READER}", "Notion-Version": "2025-09-03"},
        json={
            "parent": {"type": "page_id", "page_id": sandbox.root_page_id},
            "title": [{"type": "text", "text": {"content": "File Catalog (data2notion)"}}],
            "initial_data_source": {"properties": properties},
        },
    ).json()
    return str(res["id"])


def our_data_source(env: dict[str, str]) -> str:
    from ssot_pipelines.ledger import connect
    from ssot_pipelines.notion.provision import load_ids
    from ssot_pipelines.notion.setup import NotionTarget

    target = NotionTarget(env["NOTION_BASE_URL"], OURS, env["NOTION_PARENT_PAGE_ID"]).target_id
    with connect(env["POSTGRES_URL"]) as conn:
        return load_ids(conn, target)["file_catalog"].data_source_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=85)
    parser.add_argument(
        "--rps",
        type=float,
        default=0.0,
        help="this project's NOTION_RPS (default 0: unset, the learning pacer; 3: fixed)",
    )
    parser.add_argument("--trace", action="store_true", help="print when each step's requests reached the sandbox")
    args = parser.parse_args()
    peer = peer_python()

    base = Path(tempfile.mkdtemp(prefix="peer-data2notion-"))
    sandbox = SandboxServer(base / "notion.sqlite", port=0, rate_limit_rps=3.0, burst=10, tokens=(OURS, PEER, READER))
    sandbox.start()
    try:
        repo = base / "repo"
        repo.mkdir()
        paths, _ = build_tree(repo, args.files)
        with throwaway_ledger("peer") as (url, _conn):
            env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
            env.pop("PYTHONDONTWRITEBYTECODE", None)  # users' Python caches bytecode
            env.update(
                {
                    "NOTION_TOKEN": OURS,
                    "NOTION_BASE_URL": sandbox.url,
                    "NOTION_PARENT_PAGE_ID": sandbox.root_page_id,
                    "POSTGRES_URL": url,
                    "REDIS_URL": resolve_redis_url(),
                    "SSOT_REPO_ROOTS": str(repo),
                    "SSOT_HOME": str(base / "ssot_home"),
                }
            )
            if args.rps:
                env["NOTION_RPS"] = str(args.rps)
            else:
                env.pop("NOTION_RPS", None)
            bench = Bench(base, sandbox, args.rps, args.trace)
            ssot = [sys.executable, "-m", "ssot_pipelines.cli"]
            bench.step("ssot", "provisioning (7 databases)", [*ssot, "setup"], env)
            bench.step("ssot", "initial", [*ssot, "catalog", "sync"], env)
            ds = our_data_source(env)
            export_csv(sandbox, ds, base / "initial.csv")
            bench.step("ssot", "no change", [*ssot, "catalog", "sync"], env)
            edited, deleted = paths[len(paths) // 2], paths[-1]
            with open(repo / edited, "ab") as fh:
                fh.write(b"\n# edited\n")
            (repo / deleted).unlink()
            bench.step("ssot", "1 % changed + 1 deleted", [*ssot, "catalog", "sync"], env)
            export_csv(sandbox, ds, base / "changed.csv")

        if peer is not None:
            (base / "run_data2notion.py").write_text(RUNNER)
            db = peer_database(sandbox)
            peer_env = {**os.environ, "NOTION_TOKEN": PEER, "PEER_BASE_URL": sandbox.url}
            run = [str(peer), str(base / "run_data2notion.py"), "--no-progress-bar", "write-to-notion", db, "csv"]
            bench.step("data2notion", "initial", [*run, str(base / "initial.csv")], peer_env)
            bench.step("data2notion", "no change", [*run, str(base / "initial.csv")], peer_env)
            bench.step("data2notion", "1 % changed + 1 deleted", [*run, str(base / "changed.csv")], peer_env)
        _print(bench, args, peer is not None)
    finally:
        sandbox.stop()
        shutil.rmtree(base, ignore_errors=True)


def _print(bench: Bench, args: argparse.Namespace, measured_peer: bool) -> None:
    print(
        f"{args.files}-file File Catalog; sandbox at 3 requests/s, bursts of 10; this project at "
        + (f"NOTION_RPS={args.rps:g}" if args.rps else "its default pacer")
        + f"; data2notion {PEER_VERSION} at its default 3:100"
        + ("" if measured_peer else " (not installed: the issue's quoted figures)")
    )
    peer = {step: (s, r, q) for tool, step, s, r, q in bench.rows if tool == "data2notion"} if measured_peer else QUOTED
    print(f"{'step':28} {'data2notion':>30} {'this project':>30} {'x time':>7}")
    for tool, step, seconds, requests, limited in bench.rows:
        if tool != "ssot":
            continue
        theirs = peer.get(step)
        left = f"{theirs[0]:6.2f} s {theirs[1]:4d} req {theirs[2]:3d} x 429" if theirs else "(makes none)"
        right = f"{seconds:6.2f} s {requests:4d} req {limited:3d} x 429"
        ratio = f"{seconds / theirs[0]:7.2f}" if theirs and theirs[0] else ""
        print(f"{step:28} {left:>30} {right:>30} {ratio}")


if __name__ == "__main__":
    main()
