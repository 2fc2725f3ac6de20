"""Kubernetes deployment, checked without a cluster: the image's commands, the Helm values, the instance.

- The Dockerfile's build step installs the package from exactly the files it copies, and its CMD is the
  code server that a test here starts and probes the way the Helm chart's readiness probe does.
- deploy/helm/values.yaml parses, passes yamllint, and every key it sets exists in the Dagster chart's
  values.schema.json (vendored under data/dagster_helm, source noted there).
- The code location loads under the production dagster.yaml: dagster-postgres against the machine's
  PostgreSQL (127.0.0.1:5432, a throwaway database).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SCHEMA = Path(__file__).parent / "data" / "dagster_helm" / "values.schema.json"
VALUES = ROOT / "deploy" / "helm" / "values.yaml"
MACHINE_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


# --- the Dockerfile ---------------------------------------------------------------------------------------


def dockerfile_instructions(path: Path = ROOT / "Dockerfile") -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (word, _) in enumerate(instructions) if word == "FROM"]
    return instructions[starts[-1] :]


def test_the_image_is_multi_stage_non_root_and_its_final_stage_installs_nothing() -> None:
    instructions = dockerfile_instructions()
    assert sum(word == "FROM" for word, _ in instructions) == 2
    final = _final_stage(instructions)
    user = [rest for word, rest in final if word == "USER"]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    # the final stage copies the venv built in the first; it runs no installer and no compiler
    final_runs = " ".join(rest for word, rest in final if word == "RUN")
    for tool in ("pip ", "apt-get", "gcc", "build-essential", "make "):
        assert tool not in final_runs, tool
    assert any(word == "COPY" and "--from=build" in rest for word, rest in final)
    assert not any(word == "ENTRYPOINT" for word, _ in instructions)  # the chart passes `args` (see Dockerfile)


def test_the_images_build_step_installs_the_package_from_exactly_the_files_it_copies(tmp_path: Path) -> None:
    """Replays the build stage: COPY the same files into an empty context, RUN the same pip install."""
    instructions = dockerfile_instructions()
    build = instructions[: len(instructions) - len(_final_stage(instructions))]
    context = tmp_path / "src"
    context.mkdir()
    for word, rest in build:
        if word == "COPY":
            *sources, _dest = rest.split()
            for source in sources:
                src = ROOT / source
                subprocess.run(["cp", "-r", str(src), str(context / src.name)], check=True)
    installs = [rest for word, rest in build if word == "RUN" and "pip install" in rest]
    assert installs == ["/opt/venv/bin/python -m pip install --no-cache-dir ."]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    argv = shlex.split(installs[0])
    argv[0] = str(venv / "bin" / "python")
    # --no-deps: the dependencies are the ones this test suite already runs on; what is checked here is that
    # the package and its data (migrations, sandbox page, schemas) install from the copied files alone
    result = subprocess.run([*argv, "--no-deps"], cwd=context, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    site = next((venv / "lib").glob("python3*/site-packages"))
    package = site / "ssot_pipelines"
    assert (package / "definitions.py").is_file() and (package / "deploy" / "worker.py").is_file()
    source_data = {p.relative_to(ROOT / "ssot_pipelines") for p in (ROOT / "ssot_pipelines").rglob("*.sql")}
    assert source_data and {p.relative_to(package) for p in package.rglob("*.sql")} == source_data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _process(argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


# --- the production instance ------------------------------------------------------------------------------


@pytest.fixture
def machine_dagster_db() -> Iterator[str]:
    """A throwaway database on the machine's PostgreSQL for Dagster's own storage."""
    try:
        admin = psycopg.connect(MACHINE_PG, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"the machine's PostgreSQL at 127.0.0.1:5432 is not reachable: {exc}")
    name = f"ssot_dagster_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield MACHINE_PG.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _production_env(tmp_path: Path, dagster_pg_url: str) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "PYTEST_"))}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", DAGSTER_HOME=str(home), DAGSTER_PG_URL=dagster_pg_url)
    return env


def test_the_code_location_loads_under_the_production_dagster_yaml(tmp_path: Path, machine_dagster_db: str) -> None:
    env = _production_env(tmp_path, machine_dagster_db)
    info = subprocess.run(
        [str(BIN / "dagster"), "instance", "info"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert info.returncode == 0, info.stdout + info.stderr
    assert "DagsterPostgresStorage" in info.stdout or "PostgresRunStorage" in info.stdout, info.stdout
    validate = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-m", "ssot_pipelines.definitions"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
    with psycopg.connect(machine_dagster_db) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"runs", "event_logs", "jobs", "concurrency_limits"} <= tables, tables


def test_the_images_cmd_serves_the_code_location_to_the_charts_readiness_probe(
    tmp_path: Path, machine_dagster_db: str
) -> None:
    cmd = [rest for word, rest in dockerfile_instructions() if word == "CMD"]
    argv: list[str] = json.loads(cmd[-1])
    assert argv[:3] == ["dagster", "code-server", "start"]
    port = _free_port()
    # the image's command, on loopback and a free port instead of 0.0.0.0:4000
    argv = [str(BIN / argv[0]), *argv[1:]]
    argv[argv.index("-h") + 1] = "127.0.0.1"
    argv[argv.index("-p") + 1] = str(port)
    env = _production_env(tmp_path, machine_dagster_db)
    with _process(argv, env, tmp_path, tmp_path / "code-server.log") as server:
        # the Dagster chart's readinessProbe for a user deployment: dagster api grpc-health-check -p PORT
        deadline = time.monotonic() + 240
        while True:
            probe = subprocess.run(
                [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(port)],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
            )
            if probe.returncode == 0:
                break
            assert server.poll() is None, (tmp_path / "code-server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, probe.stdout + probe.stderr
            time.sleep(2)
        # and the webserver/daemon side: a workspace that reaches the location over gRPC, as the chart writes it
        workspace = tmp_path / "workspace.yaml"
        workspace.write_text(
            yaml.safe_dump(
                {"load_from": [{"grpc_server": {"host": "127.0.0.1", "port": port, "location_name": "ssot-pipelines"}}]}
            )
        )
        validate = subprocess.run(
            [str(BIN / "dagster"), "definitions", "validate", "-w", str(workspace)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert validate.returncode == 0, validate.stdout + validate.stderr


# --- the Helm values --------------------------------------------------------------------------------------


class SchemaWalker:
    """Finds the keys of a values document that the chart's JSON schema does not define."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any] | None:
        """A local $ref followed; None for a Kubernetes object (a remote $ref: any key of that object goes)."""
        ref = node.get("$ref", "")
        if ref.startswith("#/"):
            target: Any = self.schema
            for part in ref[2:].split("/"):
                target = target[part]
            return self._resolve({**target, **{k: v for k, v in node.items() if k != "$ref"}})
        if ref:
            return None
        return node

    def _candidates(self, node: dict[str, Any]) -> list[dict[str, Any]] | None:
        resolved = self._resolve(node)
        if resolved is None:
            return None
        options = resolved.get("anyOf") or resolved.get("oneOf") or [resolved]
        out: list[dict[str, Any]] = []
        for option in options:
            sub = self._resolve(option)
            if sub is None:
                return None
            out.append(sub)
        return out

    def unknown_keys(self, value: Any, node: dict[str, Any], path: str = "") -> list[str]:
        candidates = self._candidates(node)
        if candidates is None:
            return []
        if isinstance(value, dict):
            objects = [c for c in candidates if c.get("type") == "object" or "properties" in c]
            if not objects:
                return [path or "/"] if not any(c.get("type") in (None,) for c in candidates) else []
            problems: list[str] = []
            for key, sub in value.items():
                where = f"{path}.{key}" if path else key
                homes = [o["properties"][key] for o in objects if key in o.get("properties", {})]
                if homes:
                    problems += self.unknown_keys(sub, homes[0], where)
                    continue
                extra = [o.get("additionalProperties") for o in objects]
                if any(isinstance(e, dict) for e in extra):
                    problems += self.unknown_keys(sub, next(e for e in extra if isinstance(e, dict)), where)
                elif not any(e is True for e in extra):
                    problems.append(where)
            return problems
        if isinstance(value, list):
            arrays = [c for c in candidates if c.get("type") == "array"]
            if arrays and "items" in arrays[0]:
                return [
                    p
                    for i, item in enumerate(value)
                    for p in self.unknown_keys(item, arrays[0]["items"], f"{path}[{i}]")
                ]
        return []


def _schema() -> dict[str, Any]:
    return dict(json.loads(SCHEMA.read_text()))


def test_every_key_of_the_helm_values_exists_in_the_dagster_charts_schema() -> None:
    values = yaml.safe_load(VALUES.read_text())
    walker = SchemaWalker(_schema())
    assert walker.unknown_keys(values, walker.schema) == []
    # the check can fail: a misspelt key is named with its path
    values["runLauncher"]["config"]["k8sRunLauncher"]["resourses"] = {}
    values["dagster-user-deployments"]["deployments"][0]["codeServerArg"] = []
    assert walker.unknown_keys(values, walker.schema) == [
        "dagster-user-deployments.deployments[0].codeServerArg",
        "runLauncher.config.k8sRunLauncher.resourses",
    ]


def _without_required(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_required(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_without_required(v) for v in node]
    return node


def test_the_helm_values_have_the_types_the_charts_schema_requires() -> None:
    """Types, enums and closed objects per the schema. `required` is dropped: Helm validates the chart's
    defaults merged with these overrides, and the defaults supply the rest. Kubernetes objects (remote
    $refs) are not fetched: they are accepted as any object."""
    from jsonschema import Draft202012Validator
    from referencing import Registry

    schema = _without_required(_schema())
    validator = Draft202012Validator(schema, registry=Registry().with_resources(_kubernetes_stand_ins(schema)))
    values = yaml.safe_load(VALUES.read_text())
    errors = sorted(f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(values))
    assert errors == []
    values["runLauncher"]["type"] = "K8sRunLaunchr"
    assert any("runLauncher" in "".join(map(str, e.absolute_path)) for e in validator.iter_errors(values))


def _kubernetes_stand_ins(schema: Any) -> list[tuple[str, Any]]:
    """For each remote document the schema points into (Kubernetes definitions), a stand-in in which every
    pointer the schema uses leads to the empty schema: any Kubernetes object is accepted as it is."""
    from referencing import Resource
    from referencing.jsonschema import DRAFT202012

    documents: dict[str, dict[str, Any]] = {}

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("http"):
                uri, _, pointer = ref.partition("#")
                target = documents.setdefault(uri, {})
                for part in [p for p in pointer.split("/") if p]:
                    target = target.setdefault(part, {})
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(schema)
    return [(uri, Resource.from_contents(doc, default_specification=DRAFT202012)) for uri, doc in documents.items()]


def test_the_helm_values_and_the_dockerfile_pass_their_linters() -> None:
    yamllint = subprocess.run(
        [
            str(BIN / "yamllint"),
            "-f",
            "parsable",
            "-d",
            "{extends: default, rules: {line-length: {max: 120}, document-start: disable}}",
            str(VALUES),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert yamllint.returncode == 0, yamllint.stdout + yamllint.stderr
    hadolint = subprocess.run(
        [str(BIN / "hadolint"), str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=120
    )
    assert hadolint.returncode == 0, hadolint.stdout + hadolint.stderr


def test_the_helm_values_and_the_deploy_guide_name_every_secret_the_code_reads() -> None:
    """The code location reads these from the environment; the guide's `kubectl create secret` sets each."""
    from ssot_pipelines.definitions import OPTIONAL_ENV

    values = yaml.safe_load(VALUES.read_text())
    deployment = values["dagster-user-deployments"]["deployments"][0]
    assert {"name": "ssot-secrets"} in deployment["envSecrets"]
    assert {"name": "ssot-secrets"} in values["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]
    guide = (ROOT / "docs" / "deploy.md").read_text()
    block = re.search(r"create secret generic ssot-secrets(.*?)\n\n", guide, re.S)
    assert block, "docs/deploy.md shows how to create the ssot-secrets Secret"
    created = set(re.findall(r"--from-literal=([A-Z_]+)=", block.group(1)))
    wanted = set(OPTIONAL_ENV) - {"NOTION_BASE_URL"} | {"PINECONE_INDEX"}
    assert wanted <= created, wanted - created
