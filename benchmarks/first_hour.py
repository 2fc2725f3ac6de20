"""A new user's first hour, timed: the quick start on a fresh clone, and how fast the ``ssot`` command answers.

python benchmarks/first_hour.py cli [--runs 30]
    `ssot --help`, `ssot status`, `ssot hooks print` and `ssot stop` (nothing running) against
    `python -c pass`: median and p90 wall time, and the ratio of medians (target: at most 8x).

python benchmarks/first_hour.py quickstart [--source .] [--keep]
    `git clone` the source into a temporary folder and time the quick start's three parts there, as
    `.ci/quickstart` runs them: install (`.ci/common.sh` on a fresh clone), the job (`ssot run
    full_sync_job`) and the audit (`ssot verify`). The sandbox gets a free port so that nothing else on
    the machine is touched; the clone's services are stopped at the end (`ssot stop`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def cli(runs: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="ssot-bench-home-"))
    env = {**os.environ, "SSOT_HOME": str(home)}
    ssot = str(Path(sys.executable).with_name("ssot"))
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "ssot --help": [ssot, "--help"],
        "ssot status": [ssot, "status"],
        "ssot hooks print": [ssot, "hooks", "print"],
        "ssot stop (nothing running)": [ssot, "stop"],
    }
    for command in commands.values():  # warm the file cache
        _timed(command, env, home)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):  # interleaved, so a busy moment of the machine hits every command alike
        for name, command in commands.items():
            times[name].append(_timed(command, env, home))
    base = statistics.median(times["python -c pass"])
    print(f"{'command':30} {'median':>9} {'p90':>9} {'x python -c pass':>17}   ({runs} runs each)")
    for name, values in times.items():
        p90 = statistics.quantiles(values, n=10)[-1]
        print(
            f"{name:30} {statistics.median(values) * 1000:7.1f}ms {p90 * 1000:7.1f}ms "
            f"{statistics.median(values) / base:16.1f}x"
        )
    shutil.rmtree(home, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def quickstart(source: Path, keep: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix="ssot-quickstart-"))
    clone = folder / "ssot_pipelines"
    subprocess.run(["git", "clone", "--quiet", str(source), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "SSOT_HOME", "DAGSTER_HOME")}
    env.update({"SSOT_SANDBOX_PORT": str(_free_port()), "PATH": f"{clone / '.venv' / 'bin'}:{env.get('PATH', '')}"})
    parts = [
        ("install (.ci/common.sh)", ["bash", "-c", "source .ci/common.sh"]),
        ("job (ssot run full_sync_job)", [str(clone / ".venv" / "bin" / "ssot"), "run", "full_sync_job"]),
        ("audit (ssot verify)", [str(clone / ".venv" / "bin" / "ssot"), "verify"]),
    ]
    figures = []
    try:
        for name, command in parts:
            print(f"--- {name}", flush=True)
            started = time.perf_counter()
            done = subprocess.run(command, env=env, cwd=clone, check=False)
            figures.append((name, time.perf_counter() - started, done.returncode))
            if done.returncode != 0:
                break
    finally:
        if (clone / ".venv" / "bin" / "ssot").exists():
            subprocess.run(
                [str(clone / ".venv" / "bin" / "ssot"), "stop"],
                env=env,
                cwd=clone,
                check=False,
                stdout=subprocess.DEVNULL,
            )
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"\nquick start on a fresh clone of {source} ({os.cpu_count()} CPUs):")
    for name, seconds, code in figures:
        print(f"  {name:32} {seconds:7.1f} s" + ("" if code == 0 else f"  (exit code {code})"))
    print(f"  {'total':32} {sum(s for _, s, _ in figures):7.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    timing = sub.add_parser("cli", help="time the ssot command against python -c pass")
    timing.add_argument("--runs", type=int, default=30, help="runs of each command (default 30)")
    qs = sub.add_parser("quickstart", help="time the quick start's parts on a fresh clone")
    qs.add_argument("--source", type=Path, default=REPO, help="repository to clone (default: this one)")
    qs.add_argument("--keep", action="store_true", help="keep the clone (and its .ssot) afterwards")
    args = parser.parse_args()
    if args.what == "cli":
        cli(args.runs)
    else:
        quickstart(args.source.resolve(), args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
