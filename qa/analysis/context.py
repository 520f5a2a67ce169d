"""Follow-up questions read in the context of the conversation: 下一点呢？ 原因呢？ 那工会呢？ And the next one?"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.analysis import intent as intents
from qa.ingest.structure import to_chinese_numeral
from qa.lexical.bridge import english_words
from qa.lexical.words import STOPWORDS, Tokenizer
from qa.types import StructureAsk, Turn

_I = re.IGNORECASE
_NEXT = re.compile(r"下一[点个条部块项段]|下一部分|下个|接下来|接着|然后呢|然后说|后面呢|后边呢|再往下|还有呢|还有吗|其他的?呢|别的呢|"
                   r"继续说?|往下说|\bnext\b|and then\b|what else|anything else|\bgo on\b|\bcontinue\b|what comes after"
                   r"|after that|what follows", _I)
_PREVIOUS = re.compile(r"上一[点个条部块项段]|上一部分|上个|前一[点个部]|前面那一?(?:部分|点|个|块|段)|之前那一?(?:部分|点|个)|"
                       r"前一部分|前面一[点部]"
                       r"|\bprevious\b|the one before|came (?:right )?before|before (?:it|that)|preceding", _I)
_PRONOUN_ZH = re.compile(r"这些人|那些人|这帮人|这群人|它们?|他们|她们|这个|那个|这些(?!年)|那些(?!年)|这一点|这点|这种|那种|其中|上面说的|前面说的|刚才说的|刚说的|"
                         r"这方面|那方面|这件事|这句话|这一条|这项|这样做|这么做")
_PRONOUN_EN = re.compile(r"\b(?:it|its|that|this|they|them|these|those)\b", _I)
# "it" and "this" often mean the speech itself; "they" and "them" rarely do
_PLURAL_EN = re.compile(r"\b(?:they|them|their)\b", _I)
_SWITCH_ZH = re.compile(r"^(?:那|那么|还有|另外|再说说|说说|再问问|那关于|关于)?\s*(?P<topic>[^，,。？?！!]{1,16}?)\s*"
                        r"(?:呢|又如何|又怎样|怎么样|怎么说)\s*[？?。！!]*$")
_SWITCH_EN = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(?P<topic>.+?)\s*[?.!]*$|^\s*and\s+(?!(?:what|which|who|why|how|when|where|is|are|does|do|did|can|should|will)\b)(?P<topic2>[^?]+?)\s*\?\s*$",
                        _I)
_ORDINAL_ONE = re.compile(r"第\s*([一二三四五六七八九十\d]{1,3})\s*(?:个|条|项)?(?:呢|吧)?|\b(first|second|third|fourth|fifth|"
                          r"last)(?: one\b|(?: (?:part|point|section|item))?(?=\s*[?.!]*\s*$))", _I)
_EN_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}
# Words a follow-up uses besides its asking words without naming a new topic.
_FOLLOW_ZH = frozenset("具体 落实 实现 做 干 办 理解 意思 原因 重要 关键 意义 作用 为啥 为什么 怎么 怎样 如何 要求 措施 办法 做法 "
                       "讲 说 谈 提 呢 该 应该 需要 可以 要 这么 那么 这样 那样 说法 再 详细 展开 多 一点 例子 举例 部分 一部分 "
                       "点 一点 方面 块 内容 接着 然后 后面 前面 之前 之后 上一 下一 还有 另外 其他 别的 继续 往下".split())
_FOLLOW_EN = frozenset(english_words(
    "matter much important mean meant work happen done true really exactly need necessary say said speech elaborate "
    "explain detail more tell example instance why how what so come came right before after next previous one part "
    "point section then else following follow"))
# Question words and fillers; what is left of a question without them is its topic.
_SCAFFOLD_ZH = re.compile(
    r"请问|请|能不能|可以|帮我|告诉我|讲话(?:里|中|中的|里的)?|文中|文章(?:里|中)?|报告(?:里|中)?|讲稿|这篇|这次|总书记|提到的?|"
    r"说的|讲的|谈到的?|所说的?|里说|中说|关于|对于|有关|是什么|什么是|指什么|指的是|是指|的含义|的内涵|含义|内涵|包括哪些|包含哪些|"
    r"包括什么|包含什么|有哪些|哪些内容|什么内容|什么意思|啥意思|是啥|有啥|为什么|为何|为啥|怎么样|怎么做|怎么办|怎么|怎样|如何|"
    r"要求|提出了?|讲了|说了|谈了|具体|主要|一下|那部分|这部分|部分|这块|那块|评价|形容|看待|描述|定位|"
    r"呢|吗|吧|啊|呀|了|的|[？?！!。，,、\s]")
_SCAFFOLD_EN = re.compile(
    r"\b(?:what|which|who|whom|why|how|when|where|is|are|was|were|does|do|did|the|a|an|speech|say|says|said|about|of|"
    r"in|on|to|according|mean|means|by|tell|me|please|can|could|you|should|would|will|it|its|this|that|these|those|"
    r"they|them|there|and|or|be|been|being|regarding|concerning|talk|talks|xi|ask|asks|part|section)\b|[?!.,;:\"'“”‘’]",
    _I)
_NOUNS = ("n", "nr", "ns", "nt", "nz", "j", "vn", "an", "nrfg", "nrt", "x")


@dataclass(frozen=True)
class Reading:
    """How a follow-up reads in context: the question to answer, how to show it, and where it points."""

    text: str
    interpreted_as: str
    anchors: tuple[tuple[str, int], ...] = ()
    structure: StructureAsk | None = None
    intent: str | None = None


def topic_of(question: str, language: str, tokenizer: Tokenizer | None = None) -> str:
    """What a question is about (工匠精神是什么？ -> 工匠精神; 全总成立多少周年了？ -> 全总): a phrase it quotes,
    the longest of the documents' own terms in it, its first run of nouns (高素质的劳动队伍), or what is left
    without question words."""
    if language != "zh":
        return " ".join(_SCAFFOLD_EN.sub(" ", question).split())
    quoted = re.search(r"“([^”]{1,12})”", question)
    if quoted:
        return quoted[0]
    if tokenizer is not None:
        terms = [t for t in tokenizer.terms if t in question]
        if terms:
            return max(terms, key=len)
        from qa.analysis.entities import posseg

        run: list[str] = []
        for word, flag in posseg(tokenizer).lcut(_SCAFFOLD_ZH.sub("，", question.replace("的", "之")), HMM=False):
            if (flag in _NOUNS and re.search(r"[\u4e00-\u9fff]", word) and word not in _FOLLOW_ZH) or (run and word == "之") \
                    or (flag == "m" and len(word) >= 2 and re.search(r"[\u4e00-\u9fff]", word)
                        and word[-1] not in "个支名位项条种批家份件次届"):
                run.append(word)
            elif run:
                break
        while run and run[-1] == "之":
            run.pop()
        if run and len("".join(run)) >= 2:
            return "".join(run).replace("之", "的")
    return _SCAFFOLD_ZH.sub("", question).strip()


def _previous(history: Sequence[Turn]) -> Turn | None:
    for turn in reversed(history):
        if isinstance(turn.question, str) and turn.question.strip():
            return turn
    return None


def _asked(turn: Turn) -> str:
    """The previous question as it was understood (its reading in context, if it had one)."""
    shown = turn.answer.get("interpreted_as") if isinstance(turn.answer, dict) else None
    return shown if isinstance(shown, str) and shown.strip() else turn.question


def _citations(turn: Turn) -> list[dict]:
    answer = turn.answer if isinstance(turn.answer, dict) else {}
    return [c for key in ("citations", "related") for c in answer.get(key) or [] if isinstance(c, dict)]


def _cited_part(turn: Turn) -> tuple[str | None, int | None]:
    """The document and part number the previous answer cited first, or the part the question named."""
    for c in _citations(turn):
        if isinstance(c.get("section_number"), int):
            doc = c.get("document") if isinstance(c.get("document"), dict) else {}
            return doc.get("id"), c["section_number"]
    number = intents.part_number(_asked(turn))
    return None, number if number and number > 0 else None


def _parts_listed(turn: Turn) -> bool:
    numbers = {c.get("section_number") for c in _citations(turn)}
    return len(numbers - {None}) >= 2 or intents.structure_of(_asked(turn), []) == StructureAsk("outline")


def _ordinal(text: str) -> int | None:
    m = _ORDINAL_ONE.search(text)
    if not m:
        return None
    if m[2]:
        return _EN_ORDINALS[m[2].lower()]
    value = m[1]
    return int(value) if value.isdigit() else intents.part_number(f"第{value}部分")


def _phrase(kind: str, topic: str, language: str) -> str:
    """A standalone question about ``topic`` that asks what ``kind`` of question asked before."""
    if language == "zh":
        return {intents.REASON: f"为什么要{topic}？", intents.METHOD: f"{topic}要怎么做？",
                intents.DEFINITION: f"{topic}是什么？"}.get(kind, f"关于{topic}讲了什么？")
    return {intents.REASON: f"Why {topic}?", intents.METHOD: f"How should {topic} be done?"}.get(
        kind, f"What does it say about {topic}?")


def _part_reading(number: int, doc: str | None, anchors, zh: bool) -> Reading:
    label = f"第{to_chinese_numeral(number)}部分讲了什么？" if zh and number > 0 else \
        f"第{number}部分讲了什么？" if zh else f"What is part {number} about?"
    return Reading(label, label, anchors, StructureAsk("part", (number,), doc), intents.STRUCTURE)


def resolve(question: str, language: str, words: list[str], history: Sequence[Turn],
            tokenizer: Tokenizer | None = None) -> Reading | None:
    """Read a question against the previous turn; None when it stands on its own.

    A question depends on the previous turn when it moves to the next or previous part or paragraph (下一点,
    接着说了啥, the next one), asks for a reason or method with nothing else (原因呢？ How should that be
    done?), stands for the previous topic with a pronoun (它的意义在哪？), or swaps the topic of the previous
    question (那工会呢？).

    Args:
        question: The question as asked (cleaned).
        language: "zh", "en" or "other".
        words: Its content words (see :func:`qa.analysis.intent.structure_of`).
        history: Earlier turns, oldest first.
        tokenizer: The corpus's tokenizer, to find the previous question's topic.
    """
    turn = _previous(history)
    if turn is None:
        return None
    zh = language == "zh"
    asked = _asked(turn)
    anchors = tuple(turn.cited()[:3])
    doc, part = _cited_part(turn)
    short = len(question) <= 14 if zh else len(question.split()) <= 8
    if zh and tokenizer is not None:  # jieba's precise cut: search mode's pieces (一部) are not words here
        words = [w for w in tokenizer._jieba.lcut(question, HMM=False) if len(w) > 1 and w not in STOPWORDS]
    follow = _FOLLOW_ZH if zh else _FOLLOW_EN
    generic = all(w in follow or _NEXT.fullmatch(w) or _PREVIOUS.fullmatch(w) for w in words)
    own = intents.part_number(question)
    ordinal = _ordinal(question)
    if own is None and ordinal is not None and (part is not None or _parts_listed(turn)):
        own = ordinal
    if own is not None:
        return _part_reading(own, doc, anchors, zh) if short or intents.structure_of(question, words) else None
    step = 1 if _NEXT.search(question) else -1 if _PREVIOUS.search(question) else 0
    if step and short and generic:
        if part is not None:
            return _part_reading(part + step, doc, anchors, zh)
        if anchors:
            doc_id, n = max(anchors, key=lambda a: a[1]) if step > 0 else min(anchors, key=lambda a: a[1])
            label = "接着讲了什么？" if zh else "What comes next?"
            return Reading(label, label, anchors, StructureAsk("paragraph", (n + step,), doc_id), intents.STRUCTURE)
    asked_lang = "zh" if re.search(r"[\u4e00-\u9fff]", asked) else "en"
    topic = topic_of(asked, asked_lang, tokenizer) if asked_lang == language else ""
    pronoun = (_PRONOUN_ZH if zh else _PRONOUN_EN).search(question)
    if not (zh or generic):
        pronoun = _PLURAL_EN.search(question)
    if pronoun and topic:
        text = question[:pronoun.start()] + (f"{topic}'" + ("" if topic.endswith("s") else "s") if pronoun[0].lower() == "their" else topic) \
            + question[pronoun.end():]
        return Reading(text, text, anchors)
    kind = intents.intent_of(question)
    if generic and short and kind in (intents.REASON, intents.METHOD, intents.DEFINITION) and topic:
        text = _phrase(kind, topic, language)
        return Reading(text, text, anchors, intent=kind)
    switch = (_SWITCH_ZH if zh else _SWITCH_EN).match(question)
    if switch and short:
        new = (switch.group("topic") or (switch.groupdict().get("topic2") or "")).strip()
        preposition = re.match(r"(?:对于|对|关于|给|跟|向|和|同)(?=.{2})", new) if zh else None
        if preposition:  # 那对各级党委呢: the topic is what follows the preposition
            new = new[preposition.end():]
        if new and not (_PRONOUN_ZH if zh else _PRONOUN_EN).fullmatch(new):
            old = re.search(rf"{preposition[0]}(.{{2,16}}?)(?=提|讲|说|有|怎么|如何|是|做|要|[，,？?])", asked) \
                if preposition else None
            if old:  # the whole object it replaces: 对受表彰的劳模本人 -> 对各级党委和政府
                text = asked[:old.start(1)] + new + asked[old.end(1):]
            elif zh and topic and topic in asked:
                text = asked.replace(topic, new)
            else:
                text = _phrase(intents.intent_of(asked), new, language)
            return Reading(text, text, anchors)
    return None
