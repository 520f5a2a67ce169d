"""Whether a sentence holds what a question asks for: a person, place, time or number, the question's own words."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.analysis import intent as intents
from qa.analysis.entities import NUMBER, SURNAMES, posseg
from qa.lexical.bridge import Bridge, english_words
from qa.lexical.words import STOPWORDS, Tokenizer
from qa.types import Query

_I = re.IGNORECASE
# Asking words of typed questions, and the words next to them that carry what is asked (谁主持 -> 主持).
_WH = re.compile(r"谁|哪位|哪一位|哪些人|什么人|何人|哪个人|哪些领导|哪里|哪儿|什么地方|哪个城市|哪一年|哪年|什么时候|何时|多少|几")
_FUNCTION = frozenset("是 的 了 呢 啊 吗 呀 吧 才 就 都 还 又 也 在 有 要 会 能 来 去 被 把 给 让 向 对 和 与 及 这 那 这次 那次 "
                      "现在 目前 一共 总共 大概 大约 到底 究竟 呢 一 个 还有 除了 另外 其他 其余 别的".split())
# Words that name no particular thing; a question's remaining words must be found in its answer.
GENERIC = frozenset("具体 一下 主要 哪些 什么 怎么 怎样 如何 多少 为什么 原因 意义 重要 作用 内容 方面 问题 情况 东西 事情 事 "
                    "讲话 讲 说 谈 提 提到 提出 认为 指出 强调 表示 希望 要求 应该 需要 可以 能够 做 干 搞 办 落实 实现 现在 "
                    "目前 当前 今年 这次 这个 那个 这些 那些 其中 它 它们 他们".split())
_PEOPLE_SUFFIX = re.compile(r"(?:人|者|员|工|师|家|们|民|众|阶级|群众|干部|代表|模范|同志|青年|党员|职工|中央|国务院|党委|政府|"
                            r"工会|组织|单位|企业|机关|部门|委员会|总工会)$")
_PLACE_WORDS = re.compile(r"[省市县区镇村乡州]$|北京|上海|天津|重庆|人民大会堂|会场|会堂|广场|中心|基地")
# Words jieba tags as places that name no place a "where" question asks for.
_NOT_PLACES = frozenset("我国 全国 中国 祖国 国家 各地 中华 世界 全球 国内 国外 海外 基层 地方 城乡".split())
# Times that say when relative to the text itself: they answer "when was it" but not "when will the next one be".
_RELATIVE_TIME = re.compile(r"今年|去年|明年|前年|今天|昨天|明天|当天|近年|以来|年来|每年|每月|每周|每天")
_FUTURE = re.compile(r"下一[届次个]|下届|下次|将来|未来|以后|今后|什么时候(?:会|将|能)|何时(?:会|将|能)|\bnext\b|\bwill\b|\bfuture\b"
                     r"|supposed to|going to|by when|by what (?:year|date)", re.IGNORECASE)
_TIME = re.compile(r"(?:\d{2,4}|[一二三四五六七八九〇零]{2,4})\s*年|\d+\s*周年|\d+\s*(?:个)?月|\d+\s*[日号]|年来|以来|今年|去年|明年|"
                   r"前年|今天|昨天|明天|当天|近年|世纪|年代|“[一二三四五六七八九十]+五”|每年|每月|每周|每天|季度|周年")
_UNITS = {
    "人": "人名位万", "名": "人名位", "位": "人名位", "万人": "万人", "元": "元万亿块", "块": "元块", "钱": "元块万亿",
    "周年": "周年", "年": "年", "个": "个", "次": "次", "倍": "倍", "%": "%％百成", "天": "天日", "日": "天日", "月": "月",
    "节": "节", "层": "层", "项": "项", "条": "条", "家": "家", "届": "届", "批": "批", "种": "种", "类": "类", "所": "所",
}
_ASKED_UNIT = re.compile(r"(?:多少|几)\s*(万人|周年|[人名位元块钱年个次倍天日月节层项条家届批种类所])|(百分之几|比例|占比|百分比|percent)"
                         r"|(多少钱|奖金|工资|补贴|费用|会费|金额|多少万)", _I)
_EN_UNIT = re.compile(r"how many (?:[\w-]+ ){0,2}?(people|persons|workers|members|employees|days|years|times|percent)"
                      r"|what percentage|how much", _I)
# Questions after details a text may discuss without giving: procedures, criteria, names, exact figures.
DETAIL_ZH = re.compile(r"流程|程序|手续|步骤|办理|怎么申请|如何申请|申请|报名|评选办法|条件|标准|名单|名字|叫什么|长什么样|样子|规定的?|条款|"
                       r"第几条|细则|价格|费用|奖金|工资|补贴|会费|试用期|具体(?:分|有|是|包括)?哪[几些]|哪几[部层项条种类个]")
DETAIL_EN = re.compile(r"\b(?:exact(?:ly)?|specific(?:ally)?|detail(?:s|ed)?|procedure|process|steps?|apply|application|"
                       r"requirements?|criteria|standards?|rules?|regulations?|articles?|clauses?|penalt(?:y|ies)|fines?|"
                       r"fees?|costs?|price|names?|list|which laws?|law says?)\b", _I)
_LIST = re.compile(r"[^，。；、]{1,12}、[^，。；、]{1,12}、")


def content_tokens(text: str, tokenizer: Tokenizer) -> list[str]:
    """The words of a question that must be found in its answer (jieba's precise cut, no stopwords or generic words)."""
    words = tokenizer._jieba.lcut(text, HMM=False)
    return [w for w in dict.fromkeys(words) if len(w) >= 2 and w not in STOPWORDS and w not in GENERIC
            and w not in _FUNCTION and not _WH.fullmatch(w) and re.search(r"[\u4e00-\u9fff]", w)]


def present(word: str, text: str) -> bool:
    """Whether a word occurs in a text, or as an abbreviation of a word there (劳模 in 劳动模范)."""
    if word in text:
        return True
    if len(word) == 2:
        at = text.find(word[0])
        while at >= 0:
            if word[1] in text[at + 1 : at + 4]:
                return True
            at = text.find(word[0], at + 1)
    return False


def asked_words(text: str, tokenizer: Tokenizer) -> list[str]:
    """The words right next to the asking word (谁主持 -> 主持, 主席是谁 -> 主席): what a typed question is about."""
    words = [w for w in tokenizer._jieba.lcut(text, HMM=False) if w.strip()]
    out = []
    for i, word in enumerate(words):
        if not _WH.fullmatch(word) and not _WH.match(word):
            continue
        for step in (-1, 1):
            j = i + step
            while 0 <= j < len(words) and (words[j] in _FUNCTION or not re.search(r"[\u4e00-\u9fff]", words[j])):
                if re.search(r"[，。？！,?!]", words[j]):
                    break
                j += step
            if 0 <= j < len(words) and re.search(r"[\u4e00-\u9fff]", words[j]) and words[j] not in STOPWORDS \
                    and words[j] not in GENERIC and not _WH.match(words[j]):
                out.append(words[j])
    return list(dict.fromkeys(out))


def typed_intents(query: Query) -> list[str]:
    """Every typed thing a question asks for (who, where, when, how many), in the order asked."""
    found = []
    for kind in intents.TYPED:
        if intents.matches(kind, query.search):
            found.append(kind)
    return found


def holds(kind: str, text: str, query: Query, tokenizer: Tokenizer) -> bool:
    """Whether a sentence holds an answer of this type that is not already in the question."""
    if kind == intents.TIME:
        future = _FUTURE.search(query.search) is not None
        return any(m[0] not in query.search and not (future and _RELATIVE_TIME.fullmatch(m[0]))
                   for m in _TIME.finditer(text))
    if kind == intents.QUANTITY:
        return _number(text, query)
    if kind == intents.PLACE:
        for word, flag in posseg(tokenizer).lcut(text, HMM=False):
            if (flag == "ns" or _PLACE_WORDS.search(word)) and len(word) >= 2 and word not in query.search \
                    and word not in _NOT_PLACES:
                return True
        return False
    if kind == intents.PERSON:
        for word, flag in posseg(tokenizer).lcut(text, HMM=False):
            if word in query.search or len(word) < 2:
                continue
            if flag in ("nr", "nrfg") and word[0] in SURNAMES or flag == "nt" or _PEOPLE_SUFFIX.search(word):
                return True
        return False
    return True


def _number(text: str, query: Query) -> bool:
    m = _ASKED_UNIT.search(query.search)
    units: str | None = None
    if m:
        units = _UNITS.get(m[1], m[1]) if m[1] else ("%％百成" if m[2] else "元块万亿")
    elif (en := _EN_UNIT.search(query.search)) and en[1]:
        units = {"days": "天日", "years": "年", "times": "次", "percent": "%％"}.get(en[1].lower(), "人名位万")
    for found in NUMBER.finditer(text):
        if found[0] in query.search:
            continue
        if units is None or any(u in found["unit"] for u in units):
            return True
    if units is None or "个" in units:
        return bool(re.search(r"第[一二三四五六七八九十\d]+个", text))
    return False


def covers(query: Query, text: str, tokenizer: Tokenizer, bridge: Bridge, share: float = 2 / 3) -> bool:
    """Whether a text holds enough of the question's own words (English through the bridge's translations)."""
    if query.language == "zh":
        words = content_tokens(query.search, tokenizer)
        if not words:
            return True
        return sum(present(w, text) for w in words) >= share * len(words)
    judged = [words for words in bridge(query.search) if words]
    if not judged:
        return True
    return sum(any(w in text for w in words) for words in judged) >= share * len(judged)


def about(query: Query, sentence: str, paragraph: str, tokenizer: Tokenizer, bridge: Bridge) -> bool:
    """Whether a sentence answers what a typed question asks about: it holds the words next to the asking word
    (谁主持 -> 主持, 主席是谁 -> 主席), and its paragraph at least half of the question's own words."""
    if query.language == "zh" and not all(present(w, sentence) for w in asked_words(query.search, tokenizer)):
        return False
    return covers(query, paragraph, tokenizer, bridge, share=0.5)


def detail_missing(query: Query, sentence: str, paragraph: str, tokenizer: Tokenizer, bridge: Bridge) -> str | None:
    """The detail a question asks for that the answer does not give (a procedure, a list, a name), or None.

    A question after a list (具体分哪几层) needs a 、-list in a clause of the answer sentence that holds one of
    the question's own words; one after a procedure or a name needs that word in the paragraph.
    """
    if query.language == "zh":
        m = DETAIL_ZH.search(query.search)
        if not m:
            return None
        word = m[0]
        if word.startswith("具体") or word.startswith("哪"):
            words = content_tokens(query.search, tokenizer)
            for clause in re.split(r"[，；。！？]", sentence):
                if _LIST.search(clause) and (not words or any(present(w, clause) for w in words)):
                    return None
            return "具体有哪些"
        core = word.replace("怎么", "").replace("如何", "").rstrip("的")
        return None if core and core in paragraph else core or word
    m = DETAIL_EN.search(query.search)
    if not m:
        return None
    translations = bridge(m[0])
    if translations and any(w in paragraph for words in translations for w in words):
        return None
    return m[0].lower()


EN_LAW = re.compile(r"\b(?:[A-Z][a-z]+ ){1,4}(?:Law|Act|Code|Regulations?)\b")


def english_names(text: str) -> list[str]:
    """Capitalized word runs that are not the question's first word: possible names (Premier Li Keqiang)."""
    words = re.findall(r"[A-Za-z][\w'-]*", text)
    runs, current = [], []
    for i, word in enumerate(words):
        if word[0].isupper() and i > 0 and word.lower() not in ("i",):
            current.append(word)
        else:
            if current:
                runs.append(" ".join(current))
            current = []
    if current:
        runs.append(" ".join(current))
    return [r for r in runs if english_words(r)]


def sentences_with(kinds: Sequence[str], texts: Sequence[str], query: Query, tokenizer: Tokenizer) -> list[bool]:
    """For each text, whether it holds an answer of every asked type."""
    return [all(holds(kind, text, query, tokenizer) for kind in kinds) for text in texts]
