"""The sandbox is local, not open: cross-site and rebinding requests, tokens, and who can read its files."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from notion_client import APIResponseError, Client

from ssot_pipelines.sandbox import SandboxServer
from ssot_pipelines.sandbox.launcher import sandbox_health
from ssot_pipelines.settings import sandbox_token, sandbox_token_path
from ssot_pipelines_tests.notion_helpers import SANDBOX_TOKEN

_HTTP = httpx.Client()
_NOTION = {"Notion-Version": "2025-09-03"}


def _auth(token: str = SANDBOX_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _requests(sandbox: SandboxServer) -> list[tuple[str, str, dict[str, str]]]:
    """One request per kind of endpoint, each fully authorised: only Host or Origin can make it fail."""
    return [
        ("GET", "/v1/users/me", {**_auth(), **_NOTION}),
        ("GET", "/__sandbox/stats", _auth()),
        ("POST", "/__sandbox/shutdown", _auth()),
        ("GET", f"/?token={SANDBOX_TOKEN}", {}),
        ("GET", "/", {"Cookie": f"ssot_sandbox_{sandbox.port}={_view_cookie()}"}),
    ]


def _view_cookie() -> str:
    from ssot_pipelines.sandbox.server import view_cookie

    return view_cookie(SANDBOX_TOKEN)


@pytest.mark.parametrize(
    "foreign",
    [
        {"Origin": "http://evil.example"},
        {"Host": "evil.example"},
        {"Host": "evil.example:8765"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:1"},
    ],
    ids=["origin", "host", "rebound-host", "null-origin", "other-local-port"],
)
def test_a_cross_site_request_is_refused_by_every_endpoint(sandbox: SandboxServer, foreign: dict[str, str]) -> None:
    for method, path, headers in _requests(sandbox):
        response = _HTTP.request(method, sandbox.url + path, headers={**headers, **foreign})
        assert response.status_code == 403, (method, path, response.text)
        assert "access-control-allow-origin" not in response.headers
    # the shutdown above was refused: the sandbox still serves its owner, and the same requests from
    # the sandbox's own origin go through
    own = {"Origin": sandbox.url}
    assert _HTTP.get(sandbox.url + "/v1/users/me", headers={**_auth(), **_NOTION, **own}).status_code == 200
    assert _HTTP.get(sandbox.url + "/__sandbox/stats", headers={**_auth(), **own}).json()["requests"] >= 1
    view = _HTTP.get(sandbox.url + "/", headers={"Cookie": f"ssot_sandbox_{sandbox.port}={_view_cookie()}"})
    assert view.status_code == 200 and "Notion sandbox" in view.text


def test_control_endpoints_without_the_token_change_nothing(sandbox: SandboxServer) -> None:
    for token in ("", "sandbox-tokens", "wrong"):
        headers = _auth(token) if token else {}
        for method, path, body in (
            ("POST", "/__sandbox/faults", {"error_500": 1.0}),
            ("POST", "/__sandbox/rate_limit", {"rps": 0.01, "burst": 1}),
            ("POST", "/__sandbox/shutdown", None),
            ("GET", "/__sandbox/health", None),
        ):
            response = _HTTP.request(method, sandbox.url + path, headers=headers, json=body)
            assert response.status_code == 401, (token, path)
            assert "sandbox-token" in response.json()["error"], "the refusal says where the token is"
    for _ in range(20):  # no fault and no rate limit was installed, and the server is still up
        assert _HTTP.get(sandbox.url + "/v1/users/me", headers={**_auth(), **_NOTION}).status_code == 200


def test_the_view_needs_the_token_once_then_a_cookie_that_opens_nothing_else(sandbox: SandboxServer) -> None:
    anonymous = _HTTP.get(sandbox.url + "/")
    assert anonymous.status_code == 401 and "--view-url" in anonymous.text and "Debt" not in anonymous.text
    assert _HTTP.get(sandbox.url + "/?token=wrong").status_code == 401
    browser = httpx.Client()
    first = browser.get(sandbox.url + "/", params={"token": SANDBOX_TOKEN})
    assert first.status_code == 303 and first.headers["location"] == "/", "the token leaves the address bar"
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and SANDBOX_TOKEN not in cookie
    assert "frame-ancestors 'none'" in browser.get(sandbox.url + "/").headers["content-security-policy"]
    assert browser.get(sandbox.url + "/").status_code == 200
    odd = _HTTP.get(sandbox.url + "/", headers={"Cookie": f"ssot_sandbox_{sandbox.port}=\u00e9t\u00e9".encode()})
    assert odd.status_code == 401, "a cookie of any shape is refused, never a server error"
    # the view's cookie is no API token
    value = cookie.split(";")[0].split("=", 1)[1]
    assert _HTTP.get(sandbox.url + "/v1/users/me", headers={**_auth(value), **_NOTION}).status_code == 401


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_token_is_random_per_home_private_and_stable(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    with ThreadPoolExecutor(8) as pool:  # processes starting together agree on one token
        tokens = set(pool.map(lambda _: sandbox_token(a), range(16)))
    assert len(tokens) == 1
    token = tokens.pop()
    assert token != "sandbox-token" and len(token) >= 40
    assert sandbox_token(b) != token, "another SSOT_HOME has another token"
    assert sandbox_token(a) == token, "and it is stable"
    assert _mode(sandbox_token_path(a)) == 0o600
    assert _mode(a) == 0o700
    os.chmod(sandbox_token_path(a), 0o644)  # loosened by hand: tightened before it is used again
    assert sandbox_token(a) == token and _mode(sandbox_token_path(a)) == 0o600


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ssot_sandbox_serves_only_its_homes_token_and_keeps_its_files_private(tmp_path: Path) -> None:
    home, port = tmp_path / "home", _free_port()
    env = {**os.environ, "SSOT_HOME": str(home)}
    process = subprocess.Popen(
        [sys.executable, "-m", "ssot_pipelines.cli", "sandbox", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        token = _wait_for_token(home)
        deadline = time.monotonic() + 20
        while sandbox_health(url, token) is None:
            assert time.monotonic() < deadline, "the sandbox did not start"
            time.sleep(0.1)
        client: Any = Client(auth=token, base_url=url, retry=False)
        assert client.users.me()["type"] == "bot"
        with pytest.raises(APIResponseError) as refused:
            Client(auth="sandbox-token", base_url=url, retry=False).users.me()
        assert refused.value.status == 401, "the old public token opens nothing"
        assert _mode(sandbox_token_path(home)) == 0o600
        assert _mode(home / "notion-sandbox.sqlite") == 0o600
        printed = subprocess.run(
            [sys.executable, "-m", "ssot_pipelines.cli", "sandbox", "--port", str(port), "--view-url"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert printed.strip() == f"{url}/?token={token}"
        browser = httpx.Client(follow_redirects=True)
        assert "Notion sandbox" in browser.get(printed.strip()).text
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0]
    assert token not in output, "the token is never printed to the sandbox's log"


def _wait_for_token(home: Path) -> str:
    deadline = time.monotonic() + 20
    while not sandbox_token_path(home).exists():
        assert time.monotonic() < deadline, "no token file appeared"
        time.sleep(0.05)
    return sandbox_token(home)
