"""The work graph's speed: claim latency under 8 concurrent agents, the ready queue on a large graph, and
the latency of one durable activity write.

Run: ``.venv/bin/python benchmarks/tasks_graph.py [--tasks 400] [--agents 8] [--big 10000] [--edges 20000]``.
Uses a throwaway ledger database (POSTGRES_URL, else the embedded PostgreSQL). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import statistics
import time
from typing import Any

from ledger_db import throwaway_ledger

from ssot_pipelines import tasks
from ssot_pipelines.ledger import connect


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _agent(url: str, name: str, start_at: float, out: Any) -> None:
    conn = connect(url)
    while time.time() < start_at:
        time.sleep(0.001)
    latencies: list[tuple[float, bool]] = []
    claimed: list[int] = []
    while True:
        began = time.perf_counter()
        task = tasks.claim(conn, name, lease_seconds=300, source="bench")
        latencies.append((time.perf_counter() - began, task is not None))
        if task is None:
            if not tasks.ready(conn, limit=1) and not tasks.list_tasks(conn, status="in_progress"):
                break
            time.sleep(0.005)
            continue
        claimed.append(task.id)
        tasks.done(conn, task.id, name, source="bench")
    conn.close()
    out.put((name, latencies, claimed))


def claim_latency(url: str, conn: Any, n_tasks: int, n_agents: int) -> None:
    ids: list[int] = []
    for i in range(n_tasks):
        deps = [ids[-1]] if ids and i % 5 == 0 else []
        ids.append(tasks.add_task(conn, f"t{i}", agent="bench", priority=f"P{i % 4}", depends_on=deps).id)
    queue: Any = mp.Queue()
    start_at = time.time() + 2.0
    procs = [mp.Process(target=_agent, args=(url, f"agent-{n}", start_at, queue)) for n in range(n_agents)]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    wall = time.time() - start_at
    all_claims = [c for _, _, claimed in results for c in claimed]
    got = [t for _, lat, _ in results for t, ok in lat if ok]
    empty = [t for _, lat, _ in results for t, ok in lat if not ok]
    print(
        f"claims: {len(all_claims)} of {n_tasks} tasks by {n_agents} agents in {wall:.1f} s, "
        f"duplicates {len(all_claims) - len(set(all_claims))}"
    )
    print(
        f"claim latency, {len(got)} successful claims: median {statistics.median(got) * 1e3:.1f} ms, "
        f"p99 {percentile(got, 99) * 1e3:.1f} ms"
        + (f"; {len(empty)} empty polls: median {statistics.median(empty) * 1e3:.1f} ms" if empty else "")
    )


def ready_queue(conn: Any, n_tasks: int, n_edges: int) -> None:
    """A graph of ``n_tasks`` with ``n_edges`` random backward edges (a DAG); a third of the tasks done."""
    rng = random.Random(7)
    with conn.cursor() as cur, cur.copy("COPY tasks (title, priority, status, done_at) FROM STDIN") as copy:
        for i in range(n_tasks):
            done = i < n_tasks // 3
            copy.write_row((f"big {i}", i % 4, "done" if done else "todo", "2026-01-01" if done else None))
    conn.commit()
    low, high = [int(v) for v in conn.execute("SELECT min(id) AS a, max(id) AS b FROM tasks").fetchone().values()]
    edges: set[tuple[int, int]] = set()
    while len(edges) < n_edges:
        a = rng.randint(low + 1, high)
        b = rng.randint(low, a - 1)
        edges.add((a, b))
    with conn.cursor() as cur, cur.copy("COPY task_deps (task_id, dep_id) FROM STDIN") as copy:
        for a, b in edges:
            copy.write_row((a, b))
    conn.execute("ANALYZE tasks")
    conn.execute("ANALYZE task_deps")
    conn.commit()
    runs: list[float] = []
    count = 0
    for _ in range(20):
        began = time.perf_counter()
        count = len(tasks.ready(conn))
        runs.append(time.perf_counter() - began)
    first: list[float] = []
    for _ in range(50):
        began = time.perf_counter()
        tasks.ready(conn, limit=1)
        first.append(time.perf_counter() - began)
    print(
        f"ready queue on {n_tasks:,} tasks / {n_edges:,} dependencies ({count:,} ready): whole list median "
        f"{statistics.median(runs) * 1e3:.1f} ms, p99 {percentile(runs, 99) * 1e3:.1f} ms; best task (LIMIT 1) median "
        f"{statistics.median(first) * 1e3:.1f} ms"
    )
    claims: list[float] = []
    for i in range(50):
        began = time.perf_counter()
        tasks.claim(conn, f"solo-{i}", source="bench")
        claims.append(time.perf_counter() - began)
    print(
        f"claim on that graph (one agent, incl. reading the task back): median "
        f"{statistics.median(claims) * 1e3:.1f} ms, p99 {percentile(claims, 99) * 1e3:.1f} ms"
    )


def activity_write(conn: Any, n: int) -> None:
    task = tasks.add_task(conn, "activity target", agent="bench")
    lat: list[float] = []
    raw: list[float] = []
    for i in range(n):
        began = time.perf_counter()
        tasks.note(conn, task.id, "bench", f"progress {i}")
        lat.append(time.perf_counter() - began)
    for i in range(n):
        began = time.perf_counter()
        conn.execute(
            "INSERT INTO task_activity (task_id, agent, kind, note) VALUES (%s, 'bench', 'progress', %s)",
            (task.id, f"raw {i}"),
        )
        conn.commit()
        raw.append(time.perf_counter() - began)
    fsync = conn.execute("SHOW synchronous_commit").fetchone()
    conn.commit()
    print(
        f"activity write, committed (synchronous_commit={fsync['synchronous_commit'] if fsync else '?'}), {n} writes:"
        f" tasks.note (incl. reading the task back) median {statistics.median(lat) * 1e3:.2f} ms, p99 "
        f"{percentile(lat, 99) * 1e3:.2f} ms; the INSERT + COMMIT alone median {statistics.median(raw) * 1e3:.2f} ms, "
        f"p99 {percentile(raw, 99) * 1e3:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=400)
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--big", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=20_000)
    parser.add_argument("--writes", type=int, default=500)
    args = parser.parse_args()
    with throwaway_ledger("tasks_claims") as (url, conn):
        claim_latency(url, conn, args.tasks, args.agents)
    with throwaway_ledger("tasks_ready") as (_, conn):
        ready_queue(conn, args.big, args.edges)
    with throwaway_ledger("tasks_activity") as (_, conn):
        activity_write(conn, args.writes)


if __name__ == "__main__":
    main()
