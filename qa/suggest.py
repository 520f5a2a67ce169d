"""Suggested follow-ups: short questions the documents are known to answer, offered after an answer.

Candidates come from what was just answered: the reason or the way behind its topic, the rest of the part
it sits in, the next part; after a refusal, the document's outline and its first part. Each candidate is
asked as a follow-up of the answer it comes after (so a click in the chat gets exactly what was checked),
and shown only if it is answered, at least half of it with quotes the answer did not already show.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from qa.analysis import intent
from qa.corpus.state import Index
from qa.types import Answer, Query, Turn

MAX_SUGGESTIONS = 3
# A topic longer than this makes a question nobody would type.
MAX_TOPIC = 12
_NUMERALS = "一二三四五六七八九十"
_VERB = re.compile(r"(?:弘扬|发扬|加强|维护|推进|推动|坚持|落实|发挥|保障|提高|培育|建设|健全|完善|营造|激发|树立|实现|"
                   r"深化|促进|支持|尊重|关心|关爱|培养|造就|鼓励|引导|贯彻|加快|做好|抓好|用好|守护|增强|巩固|扩大)")

Ask = Callable[[str, tuple[Turn, ...]], Answer]


def _number(n: int) -> str:
    return _NUMERALS[n - 1] if 1 <= n <= 10 else str(n)


def _verb_before(topic: str, text: str) -> str | None:
    """The document's own verb right before the topic, or before a 、-list holding it (弘扬劳模精神、劳动精神、
    工匠精神 -> 弘扬 for 工匠精神), if it uses one."""
    found = re.search(rf"({_VERB.pattern})(?:[^，。；：！？、]{{1,12}}、){{0,4}}{re.escape(topic)}", text)
    return found[1] if found else None


def _topic(query: Query, index: Index) -> str | None:
    """What the answer was about, short enough to ask about again: a term of the documents' own if possible."""
    topic = query.focus[0] if query.focus else ""
    if query.language == "zh":
        topic = topic.strip("“”《》")
        if not (2 <= len(topic) <= MAX_TOPIC) or not re.fullmatch(r"[\u4e00-\u9fff]+", topic):
            return None
        return topic if topic in index.text else None
    words = topic.split()
    return topic if 1 <= len(words) <= 4 and len(topic) <= 40 else None


def _about(query: Query, index: Index) -> list[str]:
    """The reason and the way behind the topic (and in English what it is), leaving out what was just asked."""
    topic = _topic(query, index)
    if topic is None:
        return []
    asked = query.intent
    if query.language != "zh":
        options = [(intent.REASON, f"Why does {topic} matter?"), (intent.METHOD, f"How should {topic} be done?"),
                   (intent.DEFINITION, f"What is {topic}?")]
    else:  # only with the documents' own verb for it (弘扬工匠精神): 快递员为什么重要？ is not a question to offer
        verb = _verb_before(topic, index.text)
        options = [(intent.REASON, f"为什么要{verb}{topic}？"), (intent.METHOD, f"怎样{verb}{topic}？")] if verb else []
    return [text for kind, text in options if kind != asked]


def _parts(query: Query, answer: Answer, index: Index) -> list[str]:
    """The whole part the answer's first quote sits in, and the part after it."""
    cited = answer.citations or answer.related
    english = query.language != "zh"
    if not cited:
        return ["How many parts does the text have?" if english else "全文分为几个部分？",
                "What is part 1 about?" if english else "第一部分讲了什么？"]
    first = cited[0]
    if first.section is None:
        return []
    n = first.section.number
    last = max((p.section.number for p in index.document(first.document.id).paragraphs if p.section), default=n)
    out = []
    if query.structure is None or n not in query.structure.parts:
        out.append(f"What is part {n} about?" if english else f"第{_number(n)}部分讲了什么？")
    if n < last:
        out.append(f"What is part {n + 1} about?" if english else f"第{_number(n + 1)}部分讲了什么？")
    return out


def candidates(query: Query, answer: Answer, index: Index) -> list[str]:
    """Questions worth offering after ``answer``, best first, before they are checked."""
    if query.intent == intent.SMALLTALK:
        return []
    # Only a question about an idea (what, why, how, or just a topic) leaves a topic worth asking more about.
    about_idea = query.intent in (intent.DEFINITION, intent.REASON, intent.METHOD, intent.OTHER)
    found = _about(query, index) if (answer.answered or answer.related) and about_idea else []
    found += _parts(query, answer, index)
    seen = {query.text, answer.interpreted_as}
    return [q for q in dict.fromkeys(found) if q not in seen]


def after(query: Query, answer: Answer, index: Index, ask: Ask) -> tuple[str, ...]:
    """Up to three questions to ask next, each answered (checked with ``ask``) with at least half its quotes new.

    Args:
        query: The question just answered, analysed.
        answer: Its answer.
        index: The corpus state.
        ask: Answers a question as a follow-up of the given turns (without suggestions of its own).
    """
    shown = {c.quote for c in answer.citations}
    turn = (Turn(query.text, answer.to_dict()),)
    out = []
    for question in candidates(query, answer, index):
        reply = ask(question, turn)
        new = [c for c in reply.citations if c.quote not in shown]
        if reply.answered and reply.citations and 2 * len(new) >= len(reply.citations):
            out.append(question)
            if len(out) == MAX_SUGGESTIONS:
                break
    return tuple(out)
