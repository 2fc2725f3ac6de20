"""``ssot mcp`` through the official SDK's client over a real stdio subprocess."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

REPO = Path(__file__).resolve().parents[1]


def _payload(result: Any) -> Any:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        data = result.structured_content
        return data.get("result", data) if isinstance(data, dict) and set(data) == {"result"} else data
    return json.loads(result.content[0].text)


def test_the_mcp_server_lists_its_tools_then_adds_claims_and_completes_a_task(ledger_url: str) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "ssot_pipelines.cli", "mcp"],
        cwd=str(REPO),
        env={
            **os.environ,
            "POSTGRES_URL": ledger_url,
            "PYTHONPATH": str(REPO),
            "SSOT_SESSION_ID": "sess-mcp-1",
            "SSOT_EMBEDDER": "hashing",
        },
    )

    async def scenario() -> dict[str, Any]:
        async with Client(params, read_timeout_seconds=120) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert {
                "search",
                "session_context",
                "task_add",
                "task_ready",
                "task_claim",
                "task_heartbeat",
                "task_done",
                "task_block",
                "task_show",
            } <= set(tools)
            schema = tools["task_claim"].input_schema
            assert "agent" in schema["required"] and schema["properties"]["lease_seconds"]["type"] == "integer"

            added = _payload(
                await client.call_tool(
                    "task_add", {"title": "Write the docs", "agent": "planner-1", "role": "executor", "priority": "P1"}
                )
            )
            ready = _payload(await client.call_tool("task_ready", {"role": "executor"}))
            assert [t["id"] for t in ready] == [added["id"]]
            claimed = _payload(await client.call_tool("task_claim", {"agent": "exec-1", "role": "executor"}))
            assert claimed["claimed"] and claimed["task"]["id"] == added["id"]
            nothing = _payload(await client.call_tool("task_claim", {"agent": "exec-2"}))
            assert nothing == {"claimed": False, "reason": "no task is ready"}

            missing = await client.call_tool("task_show", {"task_id": 9999})
            assert missing.is_error and "no task 9999" in missing.content[0].text

            refused = await client.call_tool("task_done", {"task_id": added["id"], "agent": "exec-2"})
            assert refused.is_error and "held by exec-1" in refused.content[0].text
            bad = await client.call_tool("task_add", {"title": "x", "agent": "a", "priority": "P9"})
            assert bad.is_error, "the input schema refuses an unknown priority"

            _payload(
                await client.call_tool(
                    "task_heartbeat", {"task_id": added["id"], "agent": "exec-1", "note": "half written"}
                )
            )
            _payload(
                await client.call_tool(
                    "task_done", {"task_id": added["id"], "agent": "exec-1", "note": "docs/tasks.md"}
                )
            )
            shown: dict[str, Any] = _payload(await client.call_tool("task_show", {"task_id": added["id"]}))

            hits = await client.call_tool("search", {"query": "migration plan"})
            assert not hits.is_error and _payload(hits) == [], "an empty recall index answers with no hits"
            found = _payload(await client.call_tool("search", {"query": "docs/tasks.md", "kinds": ["tasks"]}))
            assert found[0]["kind"] == "tasks" and found[0]["title"] == f"#{added['id']} Write the docs"
            assert any("docs/tasks.md" in line for line in found[0]["matched"] + found[0]["after"]), "with activity"
            unknown = await client.call_tool("session_context", {"session": "no-such-session"})
            assert unknown.is_error and "no session 'no-such-session'" in unknown.content[0].text
            handover = _payload(await client.call_tool("task_context", {"task_id": added["id"]}))
            assert "docs/tasks.md" in handover
            return shown

    shown = anyio.run(scenario)
    assert shown["status"] == "done" and shown["done_note"] == "docs/tasks.md"
    kinds = [(a["kind"], a["source"], a["session_id"]) for a in shown["activity"]]
    assert kinds == [
        ("added", "mcp", "sess-mcp-1"),
        ("claimed", "mcp", "sess-mcp-1"),
        ("progress", "mcp", "sess-mcp-1"),
        ("done", "mcp", "sess-mcp-1"),
    ]
