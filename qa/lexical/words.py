"""Jieba search-mode tokens with a user dictionary learned from the documents themselves."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable

import jieba

jieba.setLogLevel(logging.WARNING)

# Function words and the words people use to ask about "the speech" itself. A corpus adds its documents'
# speakers (a question naming the speaker asks about the speech, not about the name).
STOPWORDS = frozenset(
    """
    的 了 和 与 及 是 在 对 把 被 让 向 从 为 以 于 之 而 并 或 也 都 就 又 还 更 要 将 会 能 可 该 其 这 那 此 些
    个 种 各 每 等 着 过 得 地 所 中 上 下 里 吗 呢 吧 啊 呀 么 嘛 哪 谁 啥 什么 怎么 怎样 怎么样 如何 为什么 为何
    哪些 哪个 哪里 几 多少 是否 有没有 是不是 有 没有 我 我们 你 你们 他 他们 她 它 大家 自己 一个 一些 这个 这些
    那些 这样 那样 方面 问题 请问 请 告诉 说 说了 讲 讲了 讲话 谈 谈到 提到 提出 提及 指出 认为 表示 强调 关于 有关
    总书记 讲话中 文中 里面 应该 需要 可以 能够 哪方面 什么样 怎么办
    a an the of to in on at for and or is are was were be been do does did what which who whom how why when
    where that this these those it its as by with from about say says said speech talk mention mentioned
    """.split()
)

_CLAUSE = re.compile(r"[^，。；：！？“”（）,;:!?]+")
_QUOTED = re.compile(r"“([^”]{2,8})”")
_WORD = re.compile(r"\w", re.UNICODE)


def normalize(text: str) -> str:
    """NFKC-fold (full-width ASCII to half-width), lower-case, and drop invisible format characters."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Cc", "Cs")).lower()


def learn_terms(texts: Iterable[str]) -> list[str]:
    """Find the speech's own compound terms: items of 、-lists and short quoted phrases.

    Args:
        texts: Paragraph texts.

    Returns:
        Terms of 3 to 8 characters, most frequent first, that jieba does not already know.
    """
    found: Counter[str] = Counter()
    for text in texts:
        for clause in _CLAUSE.findall(text):
            found.update(_list_items(clause))
        found.update(m[1] for m in _QUOTED.finditer(text) if len(m[1]) >= 3)
    known = jieba.dt
    known.check_initialized()
    return [term for term, _ in found.most_common() if term not in known.FREQ]


def _list_items(clause: str) -> list[str]:
    """Items of a 、-list. Inner items are delimited on both sides; the outer two are
    cut to the inner items' length, since words before and after the list cling to them."""
    items = clause.split("、")
    if len(items) < 3:
        return []
    inner = items[1:-1]
    size = Counter(len(item) for item in inner).most_common(1)[0][0]
    items = [items[0][-size:], *inner, items[-1][:size]]
    return [item for item in items if 3 <= len(item) <= 6 and not item.isdigit()]


_base: jieba.Tokenizer | None = None
_base_lock = threading.Lock()


def _fresh_jieba() -> jieba.Tokenizer:
    """A jieba tokenizer with the standard dictionary, ready for words of its own: the dictionary is read once
    per process (0.6 s) and copied for each tokenizer (30 ms)."""
    global _base
    with _base_lock:
        if _base is None:
            _base = jieba.Tokenizer()
            _base.check_initialized()
    fresh = jieba.Tokenizer()
    fresh.FREQ, fresh.total, fresh.initialized = dict(_base.FREQ), _base.total, True
    return fresh


class Tokenizer:
    """Jieba in search mode over a private dictionary, with stopwords and punctuation dropped.

    Args:
        terms: Words to add to jieba's dictionary (the documents' own compound terms).
        stopwords: Words to drop besides :data:`STOPWORDS` (the documents' speakers).
    """

    def __init__(self, terms: Iterable[str] = (), stopwords: Iterable[str] = ()) -> None:
        self.terms = tuple(terms)
        self.stopwords = STOPWORDS | {normalize(w) for w in stopwords}
        self._jieba = _fresh_jieba()
        for term in self.terms:
            self._jieba.add_word(term, freq=max(self._jieba.suggest_freq(term), 1000))

    def __call__(self, text: str) -> list[str]:
        """Tokens of ``text`` for BM25: search-mode cuts, normalized, without stopwords or punctuation."""
        out = []
        for token in self._jieba.cut_for_search(normalize(text), HMM=False):
            token = token.strip()
            if token and token not in self.stopwords and _WORD.search(token):
                out.append(token)
        return out
