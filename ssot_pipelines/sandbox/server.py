"""HTTP layer: routing under /v1/, auth and version checks, rate limits, faults, control endpoints.

The sandbox is local, not open. Every request must name a loopback host in ``Host`` (a DNS-rebinding
page reaches 127.0.0.1 under its own name) and may carry an ``Origin`` only if it is the sandbox's own
(no cross-site page may drive it); ``/v1/`` and ``/__sandbox/*`` need the token as ``Authorization:
Bearer``, and the HTML view needs it once as ``?token=`` (it then sets a same-site, HTTP-only cookie
holding a digest of the token, good for the view only). Responses carry no CORS headers.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from . import v2022, versions, view
from .api import NotionApi, Query
from .block_limit import BlockBudget
from .errors import ApiError
from .faults import BAD_GATEWAY_HTML, FaultConfig, FaultInjector, committed_503
from .ids import try_parse_id
from .ratelimit import RateLimitConfig, RateLimits
from .store import Record, Store
from .validation import check_body_size
from .views_api import check_views_version
from .webhooks import WebhookDeliverer

Handler = Callable[[NotionApi, list[str], Query, Record], Record]
WRITE_ONLY_FAULTS = ("conflict_409", "unavailable_503_after_commit")


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    kind: str
    write: bool
    handler: Handler


def _route(method: str, path: str, kind: str, write: bool, handler: Handler) -> Route:
    return Route(method, re.compile("^/v1/" + path.replace("{id}", "([^/]+)") + "/?$"), kind, write, handler)


ROUTES: tuple[Route, ...] = (
    _route("POST", "databases", "databases.create", True, lambda a, p, q, b: a.create_database(b)),
    _route("GET", "databases/{id}", "databases.retrieve", False, lambda a, p, q, b: a.get_database(p[0])),
    _route("PATCH", "databases/{id}", "databases.update", True, lambda a, p, q, b: a.update_database(p[0], b)),
    _route("POST", "data_sources", "data_sources.create", True, lambda a, p, q, b: a.create_data_source(b)),
    _route("GET", "data_sources/{id}", "data_sources.retrieve", False, lambda a, p, q, b: a.get_data_source(p[0])),
    _route("PATCH", "data_sources/{id}", "data_sources.update", True, lambda a, p, q, b: a.update_data_source(p[0], b)),
    _route(
        "POST",
        "data_sources/{id}/query",
        "data_sources.query",
        False,
        lambda a, p, q, b: a.query_data_source(p[0], q, b),
    ),
    # 2022-06-28 only (sandbox/v2022.py): the query of a database's one data source
    _route("POST", "databases/{id}/query", "databases.query", False, lambda a, p, q, b: a.query_database(p[0], q, b)),
    _route("POST", "pages", "pages.create", True, lambda a, p, q, b: a.create_page(b)),
    _route("GET", "pages/{id}", "pages.retrieve", False, lambda a, p, q, b: a.get_page(p[0], q)),
    _route("PATCH", "pages/{id}", "pages.update", True, lambda a, p, q, b: a.update_page(p[0], b)),
    _route(
        "GET",
        "pages/{id}/properties/{id}",
        "pages.properties.retrieve",
        False,
        lambda a, p, q, b: a.get_page_property(p[0], p[1], q),
    ),
    _route("GET", "blocks/{id}/children", "blocks.children.list", False, lambda a, p, q, b: a.list_children(p[0], q)),
    _route(
        "PATCH", "blocks/{id}/children", "blocks.children.append", True, lambda a, p, q, b: a.append_children(p[0], b)
    ),
    _route("GET", "blocks/{id}", "blocks.retrieve", False, lambda a, p, q, b: a.get_block(p[0])),
    _route("PATCH", "blocks/{id}", "blocks.update", True, lambda a, p, q, b: a.update_block(p[0], b)),
    _route("DELETE", "blocks/{id}", "blocks.delete", True, lambda a, p, q, b: a.delete_block(p[0])),
    _route("POST", "search", "search", False, lambda a, p, q, b: a.search(b)),
    _route("GET", "users", "users.list", False, lambda a, p, q, b: a.list_users(q)),
    _route("GET", "users/me", "users.me", False, lambda a, p, q, b: a.me()),
    _route("GET", "users/{id}", "users.retrieve", False, lambda a, p, q, b: a.get_user(p[0])),
    # views_api.py: tabs, dashboards and widgets, and cached view queries (Notion-Version >= 2025-09-03)
    _route("GET", "views", "views.list", False, lambda a, p, q, b: a.list_views(q)),
    _route("POST", "views", "views.create", True, lambda a, p, q, b: a.create_view(b)),
    _route("GET", "views/{id}", "views.retrieve", False, lambda a, p, q, b: a.get_view(p[0])),
    _route("PATCH", "views/{id}", "views.update", True, lambda a, p, q, b: a.update_view(p[0], b)),
    _route("DELETE", "views/{id}", "views.delete", True, lambda a, p, q, b: a.delete_view(p[0])),
    _route(
        "POST", "views/{id}/queries", "views.queries.create", False, lambda a, p, q, b: a.create_view_query(p[0], b)
    ),
    _route(
        "GET",
        "views/{id}/queries/{id}",
        "views.queries.results",
        False,
        lambda a, p, q, b: a.get_view_query_results(p[0], p[1], q),
    ),
    _route(
        "DELETE",
        "views/{id}/queries/{id}",
        "views.queries.delete",
        False,
        lambda a, p, q, b: a.delete_view_query(p[0], p[1]),
    ),
)


def match_route(method: str, path: str) -> tuple[Route, list[str]] | None:
    for route in ROUTES:
        m = route.pattern.match(path)
        if m and route.method == method:
            return route, list(m.groups())
    return None


def write_target(store: Store, route: Route, args: list[str], result: Record) -> str:
    """Where an applied write landed, for ``writes_by_data_source``: the data source of the page it changed
    (a row, its properties or its body), ``schema`` for databases, data sources and views, else ``page``."""
    if route.kind.startswith(("databases.", "data_sources.", "views.")):
        return "schema"
    object_id = str(result.get("id")) if route.kind == "pages.create" else (args[0] if args else "")
    rec = store.get(try_parse_id(object_id) or "")
    for _ in range(100):  # blocks nest; a page is reached in a few steps
        if rec is None:
            return "page"
        parent = rec.get("parent") or {}
        if rec["kind"] == "page":
            return str(parent.get("data_source_id") or "page")
        rec = store.get(parent.get("block_id") or parent.get("page_id") or "")
    return "page"


PERSON_PREFIX = "/__sandbox/person"


def _page_events(hooks: WebhookDeliverer, kind: str, body: Record, result: Record, person: bool) -> None:
    """The webhook events Notion sends for an applied page write (ids only, never values)."""
    if result.get("object") != "page":
        return
    if kind == "pages.create":
        hooks.page_event("page.created", result, person=person)
        return
    if kind != "pages.update":
        return
    trash = body.get("in_trash", body.get("archived"))
    if trash is True:
        hooks.page_event("page.deleted", result, person=person)
    elif trash is False:
        hooks.page_event("page.undeleted", result, person=person)
    props = body.get("properties") or {}
    if props:
        rendered = result.get("properties") or {}
        ids = [str(rendered[name].get("id", name)) if name in rendered else str(name) for name in props]
        hooks.page_event("page.properties_updated", result, person=person, updated_properties=ids)


class SandboxStats:
    """Counters exposed by ``/__sandbox/stats``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.by_method: Counter[str] = Counter()
            self.by_endpoint: Counter[str] = Counter()
            self.rate_limited = 0
            self.faults: Counter[str] = Counter()
            self.writes_applied = 0
            self.writes_by_data_source: Counter[str] = Counter()
            self.by_version: Counter[str] = Counter()

    def request(self, method: str, kind: str) -> None:
        with self._lock:
            self.by_method[method] += 1
            self.by_endpoint[kind] += 1

    def bump(self, what: str, kind: str = "") -> None:
        with self._lock:
            if what == "429":
                self.rate_limited += 1
            elif what == "fault":
                self.faults[kind] += 1
            elif what == "version":
                self.by_version[kind] += 1
            elif what == "write":
                self.writes_applied += 1
                self.writes_by_data_source[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": sum(self.by_method.values()),
                "by_method": dict(self.by_method),
                "by_endpoint": dict(self.by_endpoint),
                "rate_limited_429": self.rate_limited,
                "faults": dict(self.faults),
                "writes_applied": self.writes_applied,
                "writes_by_data_source": dict(self.writes_by_data_source),
                "by_version": dict(self.by_version),
            }


class SandboxServer:
    """A Notion-API-compatible server on a loopback port, backed by a SQLite file."""

    def __init__(
        self,
        db_path: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: Sequence[str] | None = None,
        rate_limit_rps: float | None = 3.0,
        burst: int = 10,
        faults: FaultConfig | None = None,
        rate_limits: RateLimitConfig | None = None,
    ) -> None:
        """``tokens``: the API tokens it accepts (the first is ``token``); None makes one random token.

        ``rate_limits`` (window and workspace models, ``ratelimit.py``) replaces ``rate_limit_rps``/``burst``
        when given."""
        if not is_loopback(host):
            raise ValueError(f"the sandbox binds loopback addresses only, not {host!r}")
        accepted = tuple(tokens) if tokens is not None else (secrets.token_urlsafe(32),)
        if not accepted or not all(isinstance(t, str) and t for t in accepted):
            raise ValueError("the sandbox needs at least one non-empty token")
        self.host = host
        self.port = port
        self.token = accepted[0]
        self.tokens = frozenset(accepted)
        _create_private(Path(db_path))
        self.store = Store(db_path)
        self.api = NotionApi(self.store)
        self.limiter = RateLimits(rate_limits or RateLimitConfig(rate_limit_rps, burst))
        self.faults = FaultInjector(faults)
        self.counters = SandboxStats()
        self.block_budget = BlockBudget()  # off: configure() models a Free multi-member workspace
        self.webhooks = WebhookDeliverer(self.store.root_page_id, self.store.bot_user_id)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def root_page_id(self) -> str:
        return self.store.root_page_id

    @property
    def query_result_limit(self) -> int:
        """Results one query may return before ``request_status`` says incomplete (Notion: 10,000)."""
        return self.api.query_result_limit

    @query_result_limit.setter
    def query_result_limit(self, value: int) -> None:
        self.api.query_result_limit = value

    @property
    def view_query_ttl_seconds(self) -> float:
        """How long a view query's cached result lives (Notion: 15 minutes, then 404)."""
        return self.api.view_query_ttl_seconds

    @view_query_ttl_seconds.setter
    def view_query_ttl_seconds(self, value: float) -> None:
        self.api.view_query_ttl_seconds = value

    def start(self) -> SandboxServer:
        server_class = _HTTPServer6 if ":" in self.host else _HTTPServer
        httpd = server_class((self.host, self.port), _RequestHandler)
        httpd.sandbox = self
        self.port = int(httpd.server_address[1])
        self._httpd = httpd
        # A short poll interval keeps stop() (and so every test teardown) fast.
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.05,), name=f"notion-sandbox-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def wait(self) -> None:
        """Block until the server stops serving (``POST /__sandbox/shutdown``); Ctrl-C interrupts."""
        # Short joins keep the main thread responsive to KeyboardInterrupt.
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        self.webhooks.stop()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self.store.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_faults(self, faults: FaultConfig | None) -> None:
        self.faults.configure(faults)

    def set_rate_limit(self, rps: float | None, burst: int = 10, **models: Any) -> None:
        """The token bucket (``rps=None``: off) plus the window/workspace models of ``RateLimitConfig``."""
        self.limiter.configure(RateLimitConfig(rps, burst, **models))

    def stats(self) -> dict[str, Any]:
        return {**self.counters.snapshot(), "rate_limits": self.limiter.snapshot()}

    def reset_stats(self) -> None:
        self.counters.reset()


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _create_private(path: Path) -> None:
    """Create the state file readable by its owner only (SQLite gives its WAL files the same mode)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def _host_name(value: str) -> str | None:
    """The host part of a ``Host`` header (``[::1]:8765`` → ``::1``), or None when malformed."""
    try:
        parsed = urlsplit(f"//{value}")
        _ = parsed.port  # raises on a malformed port
    except ValueError:
        return None
    return parsed.hostname


def view_cookie(token: str) -> str:
    """What the view's cookie holds: a digest of the token, which opens the read-only view and no API."""
    return hashlib.sha256(f"ssot-sandbox-view:{token}".encode()).hexdigest()


def _token_matches(candidate: str, tokens: frozenset[str]) -> bool:
    return any(hmac.compare_digest(candidate.encode(), t.encode()) for t in tokens)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sandbox: SandboxServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (timeouts during a slow fault) are normal here, not worth a traceback."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class _Response:
    def __init__(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Response:
    return _Response(status, json.dumps(payload).encode(), "application/json; charset=utf-8", headers)


def _error(err: ApiError, request_id: str) -> _Response:
    return _json(err.status, err.body(request_id), err.headers)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, keep-alive clients wait ~40 ms per request.
    disable_nagle_algorithm = True
    # Idle keep-alive connections would otherwise pin a thread each for as long as the client lives.
    timeout = 300
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging; /__sandbox/stats is the observable record."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        request_id = str(uuid.uuid4())
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        params = parse_qs(split.query, keep_blank_values=True)
        try:
            refusal = self._refuse_foreign()
            if refusal is not None:
                response = refusal
            elif split.path.startswith(PERSON_PREFIX + "/v1/"):
                # An edit "as a person" (the Notion UI): the API itself, attributed to a person in webhooks.
                if not is_loopback(self.client_address[0]):
                    response = _json(403, {"ok": False, "error": "control endpoints are loopback-only"})
                else:
                    response = self._notion(
                        method, split.path[len(PERSON_PREFIX) :], params, raw, request_id, person=True
                    )
            elif split.path.startswith("/__sandbox/"):
                response = self._control(method, split.path, raw)
            elif split.path.startswith("/v1/"):
                response = self._notion(method, split.path, params, raw, request_id)
            elif method == "GET" and (split.path == "/" or split.path.startswith("/view/")):
                response = self._view(split.path, params)
            else:
                response = _error(ApiError(400, "invalid_request_url", "Invalid request URL."), request_id)
        except ApiError as err:
            response = _error(err, request_id)
        except Exception as exc:  # a sandbox bug must still produce Notion's envelope, not a dropped socket
            response = _error(ApiError(500, "internal_server_error", f"Sandbox error: {exc!r}"), request_id)
        self._send(response, request_id)

    def _send(self, response: _Response, request_id: str) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("x-notion-request-id", request_id)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(response.body)

    # -- who may ask -------------------------------------------------------------------------------

    def _refuse_foreign(self) -> _Response | None:
        """403 unless ``Host`` names a loopback host and any ``Origin`` is this sandbox's own."""
        host = _host_name(self.headers.get("Host", ""))
        if host is None or not is_loopback(host):
            return _json(
                403,
                {
                    "object": "error",
                    "status": 403,
                    "code": "forbidden_host",
                    "message": "The Notion sandbox answers only to a loopback host name "
                    "(127.0.0.1, ::1 or localhost) in the Host header.",
                },
            )
        origin = self.headers.get("Origin")
        if origin is not None and not self._own_origin(origin):
            return _json(
                403,
                {
                    "object": "error",
                    "status": 403,
                    "code": "forbidden_origin",
                    "message": "Cross-site requests to the Notion sandbox are refused.",
                },
            )
        return None

    def _own_origin(self, origin: str) -> bool:
        try:
            parsed = urlsplit(origin)
            port = parsed.port
        except ValueError:
            return False
        return (
            parsed.scheme == "http"
            and parsed.hostname is not None
            and is_loopback(parsed.hostname)
            and port == self.server.sandbox.port
        )

    def _bearer(self) -> str:
        auth = self.headers.get("Authorization", "")
        return auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""

    # -- /v1/ ---------------------------------------------------------------------------------------

    def _notion(
        self, method: str, path: str, params: Query, raw: bytes, request_id: str, *, person: bool = False
    ) -> _Response:
        sandbox = self.server.sandbox
        found = match_route(method, path)
        kind = found[0].kind if found else "unknown"
        sandbox.counters.request(method, kind)
        token = self._bearer()
        if not _token_matches(token, sandbox.tokens):
            raise ApiError(401, "unauthorized", "API token is invalid.")
        if not self.headers.get("Notion-Version"):
            raise ApiError(
                400,
                "missing_version",
                "Notion-Version header failed validation: Notion-Version "
                "header should be defined, instead was `undefined`.",
            )
        version = versions.check_version(self.headers["Notion-Version"])
        sandbox.counters.bump("version", version)
        try:
            sandbox.limiter.check(token)
        except ApiError:
            sandbox.counters.bump("429")
            raise
        decision = sandbox.faults.decide()
        if decision.slow_seconds:
            sandbox.counters.bump("fault", "slow")
            time.sleep(decision.slow_seconds)
        fault = decision.kind
        if fault in WRITE_ONLY_FAULTS and not (found and found[0].write):
            fault = None  # conflicts and committed-then-failed responses only make sense for writes
        if fault is not None and fault != "unavailable_503_after_commit":
            sandbox.counters.bump("fault", fault)
            if fault == "rate_limited_429":
                sandbox.counters.bump("429")
            if fault == "bad_gateway_502_html":
                return _Response(502, BAD_GATEWAY_HTML.encode(), "text/html")
            raise sandbox.faults.error_for(fault)
        if found is None:
            raise ApiError(400, "invalid_request_url", "Invalid request URL.")
        route, args = found
        if route.kind.startswith("views."):
            check_views_version(self.headers.get("Notion-Version"))
        legacy = self.headers.get("Notion-Version", "").strip() == v2022.V2022_06_28
        v2022.refuse_in_newer_versions(route.kind, self.headers.get("Notion-Version", "").strip())
        check_body_size(len(raw))
        body = self._parse_body(raw)
        versions.check_request(version, route.kind, body)
        with sandbox.store.lock:  # one request at a time sees and changes the workspace, like one SQLite writer
            sandbox.block_budget.check(route.kind, body)
            sandbox.api.acting_as_person = person  # who a view records as its creator or editor
            result = route.handler(sandbox.api, args, params, body)
            sandbox.block_budget.record(route.kind, body)
            written = write_target(sandbox.store, route, args, result) if route.write else ""
            if legacy:
                result = sandbox.api.as_2022_06_28(route.kind, result)
        if route.write:
            sandbox.counters.bump("write", written)
            _page_events(sandbox.webhooks, route.kind, body, result, person)
        if fault == "unavailable_503_after_commit":
            sandbox.counters.bump("fault", fault)
            resource = result.get("id") if result.get("object") != "list" else (args[0] if args else None)
            raise committed_503(resource)
        result = versions.shape_response(version, route.kind, result, params)
        result["request_id"] = request_id
        return _json(200, result)

    @staticmethod
    def _parse_body(raw: bytes) -> Record:
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "invalid_json", "Error parsing JSON body.") from None
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_json", "Error parsing JSON body: expected an object.")
        return body

    # -- control and view ---------------------------------------------------------------------------

    def _control(self, method: str, path: str, raw: bytes) -> _Response:
        sandbox = self.server.sandbox
        if not is_loopback(self.client_address[0]):
            return _json(403, {"ok": False, "error": "control endpoints are loopback-only"})
        if not _token_matches(self._bearer(), sandbox.tokens):
            return _json(
                401,
                {
                    "ok": False,
                    "error": "control endpoints need the sandbox's token as "
                    "'Authorization: Bearer <token>' (see $SSOT_HOME/sandbox-token)",
                },
            )
        try:
            body = json.loads(raw) if raw.strip() else {}
            if method == "GET" and path == "/__sandbox/health":
                return _json(200, {"ok": True, "root_page_id": sandbox.root_page_id})
            if method == "GET" and path == "/__sandbox/stats":
                return _json(200, sandbox.stats())
            if method == "POST" and path == "/__sandbox/stats/reset":
                sandbox.reset_stats()
                return _json(200, {"ok": True})
            if method == "POST" and path == "/__sandbox/faults":
                sandbox.set_faults(FaultConfig.from_json(body) if body else None)
                return _json(200, {"ok": True, "faults": sandbox.faults.config.to_json()})
            if method == "POST" and path == "/__sandbox/shutdown":
                # Stop from another thread: shutdown() waits for this very request loop to finish.
                threading.Thread(target=self.server.shutdown, daemon=True).start()
                return _json(200, {"ok": True})
            if method == "POST" and path == "/__sandbox/webhooks":
                sub = sandbox.webhooks.register(str(body.get("url") or ""), str(body.get("verification_token") or ""))
                return _json(200, {"ok": True, "subscription_id": sub.id})
            if method == "DELETE" and path == "/__sandbox/webhooks":
                sandbox.webhooks.clear()
                return _json(200, {"ok": True})
            if path == "/__sandbox/block_limit":
                if method == "POST":
                    sandbox.block_budget.configure(
                        body.get("limit"), body.get("grace_seconds"), reset=bool(body.get("reset", True))
                    )
                return _json(200, {"ok": True, **sandbox.block_budget.snapshot()})
            if method == "POST" and path == "/__sandbox/rate_limit":
                models = {k: v for k, v in body.items() if k not in ("rps", "burst")}
                sandbox.set_rate_limit(body.get("rps"), int(body.get("burst", 10)), **models)
                return _json(200, {"ok": True, **sandbox.limiter.snapshot()})
        except (ValueError, TypeError) as exc:
            return _json(400, {"ok": False, "error": str(exc)})
        return _json(404, {"ok": False, "error": f"no control endpoint {method} {path}"})

    def _view(self, path: str, params: Query) -> _Response:
        sandbox = self.server.sandbox
        cookie_name = f"ssot_sandbox_{sandbox.port}"
        given = (params.get("token") or [""])[0]
        if given:
            if not _token_matches(given, sandbox.tokens):
                return _view_login(401, "That token is not this sandbox's.")
            # Trade the token in the address for a cookie, and drop it from the address bar and history.
            rest = {k: v for k, v in params.items() if k != "token"}
            location = path + (f"?{urlencode(rest, doseq=True)}" if rest else "")
            return _Response(
                303,
                b"",
                "text/plain",
                {
                    "Location": location,
                    "Set-Cookie": f"{cookie_name}={view_cookie(given)}; Path=/; HttpOnly; SameSite=Strict",
                    **_VIEW_HEADERS,
                },
            )
        cookies = SimpleCookie()
        with contextlib.suppress(CookieError):
            cookies.load(self.headers.get("Cookie", ""))
        held = cookies[cookie_name].value if cookie_name in cookies else ""
        if not any(hmac.compare_digest(held.encode(), view_cookie(t).encode()) for t in sandbox.tokens):
            return _view_login(401, "This view shows the sandbox's workspace to its owner only.")
        status, html = view.render(sandbox.api, path)
        return _Response(status, html.encode(), "text/html; charset=utf-8", dict(_VIEW_HEADERS))


# The view is read-only HTML: no scripts, no framing by other sites, no token leaking through Referer.
_VIEW_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _view_login(status: int, reason: str) -> _Response:
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Notion sandbox</title></head><body>"
        f"<h1>Notion sandbox</h1><p>{reason}</p><p>Open the address printed by <code>ssot sandbox "
        "--view-url</code>, or paste the token from <code>$SSOT_HOME/sandbox-token</code> (default "
        "<code>.ssot/sandbox-token</code>):</p><form method='get'><input name='token' type='password' "
        "size='50' autocomplete='off'> <button>Open</button></form></body></html>"
    )
    return _Response(status, page.encode(), "text/html; charset=utf-8", dict(_VIEW_HEADERS))
