"""The exact vector store: a file per document, every vector scanned, HNSW past a size; filters and ids."""

from __future__ import annotations

import numpy as np
import pytest

from qa.errors import StoreError
from qa.stores import exact
from qa.stores.base import Filter, chunk_id
from qa.stores.exact import ExactStore


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def store(tmp_path) -> ExactStore:
    rng = np.random.default_rng(1)
    store = ExactStore(tmp_path / "vectors", 8)
    store.add("a", np.arange(1, 6), _unit(rng.normal(size=(5, 8))))
    store.add("b", np.arange(10, 14), _unit(rng.normal(size=(4, 8))))
    return store


def test_chunk_ids_are_stable_and_positive():
    assert chunk_id("speech/10/0-22/sentence") == chunk_id("speech/10/0-22/sentence")
    assert chunk_id("speech/10/0-22/sentence") != chunk_id("speech/10/0-22/clause")
    assert 0 <= chunk_id("x") < 2**63


def test_search_returns_the_nearest_ids_best_first(store):
    target = store._parts["b"].vectors[store._parts["b"].rows[2]]
    ids, scores = store.search(target, 3)
    assert ids[0] == 12 and scores[0] == pytest.approx(1.0, abs=1e-5)
    assert list(scores) == sorted(scores, reverse=True)
    assert store.count() == 9 and store.count("a") == 5 and store.documents() == ["a", "b"]


def test_a_filter_keeps_to_some_documents(store):
    target = store._parts["b"].vectors[0]
    ids, _ = store.search(target, 9, Filter(frozenset({"a"})))
    assert set(ids) == {1, 2, 3, 4, 5}
    assert len(store.search(target, 0)[0]) == 0


def test_identical_vectors_are_kept_once(tmp_path):
    store = ExactStore(tmp_path / "v", 4)
    vectors = _unit(np.array([[1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0]], dtype=np.float32))
    store.add("a", np.array([7, 8, 9]), vectors)
    assert store.distinct() == 2 and store.count() == 3
    ids, scores = store.search(vectors[0], 3)
    assert set(ids[:2]) == {7, 9} and scores[0] == scores[1]


def test_save_and_load_round_trip_and_tidy(store, tmp_path):
    store.save()
    loaded = ExactStore.load(tmp_path / "vectors", 8, ["a", "b"])
    probe = store._parts["a"].vectors[1]
    assert np.array_equal(loaded.search(probe, 9)[0], store.search(probe, 9)[0])
    loaded.delete("b")
    loaded.save()
    assert sorted(p.name for p in (tmp_path / "vectors").iterdir()) == ["a.npz"]
    (tmp_path / "vectors" / "stray.npz").write_bytes(b"left by a dead writer")
    loaded.tidy(["a"])
    assert sorted(p.name for p in (tmp_path / "vectors").iterdir()) == ["a.npz"]


@pytest.mark.parametrize("damage", ["truncate", "missing"])
def test_a_damaged_file_is_a_store_error(store, tmp_path, damage):
    """A file cut short or gone; a flipped byte inside is found by the corpus's checksums (tests/test_faults.py)."""
    store.save()
    path = tmp_path / "vectors" / "a.npz"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    else:
        path.unlink()
    with pytest.raises(StoreError, match="a.npz"):
        ExactStore.load(tmp_path / "vectors", 8, ["a", "b"])
    assert ExactStore.load(tmp_path / "vectors", 8, ["a", "b"], strict=False).documents() == ["b"]


def test_wrong_shapes_are_refused(tmp_path):
    store = ExactStore(tmp_path / "v", 4)
    with pytest.raises(ValueError):
        store.add("a", np.array([1, 2]), np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError):
        store.add("a", np.array([1]), np.zeros((1, 5), np.float32))


def test_past_the_limit_an_hnsw_graph_answers_and_is_saved(tmp_path, monkeypatch):
    monkeypatch.setattr(exact, "HNSW_FROM", 100)
    rng = np.random.default_rng(3)
    vectors = _unit(rng.normal(size=(400, 16)))
    store = ExactStore(tmp_path / "v", 16)
    store.add("a", np.arange(400), vectors)
    store.save()
    flat_ids = np.argsort(-(vectors @ vectors[5]))[:10]
    ids, _ = store.search(vectors[5], 10)
    assert ids[0] == 5 and len(set(ids) & set(flat_ids)) >= 9
    assert len(list((tmp_path / "v").glob("hnsw-*.faiss"))) == 1
    again = ExactStore.load(tmp_path / "v", 16, ["a"])
    assert again.search(vectors[5], 1)[0][0] == 5
    again.add("b", np.arange(1000, 1100), _unit(rng.normal(size=(100, 16))))
    again.search(vectors[5], 1)
    assert len(list((tmp_path / "v").glob("hnsw-*.faiss"))) == 1  # the graph of the old documents is gone
