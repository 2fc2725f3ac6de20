"""The vector-store contract, run against pgvector (embedded PostgreSQL) and Pinecone (real SDK, loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ssot_pipelines.vectors import HashingEmbedder, InvalidVectorItem, VectorItem, VectorStore
from ssot_pipelines.vectors.pgvector_store import PgVectorStore
from ssot_pipelines.vectors.pinecone_store import PineconeStore
from ssot_pipelines_tests.pinecone_fake import PineconeFake

API_KEY = "pc-test-key-0123456789"
EMBEDDER = HashingEmbedder()

SNIPPETS = {
    "files/migrate.py:0": (
        "def migrate(conn): apply the ledger migrations in order under an advisory lock",
        {"kind": "file", "lang": "python", "lines": 120, "tags": ["db", "core"]},
    ),
    "files/button.css:0": (
        "button.primary { color: #fff; background: #0055ff; border-radius: 4px }",
        {"kind": "file", "lang": "css", "lines": 12, "tags": ["ui"]},
    ),
    "session-42:0": (
        "user: why does the sync archive rows? assistant: the mass-deletion guard stopped it",
        {"kind": "session", "lines": 2, "tags": ["sync", "core"]},
    ),
    "session-42:1": ("user: add a retry policy for 429 responses with Retry-After", {"kind": "session", "lines": 1}),
}


def items() -> list[VectorItem]:
    vectors = EMBEDDER.embed([text for text, _ in SNIPPETS.values()])
    return [
        VectorItem(key, vector, text, meta)
        for (key, (text, meta)), vector in zip(SNIPPETS.items(), vectors, strict=True)
    ]


@pytest.fixture(params=["pgvector", "pinecone"])
def store(request: pytest.FixtureRequest) -> Iterator[VectorStore]:
    if request.param == "pgvector":
        pg = PgVectorStore(request.getfixturevalue("ledger_url"))
        yield pg
        pg.close()
    else:
        fake = PineconeFake(API_KEY).start()
        yield PineconeStore(API_KEY, host=fake.host)
        fake.stop()


def ids(hits: list[Any]) -> list[str]:
    return [hit.id for hit in hits]


def test_exact_text_is_its_own_nearest_neighbour(store: VectorStore) -> None:
    store.upsert("files", items())
    for item in items():
        hits = store.query("files", item.vector, top_k=2)
        assert hits[0].id == item.id
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)
        assert hits[0].text == item.text
        assert hits[0].metadata == item.metadata


def test_near_duplicate_finds_the_original(store: VectorStore) -> None:
    store.upsert("files", items())
    query = EMBEDDER.embed(["def migrate(conn): applies ledger migrations in order, under an advisory lock"])[0]
    hits = store.query("files", query, top_k=4)
    assert hits[0].id == "files/migrate.py:0"
    assert hits[0].score > hits[1].score + 0.3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_upsert_is_idempotent_and_replaces_by_id(store: VectorStore) -> None:
    store.upsert("files", items())
    store.upsert("files", items())
    assert store.count("files") == 4
    text = "button.primary { color: #000 }"
    store.upsert("files", [VectorItem("files/button.css:0", EMBEDDER.embed([text])[0], text, {"kind": "file"})])
    assert store.count("files") == 4
    fetched = store.fetch("files", ["files/button.css:0"])["files/button.css:0"]
    assert (fetched.text, fetched.metadata) == (text, {"kind": "file"})
    assert fetched.vector == pytest.approx(EMBEDDER.embed([text])[0], abs=1e-6)


def test_namespaces_are_separate(store: VectorStore) -> None:
    store.upsert("files", items()[:2])
    store.upsert("sessions", items()[2:])
    assert (store.count("files"), store.count("sessions"), store.count("nothing")) == (2, 2, 0)
    assert set(ids(store.query("sessions", items()[0].vector, top_k=10))) == {"session-42:0", "session-42:1"}


def test_fetch_returns_only_existing_ids_and_delete_removes(store: VectorStore) -> None:
    store.upsert("files", items())
    assert set(store.fetch("files", ["session-42:0", "missing"])) == {"session-42:0"}
    store.delete("files", ["session-42:0", "missing"])
    assert store.count("files") == 3
    assert store.fetch("files", ["session-42:0"]) == {}
    assert "session-42:0" not in ids(store.query("files", items()[2].vector, top_k=10))


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"kind": "session"}, {"session-42:0", "session-42:1"}),
        ({"kind": {"$eq": "file"}}, {"files/migrate.py:0", "files/button.css:0"}),
        ({"lang": {"$in": ["css", "rust"]}}, {"files/button.css:0"}),
        ({"tags": "core"}, {"files/migrate.py:0", "session-42:0"}),
        ({"tags": {"$in": ["ui", "sync"]}}, {"files/button.css:0", "session-42:0"}),
        ({"lines": {"$gte": 12, "$lt": 200}}, {"files/migrate.py:0", "files/button.css:0"}),
        ({"lang": {"$exists": False}}, {"session-42:0", "session-42:1"}),
        ({"kind": "file", "lang": {"$ne": "css"}}, {"files/migrate.py:0"}),
        ({"lang": {"$nin": ["css"]}, "kind": "file"}, {"files/migrate.py:0"}),
        ({"$or": [{"lang": "css"}, {"lines": {"$lte": 1}}]}, {"files/button.css:0", "session-42:1"}),
        ({"$and": [{"kind": "session"}, {"tags": {"$exists": True}}]}, {"session-42:0"}),
    ],
)
def test_metadata_filters_select_the_same_items_on_both_stores(
    store: VectorStore, flt: dict[str, Any], expected: set[str]
) -> None:
    store.upsert("files", items())
    assert set(ids(store.query("files", items()[0].vector, top_k=10, filter=flt))) == expected


def test_unicode_ids_and_long_texts_round_trip(store: VectorStore) -> None:
    text = "naïve café ünïcode path\n" * 4
    item = VectorItem("src/モジュール/café.py:0", EMBEDDER.embed([text])[0], text, {"path": "src/モジュール/café.py"})
    store.upsert("files", [item])
    hit = store.query("files", item.vector, top_k=1)[0]
    assert (hit.id, hit.text, hit.metadata) == (item.id, text, item.metadata)


def test_items_no_store_could_hold_are_rejected_before_writing(store: VectorStore) -> None:
    good = items()[0]
    with pytest.raises(InvalidVectorItem, match="dimensions"):
        store.upsert("files", [VectorItem("short", [1.0, 0.0], "x", {})])
    with pytest.raises(InvalidVectorItem, match="values must be"):
        store.upsert("files", [VectorItem("nested", good.vector, "x", {"nested": {"a": 1}})])
    with pytest.raises(InvalidVectorItem, match="all zeros"):
        store.upsert("files", [VectorItem("empty", EMBEDDER.embed(["!!!"])[0], "!!!", {})])
    with pytest.raises(InvalidVectorItem, match="unknown filter operator"):
        store.query("files", good.vector, filter={"kind": {"$regex": "f.*"}})
    assert store.count("files") == 0
