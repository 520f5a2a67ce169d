"""The on-disk index: round trip, staleness, corruption, atomic replacement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa import store
from qa.assistant import Assistant
from qa.config import BUNDLED_SOURCE, Settings
from qa.errors import StoreError


@pytest.fixture(scope="module")
def built(document, embedder, tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "speech"
    digest = store.sha256_bytes(BUNDLED_SOURCE.read_bytes())
    return store.build(document, digest, embedder, path), digest


def test_round_trip(built, document, embedder):
    index, digest = built
    loaded = store.load(index.path, source_hash=digest, model=embedder.name)
    assert loaded.document == document
    assert loaded.passages == index.passages
    assert len(loaded.passages) == loaded.manifest["passages"]
    assert loaded.clauses == index.clauses and list(loaded.clause_owner) == list(index.clause_owner)
    units = len(index.passages) + len(document.paragraphs) + len(index.clauses) + loaded.manifest["background"]
    assert len(loaded.rows) == units and list(loaded.rows) == list(index.rows)
    assert loaded.vectors.ntotal == loaded.manifest["vectors"] == len(set(loaded.rows.tolist())) < units
    assert loaded.manifest["dim"] == embedder.dim
    assert loaded.manifest["model"] == embedder.name
    assert "工匠精神" in loaded.terms
    for p in loaded.passages:
        assert document.paragraph(p.paragraph).text[p.start : p.end] == p.text


def test_build_leaves_no_temporary_folders(built):
    index, _ = built
    assert sorted(x.name for x in index.path.parent.iterdir()) == ["speech"]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"source_hash": "0" * 64}, store.StaleIndexError), ({"model": "another-model"}, store.StaleIndexError)],
)
def test_stale_index_is_detected(built, kwargs, error):
    with pytest.raises(error):
        store.load(built[0].path, **kwargs)


def _copy(index, tmp_path):
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(index.path, target)
    return target


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: (p / store.VECTORS).write_bytes((p / store.VECTORS).read_bytes()[:100]),
        lambda p: (p / store.PASSAGES).unlink(),
        lambda p: (p / store.PASSAGES).write_text("{}", encoding="utf-8"),
        lambda p: (p / store.MANIFEST).write_text("not json", encoding="utf-8"),
        lambda p: (p / store.MANIFEST).unlink(),
    ],
    ids=["truncated-faiss", "missing-passages", "altered-passages", "bad-manifest", "no-manifest"],
)
def test_damage_is_detected_in_one_clear_error(built, tmp_path, damage):
    path = _copy(built[0], tmp_path)
    damage(path)
    with pytest.raises(store.CorruptIndexError) as caught:
        store.load(path)
    assert "\n" not in str(caught.value)


def test_damaged_index_is_rebuilt_and_answers(built, embedder, tmp_path):
    path = _copy(built[0], tmp_path)
    (path / store.VECTORS).write_bytes(b"garbage")
    assistant = Assistant(Settings(index_dir=path), embedder=embedder, progress=None)
    answer = assistant.ask("网约工")
    assert answer.answered and answer.citations[0].paragraph == 16
    store.load(path, model=embedder.name)  # sound again on disk


def test_changed_source_triggers_a_rebuild(embedder, tmp_path):
    source = tmp_path / "speech.txt"
    source.write_bytes(BUNDLED_SOURCE.read_bytes())
    settings = Settings(source=source, index_dir=tmp_path / "index")
    first = Assistant(settings, embedder=embedder, progress=None).index
    source.write_text(source.read_text(encoding="utf-8") + "\n同志们！\n\n大家辛苦了。\n", encoding="utf-8")
    second = Assistant(settings, embedder=embedder, progress=None).index
    assert second.manifest["source_sha256"] != first.manifest["source_sha256"]
    assert second.document.paragraphs[-1].text == "大家辛苦了。"


def test_index_without_source_still_loads(built, embedder, tmp_path):
    path = _copy(built[0], tmp_path)
    settings = Settings(source=tmp_path / "gone.txt", index_dir=path)
    assert Assistant(settings, embedder=embedder, progress=None).ask("工匠精神").answered


@pytest.mark.parametrize("where", ["under-a-file", "proc"])
def test_unwritable_location_names_the_setting(document, embedder, tmp_path, where):
    # Root may write into read-only folders, so use places no one can create folders in.
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    dest = blocker / "speech" if where == "under-a-file" else Path("/proc/qa-speech-index")
    with pytest.raises(StoreError, match="QA_INDEX_DIR"):
        store.build(document, "x", embedder, dest)


def test_manifest_records_checksums(built):
    manifest = json.loads((built[0].path / store.MANIFEST).read_text(encoding="utf-8"))
    assert set(manifest["files"]) == {store.VECTORS, store.PASSAGES}
    assert all(len(meta["sha256"]) == 64 for meta in manifest["files"].values())
