"""Running the real entry points (`dagster asset materialize`, `ssot ...`) as a user would, in subprocesses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from ssot_pipelines.catalog.state import file_key
from ssot_pipelines_tests.catalog_fixtures import git_hash_objects
from ssot_pipelines_tests.notion_helpers import SANDBOX_TOKEN, live_rows, person, text_of

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def user_env(
    sandbox: Any,
    ledger_url: str,
    redis_url: str,
    repo: Path,
    *,
    parent: str | None = None,
    dagster_home: Path | None = None,
    rps: float = 1000.0,
) -> dict[str, str]:
    """The environment a user sets: the Notion target, the ledger, Redis, the repository to catalogue."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
    env.update(
        {
            "NOTION_TOKEN": SANDBOX_TOKEN,
            "NOTION_BASE_URL": sandbox.url,
            "NOTION_PARENT_PAGE_ID": parent or sandbox.root_page_id,
            "POSTGRES_URL": ledger_url,
            "REDIS_URL": redis_url,
            "SSOT_REPO_ROOTS": f"{repo.name}={repo}",
            "SSOT_EMBEDDER": "hashing",
            "NOTION_RPS": str(rps),
        }
    )
    if dagster_home is not None:
        dagster_home.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
        env["DAGSTER_HOME"] = str(dagster_home)
    return env


def materialize_args(select: str, config: str | None = None) -> list[str]:
    args = [str(BIN / "dagster"), "asset", "materialize", "-m", "ssot_pipelines.definitions", "--select", select]
    if config:
        args += ["--config-json", config]
    return args


def run(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def ssot(*args: str) -> list[str]:
    return [str(BIN / "ssot"), *args]


def tree_shas(repo: Path) -> dict[str, str]:
    """Catalog key -> git blob SHA of every file in the work tree (what Notion must show)."""
    files = sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts)
    return {file_key(repo.name, p): sha for p, sha in git_hash_objects(repo, files).items()}


def catalog_pages(sandbox: Any, data_source_id: str) -> dict[str, list[dict[str, Any]]]:
    return live_rows(person(sandbox), data_source_id)


def shas_in_notion(pages: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    return {key: text_of(group[0], "SHA") for key, group in pages.items()}


def data_source_of(sandbox: Any, parent: str, title: str = "File Catalog") -> str:
    """The data source titled ``title`` under the parent page, found as a person would (search)."""
    from ssot_pipelines.notion.codec import normalize_id

    res: Any = person(sandbox).request(
        path="search",
        method="POST",
        body={"query": title, "filter": {"property": "object", "value": "data_source"}, "page_size": 100},
    )
    for item in res["results"]:
        name = "".join(t.get("plain_text", "") for t in item.get("title", []))
        under = normalize_id(str((item.get("database_parent") or {}).get("page_id", "")))
        if name == title and under == normalize_id(parent) and not item.get("in_trash"):
            return str(item["id"])
    raise AssertionError(f"no {title} data source under {parent}")
