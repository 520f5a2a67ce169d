"""The embedded vector store: a file per document, every vector scanned, an IVF index past a size; filters, ids."""

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


def _clusters(rng, n: int, dim: int = 16, centres: int = 40) -> np.ndarray:
    """Unit vectors around a few centres, as texts of one corpus are."""
    middle = rng.normal(size=(centres, dim))
    return _unit(middle[rng.integers(0, centres, n)] + 0.3 * rng.normal(size=(n, dim)))


def test_past_the_limit_an_ivf_index_answers_is_saved_and_read_without_the_vectors(tmp_path, monkeypatch):
    monkeypatch.setattr(exact, "ANN_FROM", 300)
    rng = np.random.default_rng(3)
    vectors = _clusters(rng, 2000)
    store = ExactStore(tmp_path / "v", 16)
    store.add("a", np.arange(2000), vectors)
    assert store.kind() == "ivf"
    store.save()
    assert len(list((tmp_path / "v").glob("ivf*.faiss"))) == 1
    exact_ids = [set(np.argsort(-(vectors @ vectors[i]))[:10]) for i in range(0, 2000, 100)]
    found = [set(store.search(vectors[i], 10)[0]) for i in range(0, 2000, 100)]
    assert np.mean([len(a & b) / 10 for a, b in zip(exact_ids, found)]) >= 0.9
    assert all(store.search(vectors[i], 1)[0][0] == i for i in range(0, 2000, 100))

    again = ExactStore.load(tmp_path / "v", 16, ["a"])
    assert again._parts["a"]._vectors is None  # the saved index answers: no vector was read
    assert again.search(vectors[5], 1)[0][0] == 5 and again._parts["a"]._vectors is None
    assert again.search(vectors[5], 1, Filter(frozenset({"a"})))[0][0] == 5  # within documents: exact, reads them

    again.add("b", np.arange(5000, 5400), _clusters(rng, 400))
    again.save()
    assert again.search(vectors[7], 1)[0][0] == 7
    again.tidy(["a", "b"])
    assert len(list((tmp_path / "v").glob("ivf*.faiss"))) == 1  # the index of the old documents is gone
    again.delete("b")
    again.save()
    again.tidy(["a"])
    assert len(list((tmp_path / "v").glob("ivf*.faiss"))) == 1


def test_an_unreadable_saved_index_is_built_again(tmp_path, monkeypatch):
    monkeypatch.setattr(exact, "ANN_FROM", 300)
    vectors = _clusters(np.random.default_rng(4), 1000)
    store = ExactStore(tmp_path / "v", 16)
    store.add("a", np.arange(1000), vectors)
    store.save()
    (saved,) = (tmp_path / "v").glob("ivf*.faiss")
    saved.write_bytes(b"not an index")
    again = ExactStore.load(tmp_path / "v", 16, ["a"])
    assert again._parts["a"]._vectors is not None  # no usable index: the vectors are read at once
    assert again.search(vectors[9], 1)[0][0] == 9
    assert saved.stat().st_size > 1000  # and the index was saved again


def test_a_filter_on_a_large_store_scans_the_chosen_documents_exactly(tmp_path, monkeypatch):
    monkeypatch.setattr(exact, "ANN_FROM", 300)
    rng = np.random.default_rng(5)
    store = ExactStore(tmp_path / "v", 16)
    store.add("a", np.arange(1000), _clusters(rng, 1000))
    b = _clusters(rng, 50)
    store.add("b", np.arange(2000, 2050), b)
    ids, scores = store.search(b[0], 50, Filter(frozenset({"b"})))
    assert sorted(ids) == list(range(2000, 2050)) and ids[0] == 2000
    assert np.allclose(np.sort(scores)[::-1], np.sort(b @ b[0])[::-1], atol=1e-5)


def test_a_writer_past_the_limit_reads_every_vector_and_leaves_out_a_damaged_file(tmp_path, monkeypatch):
    monkeypatch.setattr(exact, "ANN_FROM", 300)
    rng = np.random.default_rng(6)
    store = ExactStore(tmp_path / "v", 16)
    store.add("a", np.arange(1000), _clusters(rng, 1000))
    store.add("b", np.arange(2000, 2100), _clusters(rng, 100))
    store.save()
    path = tmp_path / "v" / "b.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the vectors: the ids and the header still read
    path.write_bytes(bytes(data))
    reader = ExactStore.load(tmp_path / "v", 16, ["a", "b"])
    assert reader.documents() == ["a", "b"] and reader._ann is not None  # the saved index answers
    with pytest.raises(StoreError, match="b.npz"):
        reader.search(rng.normal(size=16), 5, Filter(frozenset({"b"})))
    writer = ExactStore.load(tmp_path / "v", 16, ["a", "b"], strict=False)
    assert writer.documents() == ["a"]  # to be embedded again by the corpus
