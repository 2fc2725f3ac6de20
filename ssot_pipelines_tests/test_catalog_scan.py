"""File Catalog scanning and hashing, checked against git itself on real repositories."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from ssot_pipelines.catalog import scan
from ssot_pipelines.catalog.components import load_components
from ssot_pipelines.catalog.config import parse_roots
from ssot_pipelines.catalog.hashing import FileChangedWhileHashing, hash_file, hash_path
from ssot_pipelines.catalog.refresh import entry_from, hash_files, refresh_catalog
from ssot_pipelines.settings import ConfigurationError
from ssot_pipelines_tests.catalog_fixtures import (
    commit_all,
    config_for,
    git,
    git_hash_objects,
    git_visible_files,
    make_repo,
    world_readable_tmp,
)


def _scan_and_hash(config):  # type: ignore[no-untyped-def]
    result = scan.scan_roots(config)
    hashed = hash_files(result.files, config.hash_workers)
    return result, {f.path: (f, d) for f, d, p in hashed if d is not None}


def test_blob_shas_equal_git_hash_object(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        {
            "empty.txt": b"",
            "hello.py": "print('hello')\n",
            "exactly_8k.bin": bytes(range(256)) * 32,
            "just_over_8k.txt": "x" * 8193,
            "two_chunks.bin": os.urandom((1 << 20) * 2 + 17),
            "unicode/naïve café.md": "# ünïcödé\n",
            "crlf.txt": b"a\r\nb\r\n",
        },
    )
    (repo / "hello.py").chmod(0o755)
    os.symlink("hello.py", repo / "link_to_hello")
    config = config_for([repo])

    _, hashed = _scan_and_hash(config)

    regular = sorted(p for p, (f, _) in hashed.items() if not f.is_symlink)
    expected = git_hash_objects(repo, regular)
    assert {p: hashed[p][1].sha for p in regular} == expected
    # A symlink's blob is its target text, as git stores it in the index.
    git(repo, "add", "link_to_hello")
    staged = git(repo, "ls-files", "-s", "link_to_hello").split()[1]
    assert hashed["link_to_hello"][1].sha == staged


def test_walk_lists_exactly_the_files_git_does_not_ignore(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        {
            ".gitignore": "*.log\nbuild/\n!keep.log\n/top_only.txt\n",
            "a.py": "a",
            "debug.log": "x",
            "keep.log": "kept",
            "top_only.txt": "t",
            "sub/top_only.txt": "deeper one is not anchored",
            "build/out.o": "o",
            "src/build/gen.c": "c",
            "src/.gitignore": "*.tmp\n!important.tmp\n",
            "src/x.tmp": "t",
            "src/important.tmp": "i",
            "src/deep/y.tmp": "t",
            "src/deep/z.py": "z",
            "docs/.gitignore": "!*.log\n",
            "docs/notes.log": "re-included below",
            "vendor/lib.js": "v",
            "data/big.csv": "1,2",
        },
    )
    (repo / ".git" / "info" / "exclude").write_text("data/\n")
    config = config_for([repo], excludes=["vendor/"])

    result = scan.scan_roots(config)

    found = {f.path for f in result.files}
    expected = {p for p in git_visible_files(repo) if not p.startswith("vendor/")}
    assert found == expected
    assert not any(p.startswith(".git/") for p in found)


def test_bad_inputs_are_reported_with_a_clear_message_and_the_rest_is_catalogued(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"good.py": "ok\n", "nested/inner.txt": "i"})
    outside = tmp_path / "outside.txt"
    outside.write_text("secret-ish")
    os.mkfifo(repo / "a_fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(repo / "a_socket"))
    os.symlink("loop_b", repo / "loop_a")
    os.symlink("loop_a", repo / "loop_b")
    os.symlink(str(outside), repo / "escapes")
    os.symlink("../../outside.txt", repo / "nested" / "escapes_relative")
    odd_name = os.fsdecode(b"caf\xe9.txt")
    (repo / odd_name).write_bytes(b"latin-1 name\n")
    make_repo(repo / "vendored")  # a nested repository
    config = config_for([repo, ("ghost", tmp_path / "does-not-exist")])

    try:
        result, hashed = _scan_and_hash(config)
    finally:
        sock.close()

    counts = result.counts()
    assert counts == {
        scan.SPECIAL_FILE: 2,
        scan.SYMLINK_LOOP: 2,
        scan.SYMLINK_OUTSIDE_ROOT: 2,
        scan.NON_UTF8_NAME: 1,
        scan.MISSING_ROOT: 1,
        scan.NESTED_REPOSITORY: 1,
    }
    messages = {p.reason: p.message for p in result.problems}
    assert "does not exist" in messages[scan.MISSING_ROOT] and "SSOT_REPO_ROOTS" in messages[scan.MISSING_ROOT]
    assert "loop" in messages[scan.SYMLINK_LOOP]
    assert "outside the repository" in messages[scan.SYMLINK_OUTSIDE_ROOT]
    assert set(hashed) == {"good.py", "nested/inner.txt", "caf\\xe9.txt"}
    odd = hashed["caf\\xe9.txt"][0]
    assert odd.raw_path == b"caf\xe9.txt"
    assert hashed["caf\\xe9.txt"][1].sha == git_hash_objects(repo, [odd_name])[odd_name]


def _without_root_file_powers() -> None:
    """Drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH so even root meets file permissions, as users do."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        libc.prctl(24, capability, 0, 0, 0)  # PR_CAPBSET_DROP: gone from the next exec on


def test_unreadable_file_is_reported_and_the_rest_is_hashed() -> None:
    base = world_readable_tmp("catalog-perm-")
    try:
        repo = make_repo(base / "repo", {"readable.txt": "yes\n", "secret.txt": "no\n"})
        os.chmod(repo, 0o755)
        (repo / "secret.txt").chmod(0o000)
        script = (
            "import json, sys; from pathlib import Path\n"
            "from ssot_pipelines.catalog import scan\n"
            "from ssot_pipelines.catalog.refresh import hash_files\n"
            "from ssot_pipelines_tests.catalog_fixtures import config_for\n"
            "config = config_for([Path(sys.argv[1])])\n"
            "result = scan.scan_roots(config)\n"
            "hashed = hash_files(result.files, 1)\n"
            "print(json.dumps({'ok': sorted(f.path for f, d, p in hashed if d),"
            " 'problems': [[p.reason, p.message] for f, d, p in hashed if p]}))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", script, str(repo)],
            capture_output=True,
            text=True,
            preexec_fn=_without_root_file_powers,
            cwd=os.getcwd(),
            check=True,
        )
        data = json.loads(out.stdout)
        assert data["ok"] == ["readable.txt"]
        assert data["problems"] == [
            [scan.UNREADABLE, "secret.txt: cannot read (Permission denied); check its permissions"]
        ]
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_file_that_keeps_changing_while_hashed_is_reported_not_recorded(tmp_path: Path) -> None:
    growing = tmp_path / "growing.log"
    growing.write_bytes(os.urandom(8 << 20))
    stop = threading.Event()

    def append() -> None:
        with open(growing, "ab", buffering=0) as fh:
            while not stop.is_set():
                fh.write(b"x")
                time.sleep(0.0005)

    writer = threading.Thread(target=append)
    writer.start()
    try:
        with pytest.raises(FileChangedWhileHashing):
            hash_path(str(growing), is_symlink=False)
    finally:
        stop.set()
        writer.join()
    assert hash_file(str(growing)).size == growing.stat().st_size  # settled: hashes fine


def test_hashing_a_large_file_streams_with_flat_memory(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as fh:
        fh.truncate(256 << 20)  # sparse: 256 MB of zeros
        fh.seek(-5, os.SEEK_END)
        fh.write(b"tail!")
    tracemalloc.start()
    try:
        digest = hash_file(str(big))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest.sha == git(tmp_path, "hash-object", "--no-filters", str(big)).strip()
    assert peak < 4 << 20


def test_type_and_preview_come_from_identify_and_the_first_lines(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        {
            "lib/mod.py": "".join(f"line {i}\n" for i in range(100)),
            "image.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100),
            "bin/tool": "#!/usr/bin/env python3\nprint('x')\n",
            "Makefile": "all:\n\ttrue\n",
            "notes": "plain words\n",
        },
    )
    config = config_for([repo], components="core=lib/;tools=bin/,Makefile")
    _, hashed = _scan_and_hash(config)
    entries = {p: entry_from(f, d, config) for p, (f, d) in hashed.items()}

    assert {p: e.file_type for p, e in entries.items()} == {
        "lib/mod.py": "python",
        "image.png": "png",
        "bin/tool": "python",
        "Makefile": "makefile",
        "notes": "text",
    }
    assert entries["lib/mod.py"].preview == "".join(f"line {i}\n" for i in range(20)).rstrip("\n")
    assert entries["image.png"].preview is None
    assert {p: e.component for p, e in entries.items()} == {
        "lib/mod.py": "core",
        "image.png": None,
        "bin/tool": "tools",
        "Makefile": "tools",
        "notes": None,
    }


def test_components_file_first_match_wins_and_bad_files_say_how_to_fix(tmp_path: Path) -> None:
    (tmp_path / "ssot_components.toml").write_text(
        '[[component]]\nname = "catalog"\npaths = ["ssot_pipelines/catalog/", "docs/catalog.md"]\n'
        '[[component]]\nname = "docs"\npaths = ["*.md"]\n'
    )
    cmap = load_components(search_roots=[("main", tmp_path)])
    assert cmap.component_for("ssot_pipelines/catalog/scan.py", "main") == "catalog"
    assert cmap.component_for("docs/catalog.md", "main") == "catalog"
    assert cmap.component_for("README.md", "main") == "docs"
    assert cmap.component_for("README.md", "other-repo") is None  # a repository's file speaks for itself only
    assert cmap.component_for("setup.cfg", "main") is None

    (tmp_path / "bad.toml").write_text('[[component]]\nname = "x"\n')
    with pytest.raises(ConfigurationError, match="needs paths"):
        load_components(tmp_path / "bad.toml")
    with pytest.raises(ConfigurationError, match="not a file"):
        load_components(tmp_path / "missing.toml")


def test_repo_roots_parse_names_and_refuse_duplicate_names(tmp_path: Path) -> None:
    roots = parse_roots(f"{tmp_path}/a{os.pathsep}web={tmp_path}/b", cwd=tmp_path)
    assert [(r.name, r.path) for r in roots] == [("a", tmp_path / "a"), ("web", tmp_path / "b")]
    with pytest.raises(ConfigurationError, match="distinct name"):
        parse_roots(f"{tmp_path}/x/app{os.pathsep}{tmp_path}/y/app")


def test_unchanged_tree_is_not_read_again(tmp_path: Path, ledger) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "repo", {f"f{i}.txt": f"{i}\n" for i in range(50)})
    commit_all(repo)
    config = config_for([repo])
    first = refresh_catalog(ledger, config)
    second = refresh_catalog(ledger, config)
    assert (first.hashed, len(first.added)) == (50, 50)
    assert (second.scanned, second.hashed, second.unchanged) == (50, 0, 50)
    assert second.changed_keys == [] and second.deleted == []


def test_touching_a_file_rehashes_it_but_reports_no_change(tmp_path: Path, ledger) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    config = config_for([repo])
    refresh_catalog(ledger, config)
    os.utime(repo / "a.txt", ns=(time.time_ns(), time.time_ns() + 10**9))
    again = refresh_catalog(ledger, config)
    assert (again.hashed, again.touched, again.changed_keys) == (1, 1, [])


def test_a_missing_root_keeps_its_files_in_the_catalog(tmp_path: Path, ledger) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    config = config_for([repo])
    refresh_catalog(ledger, config)
    shutil.move(repo, tmp_path / "moved-away")
    result = refresh_catalog(ledger, config)
    assert result.deleted == []
    assert result.counts()["skipped_missing_root"] == 1


def test_a_rename_with_edits_is_recognised_when_git_reports_it(tmp_path: Path, ledger) -> None:  # type: ignore[no-untyped-def]
    body = "".join(f"def handler_{i}(request):\n    return {i}\n\n" for i in range(40))
    repo = make_repo(tmp_path / "repo", {"old_name.py": body, "other.py": "x = 1\n"})
    commit_all(repo)
    config = config_for([repo])
    refresh_catalog(ledger, config)
    git(repo, "mv", "old_name.py", "new_name.py")
    (repo / "new_name.py").write_text(body + "def handler_extra(request):\n    return -1\n")
    commit_all(repo, "rename and edit")

    result = refresh_catalog(ledger, config)

    assert [(r.old_key, r.entry.key, r.detected_by) for r in result.renamed] == [
        ("repo/old_name.py", "repo/new_name.py", "git")
    ]
    assert result.added == [] and result.deleted == []
    row = ledger.execute("SELECT renamed_from FROM catalog_files WHERE key = 'repo/new_name.py'").fetchone()
    assert row["renamed_from"] == "repo/old_name.py"


def test_events_wait_in_the_ledger_while_redis_is_down_and_go_out_later(  # type: ignore[no-untyped-def]
    tmp_path: Path, ledger, redis_url: str, redis_dir: Path, stop_redis
) -> None:
    import redis

    from ssot_pipelines.catalog.events import publish_pending
    from ssot_pipelines.services.embedded import embedded_redis_url

    repo = make_repo(tmp_path / "repo", {"a.py": "a\n", "b.py": "b\n"})
    refresh_catalog(ledger, config_for([repo]))
    stop_redis()
    down = publish_pending(ledger, redis.Redis.from_url(redis_url, socket_timeout=1), "ssot:catalog:events")
    assert (down.published, down.pending) == (0, 2)
    assert down.error and "REDIS_URL" in down.error

    client = redis.Redis.from_url(embedded_redis_url(redis_dir))
    up = publish_pending(ledger, client, "ssot:catalog:events")
    assert (up.published, up.pending, up.error) == (2, 0, None)
    assert sorted(f[b"key"] for _, f in client.xrange("ssot:catalog:events")) == [b"repo/a.py", b"repo/b.py"]


def test_explicit_paths_report_unknown_ones_and_drop_newly_ignored_files(tmp_path: Path, ledger) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "repo", {"keep.py": "k\n", "build.log": "noise\n"})
    config = config_for([repo])
    refresh_catalog(ledger, config)
    (repo / ".gitignore").write_text("*.log\n")

    result = refresh_catalog(ledger, config, paths=["repo/build.log", "/elsewhere/x.py", "keep.py"])

    assert result.deleted == ["repo/build.log"]
    assert [p.reason for p in result.problems] == ["unknown_path"]
    assert "SSOT_REPO_ROOTS" in result.problems[0].message
    assert (result.scanned, result.unchanged) == (1, 1)
