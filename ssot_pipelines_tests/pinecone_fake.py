"""A loopback stand-in for a Pinecone serverless index's REST data plane, for the real ``pinecone`` SDK.

Serves ``/vectors/upsert``, ``/query``, ``/vectors/fetch``, ``/vectors/delete`` and
``/describe_index_stats`` with Pinecone's metadata filter operators, checks the ``Api-Key`` header, and
enforces the published limits (1000 vectors / 2 MB per upsert, 40 KB metadata, ASCII ids <= 512), so a
client that breaks them fails here as it would in production. It records every request for assertions.
"""

from __future__ import annotations

import json
import math
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _matches(metadata: dict[str, Any], flt: dict[str, Any]) -> bool:
    for key, condition in flt.items():
        if key == "$and":
            if not all(_matches(metadata, sub) for sub in condition):
                return False
        elif key == "$or":
            if not any(_matches(metadata, sub) for sub in condition):
                return False
        else:
            ops = condition if isinstance(condition, dict) else {"$eq": condition}
            if not all(_compare(metadata, key, op, operand) for op, operand in ops.items()):
                return False
    return True


def _compare(metadata: dict[str, Any], key: str, op: str, operand: Any) -> bool:
    present = key in metadata
    value = metadata.get(key)

    def equal(target: Any) -> bool:
        return present and (value == target or (isinstance(value, list) and target in value))

    if op == "$eq":
        return equal(operand)
    if op == "$ne":
        return not equal(operand)
    if op == "$in":
        return any(equal(v) for v in operand)
    if op == "$nin":
        return not any(equal(v) for v in operand)
    if op == "$exists":
        return present == bool(operand)
    if not present or isinstance(value, bool) or not isinstance(value, int | float):
        return False
    outcome: bool = {
        "$gt": value > operand,
        "$gte": value >= operand,
        "$lt": value < operand,
        "$lte": value <= operand,
    }[op]
    return outcome


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


class PineconeFake:
    """An in-memory cosine index of one dimension on 127.0.0.1; ``host`` is what ``pc.index(host=...)`` takes."""

    def __init__(self, api_key: str, dimension: int = 384) -> None:
        self.api_key = api_key
        self.dimension = dimension
        self.namespaces: dict[str, dict[str, dict[str, Any]]] = {}
        self.requests: list[tuple[str, str, int]] = []  # (method, path, body bytes)
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                url = urllib.parse.urlsplit(self.path)
                with fake.lock:
                    fake.requests.append((method, url.path, len(raw)))
                if self.headers.get("Api-Key") != fake.api_key:
                    self._reply(
                        401, {"error": {"code": "UNAUTHENTICATED", "message": "Invalid API Key"}, "status": 401}
                    )
                    return
                body = json.loads(raw) if raw else {}
                status, payload = fake.dispatch(method, url.path, body, urllib.parse.parse_qs(url.query))
                self._reply(status, payload)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> PineconeFake:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def upsert_batches(self) -> list[int]:
        """Body sizes of the upsert requests received, in order."""
        return [size for method, path, size in self.requests if path == "/vectors/upsert"]

    @staticmethod
    def _bad(message: str) -> tuple[int, dict[str, Any]]:
        return 400, {"error": {"code": "INVALID_ARGUMENT", "message": message}, "status": 400}

    def dispatch(
        self, method: str, path: str, body: dict[str, Any], query: dict[str, list[str]]
    ) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if path == "/vectors/upsert":
                return self._upsert(body)
            if path == "/query":
                return self._query(body)
            if path == "/vectors/fetch":
                ns = self.namespaces.get(query.get("namespace", [""])[0], {})
                return 200, {
                    "vectors": {i: ns[i] for i in query.get("ids", []) if i in ns},
                    "namespace": query.get("namespace", [""])[0],
                }
            if path == "/vectors/delete":
                ns = self.namespaces.get(body.get("namespace", ""), {})
                for vector_id in body.get("ids", []):
                    ns.pop(vector_id, None)
                return 200, {}
            if path == "/describe_index_stats":
                return 200, {
                    "namespaces": {k: {"vectorCount": len(v)} for k, v in self.namespaces.items() if v},
                    "dimension": self.dimension,
                    "indexFullness": 0.0,
                    "totalVectorCount": sum(len(v) for v in self.namespaces.values()),
                    "metric": "cosine",
                    "vectorType": "dense",
                }
            return 404, {"error": {"code": "NOT_FOUND", "message": f"no route {path}"}, "status": 404}

    def _upsert(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        vectors = body.get("vectors", [])
        if len(vectors) > 1000 or len(json.dumps(body).encode()) > 2 * 1024 * 1024:
            return self._bad("upsert over 1000 vectors or 2 MB")
        for v in vectors:
            if not v["id"].isascii() or len(v["id"]) > 512:
                return self._bad(f"id must be ASCII, at most 512 characters: {v['id'][:40]}")
            if len(v["values"]) != self.dimension:
                return self._bad(
                    f"Vector dimension {len(v['values'])} does not match the dimension of the index {self.dimension}"
                )
            if len(json.dumps(v.get("metadata") or {}).encode()) > 40 * 1024:
                return self._bad(f"Metadata size exceeds the limit of 40960 bytes for id {v['id']}")
        ns = self.namespaces.setdefault(body.get("namespace", ""), {})
        for v in vectors:
            ns[v["id"]] = {"id": v["id"], "values": v["values"], "metadata": v.get("metadata") or {}}
        return 200, {"upsertedCount": len(vectors)}

    def _query(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        ns = self.namespaces.get(body.get("namespace", ""), {})
        flt = body.get("filter") or {}
        scored = sorted(
            (
                {
                    "id": v["id"],
                    "score": _cosine(body["vector"], v["values"]),
                    **({"metadata": v["metadata"]} if body.get("includeMetadata") else {}),
                }
                for v in ns.values()
                if _matches(v["metadata"], flt)
            ),
            key=lambda m: -m["score"],
        )
        return 200, {"matches": scored[: body.get("topK", 10)], "namespace": body.get("namespace", "")}
