"""A corpus of several documents with the fake embedder: add, remove, no duplicates, refresh, scoping, citations."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import DOCS, SPEECH_ID
from fakes import FakeEmbedder

from qa.assistant import Assistant
from qa.config import BUNDLED_SOURCE, Settings
from qa.corpus import files, folder
from qa.corpus.folder import MANIFEST, Corpus
from qa.corpus.table import ChunkTable
from qa.errors import SourceError, StoreError
from qa.stores import exact


def test_the_default_corpus_starts_with_its_seed(tmp_path, fake_embedder):
    corpus = Corpus(tmp_path / "c", fake_embedder, seed=[BUNDLED_SOURCE])
    (info,) = corpus.docs()
    assert info.to_dict() == {"id": SPEECH_ID, "title": "在全国劳动模范和先进工作者表彰大会上的讲话", "date": "2020-11-24",
                              "speaker": "习近平", "paragraphs": 23}
    assert (tmp_path / "c" / "documents" / f"{SPEECH_ID}.txt").read_bytes() == BUNDLED_SOURCE.read_bytes()


def test_a_corpus_that_does_not_exist_and_has_no_seed_says_how_to_start(tmp_path, fake_embedder):
    with pytest.raises(StoreError, match="qa add FILE --corpus"):
        Corpus(tmp_path / "none", fake_embedder).index  # noqa: B018


def test_adding_embeds_only_the_new_document(stored_corpus, store):
    embedder = FakeEmbedder()
    corpus = Corpus(stored_corpus, embedder, store=store)
    speech_units = corpus.index.store.count(SPEECH_ID)
    (added,) = corpus.add([DOCS / "doc_a.txt"])
    assert added.new and added.info.id == "doc-a" and added.info.paragraphs == 17
    assert 0 < embedder.embedded < speech_units  # doc A's distinct texts only, not the speech's again
    assert [i.id for i in corpus.docs()] == [SPEECH_ID, "doc-a"]
    assert corpus.index.store.count(SPEECH_ID) == speech_units


def test_the_same_file_twice_is_not_duplicated(stored_corpus, fake_embedder, tmp_path, store):
    corpus = Corpus(stored_corpus, fake_embedder, store=store)
    first = corpus.add([DOCS / "doc_a.txt"])
    generation = corpus.index.generation
    copy = tmp_path / "renamed copy.txt"
    shutil.copyfile(DOCS / "doc_a.txt", copy)
    again = corpus.add([DOCS / "doc_a.txt", copy, BUNDLED_SOURCE])
    assert [a.new for a in again] == [False, False, False]
    assert [a.info.id for a in again] == ["doc-a", "doc-a", SPEECH_ID] and first[0].new
    assert corpus.index.generation == generation  # nothing written


def test_ids_are_made_from_file_names_and_kept_unique(stored_corpus, fake_embedder, tmp_path, store):
    corpus = Corpus(stored_corpus, fake_embedder, store=store)
    other = tmp_path / "doc_a.txt"
    other.write_text((DOCS / "doc_a.txt").read_text(encoding="utf-8").replace("致辞", "讲话"), encoding="utf-8")
    chinese = tmp_path / "养老报告.md"
    shutil.copyfile(DOCS / "doc_b.md", chinese)
    ids = [a.info.id for a in corpus.add([DOCS / "doc_a.txt", other, chinese])]
    assert ids[:2] == ["doc-a", "doc-a-2"]
    assert ids[2].startswith("doc-") and len(ids[2]) == 12


def test_flags_replace_what_the_layout_shows(stored_corpus, fake_embedder, store):
    corpus = Corpus(stored_corpus, fake_embedder, store=store)
    (added,) = corpus.add([DOCS / "doc_c.txt"], title="营商环境讲话", date="2021-04-01", speaker="某某")
    assert (added.info.title, added.info.date, added.info.speaker) == ("营商环境讲话", "2021-04-01", "某某")
    assert corpus.index.document(added.info.id).title == "营商环境讲话"


@pytest.mark.parametrize(("kwargs", "message"), [({"date": "2021-13-01"}, "YYYY-MM-DD"), ({"date": "yesterday"}, "YYYY-MM-DD")])
def test_a_bad_date_is_refused_before_anything_is_written(stored_corpus, fake_embedder, kwargs, message, store):
    corpus = Corpus(stored_corpus, fake_embedder, store=store)
    before = (stored_corpus / MANIFEST).read_bytes()
    with pytest.raises(SourceError, match=message):
        corpus.add([DOCS / "doc_a.txt"], **kwargs)
    assert (stored_corpus / MANIFEST).read_bytes() == before


def test_a_file_that_cannot_be_read_adds_nothing(stored_corpus, fake_embedder, tmp_path, store):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe not utf-8 \xff")
    corpus = Corpus(stored_corpus, fake_embedder, store=store)
    with pytest.raises(SourceError, match="not UTF-8"):
        corpus.add([DOCS / "doc_a.txt", bad])
    assert [i.id for i in corpus.docs()] == [SPEECH_ID]


def test_removing_a_document_removes_its_files_and_vectors(stored_corpus, fake_embedder, store):
    corpus = Corpus(stored_corpus, fake_embedder, store=store)
    corpus.add([DOCS / "doc_a.txt"])
    gone = corpus.remove("doc-a")
    assert gone.id == "doc-a" and [i.id for i in corpus.docs()] == [SPEECH_ID]
    assert not (stored_corpus / "shards" / "doc-a").exists()
    assert not (stored_corpus / "documents" / "doc-a.txt").exists()
    assert not (stored_corpus / "vectors" / "doc-a.npz").exists()
    assert corpus.index.store.count("doc-a") == 0
    with pytest.raises(KeyError):
        corpus.remove("doc-a")


def test_every_file_the_manifest_names_is_checksummed(fresh_corpus):
    manifest = json.loads((fresh_corpus / MANIFEST).read_text(encoding="utf-8"))
    named = set(manifest["files"])
    assert f"shards/{SPEECH_ID}/document.json" in named and f"vectors/{SPEECH_ID}.npz" in named
    assert any(n.startswith(manifest["lexical"]) for n in named) and "background.npy" in named
    assert manifest["model"] == "fake-embedder" and manifest["calibration"]["model"] == "fake-embedder"


def test_another_process_adding_a_document_is_seen_without_a_restart(stored_corpus, monkeypatch, store):
    monkeypatch.setattr(folder, "REFRESH_SECONDS", 0.0)
    reader = Corpus(stored_corpus, FakeEmbedder(), store=store)
    assert [i.id for i in reader.docs()] == [SPEECH_ID]
    Corpus(stored_corpus, FakeEmbedder(), store=store).add([DOCS / "doc_a.txt"])
    assert [i.id for i in reader.docs()] == [SPEECH_ID, "doc-a"]


def test_answers_cite_the_document_they_come_from(stored_corpus, fake_embedder, store):
    Corpus(stored_corpus, fake_embedder, store=store).add([DOCS / "doc_a.txt", DOCS / "doc_b.md"])
    assistant = Assistant(Settings(corpus=stored_corpus, store=store), embedder=fake_embedder, progress=None)
    answer = assistant.ask("助老餐桌每天为多少老人提供午餐？")
    assert answer.answered and answer.citations[0].document.id == "doc-b"
    assert "2,600" in answer.citations[0].quote
    assert "《关于柳溪区社区养老服务的调研报告》第" in answer.answer


def test_a_question_can_be_limited_to_one_document(stored_corpus, fake_embedder, store):
    Corpus(stored_corpus, fake_embedder, store=store).add([DOCS / "doc_a.txt"])
    assistant = Assistant(Settings(corpus=stored_corpus, store=store), embedder=fake_embedder, progress=None)
    for doc in (SPEECH_ID, "doc-a"):
        answer = assistant.ask("工匠精神", doc=doc)
        assert answer.citations and {c.document.id for c in answer.citations} == {doc}


def test_a_structure_question_follows_the_document_it_is_limited_to(stored_corpus, fake_embedder, store):
    Corpus(stored_corpus, fake_embedder, store=store).add([DOCS / "doc_a.txt"])
    assistant = Assistant(Settings(corpus=stored_corpus, store=store), embedder=fake_embedder, progress=None)
    answer = assistant.ask("讲话分几个部分？", doc="doc-a")
    assert answer.answered and [c.paragraph for c in answer.citations] == [4, 7, 10, 13]
    assert answer.citations[0].quote.startswith("一、")


def test_a_model_change_embeds_every_document_again(stored_corpus, store):
    other = FakeEmbedder(name="another-model", dim=32)
    corpus = Corpus(stored_corpus, other, store=store)
    assert corpus.index.store.count(SPEECH_ID) > 0 and corpus.index.manifest["model"] == "another-model"
    assert other.embedded > 0 and corpus.index.manifest["dim"] == 32


def test_an_empty_corpus_says_so(stored_corpus, fake_embedder, store):
    corpus = Corpus(stored_corpus, fake_embedder, store=store)
    corpus.remove(SPEECH_ID)
    with pytest.raises(StoreError, match="has no documents"):
        Corpus(stored_corpus, fake_embedder, store=store).index  # noqa: B018


def test_rebuilding_embeds_everything_again(stored_corpus, store):
    embedder = FakeEmbedder()
    corpus = Corpus(stored_corpus, embedder, store=store)
    generation = corpus.index.generation
    corpus.rebuild()
    assert embedder.embedded > 0 and corpus.index.generation == generation + 1


def test_clauses_are_kept_in_the_shards_and_split_again_when_that_copy_is_damaged(fresh_corpus, fake_embedder):
    corpus = Corpus(fresh_corpus, fake_embedder)
    corpus.add([DOCS / "doc_a.txt"])
    table = Corpus(fresh_corpus, fake_embedder).index.table
    kept = files.read_clauses(fresh_corpus, [SPEECH_ID, "doc-a"])
    assert set(kept) == {SPEECH_ID, "doc-a"} and len(table.clause_ids) > 100
    assert np.array_equal(np.concatenate([kept[SPEECH_ID][0], kept["doc-a"][0]]), table.clause_ids)
    split = ChunkTable(table.documents.values())  # nothing kept: every document split now
    assert np.array_equal(split.clause_ids, table.clause_ids)
    assert np.array_equal(split.clause_owner, table.clause_owner)

    (fresh_corpus / "shards" / "doc-a" / files.CLAUSES).write_bytes(b"damaged")
    (fresh_corpus / "shards" / SPEECH_ID / files.CLAUSES).unlink()
    assert files.read_clauses(fresh_corpus, [SPEECH_ID, "doc-a"]) == {}
    again = Corpus(fresh_corpus, fake_embedder).index.table
    assert np.array_equal(again.clause_ids, table.clause_ids)
    assert np.array_equal(again.clause_owner, table.clause_owner)


def test_a_corpus_past_the_exact_scan_answers_from_its_saved_ivf_index(fresh_corpus, fake_embedder, monkeypatch):
    monkeypatch.setattr(exact, "ANN_FROM", 200)
    corpus = Corpus(fresh_corpus, fake_embedder)
    corpus.add([DOCS / "doc_a.txt", DOCS / "doc_b.md"])
    (saved,) = (fresh_corpus / "vectors").glob("ivf*.faiss")
    assistant = Assistant(Settings(corpus=fresh_corpus), embedder=fake_embedder, progress=None)
    assert assistant.index.store.kind() == "ivf"
    answer = assistant.ask("助老餐桌每天为多少老人提供午餐？")
    assert answer.answered and answer.citations[0].document.id == "doc-b" and "2,600" in answer.citations[0].quote
    assert {c.document.id for c in assistant.ask("工匠精神", doc="doc-a").citations} == {"doc-a"}

    corpus.remove("doc-b")
    (again,) = (fresh_corpus / "vectors").glob("ivf*.faiss")  # the index of the documents now there, only
    assert again != saved
