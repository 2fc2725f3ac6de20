"""`ssot catalog sync` killed with SIGKILL mid-sync, and two full syncs at once: real processes (issue 8)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ssot_pipelines_tests.catalog_fixtures import commit_all, make_repo
from ssot_pipelines_tests.field_helpers import ROOT, catalog_pages, run, shas_in_notion, ssot, tree_shas, user_env
from ssot_pipelines_tests.notion_helpers import person, sync_manager, text_of


def _start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    # its own process group: the kill takes the whole command, as a killed terminal or container would
    return subprocess.Popen(
        ssot("catalog", "sync"),
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _writes_since(ledger: Any, moment: datetime) -> int:
    row = ledger.execute(
        "SELECT count(*) AS n FROM notion_rows WHERE database = 'file_catalog' AND synced_at > %s", (moment,)
    ).fetchone()
    ledger.commit()
    return int(row["n"])


def _now(ledger: Any) -> datetime:
    row = ledger.execute("SELECT now() AS t").fetchone()
    ledger.commit()
    return row["t"]  # type: ignore[no-any-return]


def test_sigkill_mid_incremental_catalog_sync_then_an_ordinary_run_makes_notion_equal_the_tree(
    tmp_path: Path, sandbox: Any, ledger: Any, ledger_url: str, redis_url: str
) -> None:
    files: dict[str, bytes | str] = {f"src/f{i:03d}.py": f"v = {i}\n" for i in range(150)}
    files["docs/guide.md"] = "# the guide\n" + "keep this page\n" * 30
    repo = make_repo(tmp_path / "app", files)
    commit_all(repo)
    fast = user_env(sandbox, ledger_url, redis_url, repo)
    first = run(ssot("catalog", "sync"), fast)
    assert first.returncode == 0, first.stdout + first.stderr
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        ds = sync.ids["file_catalog"].data_source_id
        guide_page = sync.page_id("file_catalog", "app/docs/guide.md")
    assert guide_page is not None
    person(sandbox).request(
        path=f"pages/{guide_page}",
        method="PATCH",
        body={"properties": {"Notes": {"rich_text": [{"text": {"content": "reviewed by Ana"}}]}}},
    )

    # 120 updates, 10 additions, 2 deletions and a rename
    for i in range(120):
        (repo / f"src/f{i:03d}.py").write_text(f"v = {i} + 1\n")
    for i in range(10):
        (repo / f"src/new{i}.py").write_text(f"n = {i}\n")
    (repo / "src/f148.py").unlink()
    (repo / "src/f149.py").unlink()
    (repo / "docs/guide.md").rename(repo / "docs/handbook.md")
    commit_all(repo, "every kind of change")

    slow = {**fast, "NOTION_RPS": "15"}  # ~130 writes: about 9 s of requests, so the kills land mid-sync
    rng = random.Random(20261203)
    landed = []
    for round_ in range(3):
        started = _now(ledger)
        proc = _start(slow)
        if round_ == 0:
            time.sleep(rng.uniform(0.5, 6.0))  # anywhere: start-up, the scan, or the sync
        else:
            deadline = time.monotonic() + 120
            while proc.poll() is None and _writes_since(ledger, started) == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 1.5))
        finished = proc.poll() is not None
        if not finished:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        landed.append((finished, _writes_since(ledger, started)))
    assert any(not finished and writes for finished, writes in landed), f"no kill landed mid-sync: {landed}"

    ordinary = run(ssot("catalog", "sync"), fast)  # the next ordinary (incremental) run
    assert ordinary.returncode == 0, ordinary.stdout + ordinary.stderr

    pages = catalog_pages(sandbox, ds)
    assert all(len(group) == 1 for group in pages.values()), "one live page per file"
    assert shas_in_notion(pages) == tree_shas(repo)
    [handbook] = pages["app/docs/handbook.md"]
    assert handbook["id"] == guide_page, "the renamed file kept its page"
    assert text_of(handbook, "Notes") == "reviewed by Ana"


def test_two_full_catalog_syncs_started_together_never_create_a_row_twice(
    tmp_path: Path, sandbox: Any, ledger_url: str, redis_url: str
) -> None:
    repo = make_repo(tmp_path / "app", {f"src/f{i:03d}.py": f"v = {i}\n" for i in range(40)})
    commit_all(repo)
    env = user_env(sandbox, ledger_url, redis_url, repo, rps=100)
    procs = [
        subprocess.Popen(
            ssot("catalog", "sync", "--full"),
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    with sync_manager(sandbox, ledger_url, redis_url) as sync:
        ds = sync.ids["file_catalog"].data_source_id
    pages = catalog_pages(sandbox, ds)
    assert {k: len(group) for k, group in pages.items() if len(group) > 1} == {}
    assert shas_in_notion(pages) == tree_shas(repo)
    created = sorted(
        int(line.split(": ")[1].split(" created")[0])
        for out in outputs
        for line in out.splitlines()
        if line.strip().startswith("file_catalog: ") and " created, " in line
    )
    assert created == [0, 40], outputs
