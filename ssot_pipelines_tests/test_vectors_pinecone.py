"""PineconeStore through the real pinecone 10.2.0 SDK against the loopback Pinecone stand-in."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from ssot_pipelines.settings import ConfigurationError
from ssot_pipelines.vectors import HashingEmbedder, VectorItem
from ssot_pipelines.vectors.pinecone_store import PineconeStore
from ssot_pipelines_tests.pinecone_fake import PineconeFake

KEY = "pcsk_secret_test_key_7f3a9"
EMBEDDER = HashingEmbedder()


@pytest.fixture
def fake() -> Iterator[PineconeFake]:
    server = PineconeFake(KEY).start()
    yield server
    server.stop()


def chunk_items(n: int, text_size: int = 200) -> list[VectorItem]:
    texts = [f"session 7 chunk {i}: " + ("tool output line " * (text_size // 17 + 1))[:text_size] for i in range(n)]
    return [
        VectorItem(f"session-7:{i}", v, t, {"session": "session-7", "chunk": i})
        for i, (t, v) in enumerate(zip(texts, EMBEDDER.embed(texts), strict=True))
    ]


def test_large_upserts_are_split_under_pinecones_request_limits(fake: PineconeFake) -> None:
    store = PineconeStore(KEY, host=fake.host)
    assert store.upsert("sessions", chunk_items(1200)) == 1200
    assert store.count("sessions") == 1200
    sizes = fake.upsert_batches()
    assert len(sizes) > 1 and max(sizes) <= 2 * 1024 * 1024


def test_text_over_the_metadata_limit_is_kept_as_a_preview_and_flagged(fake: PineconeFake) -> None:
    store = PineconeStore(KEY, host=fake.host)
    long_text = "x = compute()\n" * 10_000  # 140 KB: the full text lives in the ledger
    item = VectorItem("file:big.py", EMBEDDER.embed([long_text])[0], long_text, {"path": "big.py"})
    store.upsert("files", [item])
    stored = fake.namespaces["files"]["file:big.py"]["metadata"]
    assert stored["ssot_text_complete"] is False
    assert long_text.startswith(stored["ssot_text"]) and len(stored["ssot_text"]) > 30_000
    assert len(json.dumps(stored).encode()) <= 40 * 1024
    hit = store.query("files", item.vector, top_k=1)[0]
    assert hit.metadata == {"path": "big.py"} and long_text.startswith(hit.text)
    short = VectorItem("file:small.py", item.vector, "print(1)", {})
    store.upsert("files", [short])
    assert fake.namespaces["files"]["file:small.py"]["metadata"]["ssot_text_complete"] is True


def test_wrong_key_fails_fast_naming_the_variable_and_never_showing_the_key(
    fake: PineconeFake, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "pcsk_wrong_key_0000000"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigurationError) as caught:
        PineconeStore(wrong, host=fake.host).count("files")
    assert "PINECONE_API_KEY" in str(caught.value) and "PINECONE_HOST" in str(caught.value)
    assert wrong not in str(caught.value) and wrong not in repr(caught.value)
    assert wrong not in caplog.text
    assert fake.namespaces == {}


def test_unreachable_host_fails_fast_with_the_fix() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens here
    store = PineconeStore(KEY, host=f"http://127.0.0.1:{port}", timeout=2, max_retries=0)
    with pytest.raises(ConfigurationError, match=r"does not answer.*PINECONE_HOST") as caught:
        store.upsert("files", chunk_items(1))
    assert KEY not in str(caught.value)
    assert KEY not in repr(store)


def test_an_index_of_another_dimension_is_refused(fake: PineconeFake) -> None:
    fake.dimension = 768
    with pytest.raises(ConfigurationError, match=r"dimension 768.*PINECONE_INDEX / PINECONE_HOST"):
        PineconeStore(KEY, host=fake.host).count("files")


def test_an_index_with_another_metric_is_refused(fake: PineconeFake, monkeypatch: pytest.MonkeyPatch) -> None:
    original = fake.dispatch

    def euclidean_stats(method: str, path: str, body: dict[str, Any], query: dict[str, list[str]]) -> Any:
        status, payload = original(method, path, body, query)
        return status, ({**payload, "metric": "euclidean"} if path == "/describe_index_stats" else payload)

    monkeypatch.setattr(fake, "dispatch", euclidean_stats)
    with pytest.raises(ConfigurationError, match="metric 'euclidean'"):
        PineconeStore(KEY, host=fake.host).count("files")


def test_unknown_index_name_without_network_names_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # The control plane is unreachable here, like a firewalled CI: resolving an index by name must fail clearly.
    monkeypatch.setenv("PINECONE_CONTROLLER_HOST", "http://127.0.0.1:9")
    store = PineconeStore(KEY, index_name="no-such-index", timeout=2, max_retries=0)
    with pytest.raises(ConfigurationError, match="PINECONE_INDEX") as caught:
        store.count("files")
    assert KEY not in str(caught.value)
