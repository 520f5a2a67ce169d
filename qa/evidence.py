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
                      "现在 目前 一共 总共 大概 大约 到底 究竟 呢 一 个 还有 除了 另外 其他 其余 别的 起 到 来 去 上 下 里 中 "
                      "开始 从 自 于 以 为 由 叫 替 同 跟 归".split())
# One-character verbs that name an action a text either reports or does not (谁写的, 住哪儿).
_ACTION_VERBS = frozenset("写 唱 住 买 卖 送 拿 选 评 建 修 造 发 颁 领 获".split())
# A Chinese question whether the text mentions something is answered "no" below this share of its words' IDF weight
# in the best paragraph (tuning half: the 6 such out-of-scope questions at 0.00-0.21, the in-scope ones at 0.10-0.44).
MENTION_COVERAGE = 0.25
# Words of an English question that only say it asks about the speech.
_EN_SCAFFOLD = frozenset(english_words("speech say said says mention mentions discuss talk anything xi he it does did "
                                       "touch cover address refer"))
# Words that name no particular thing; a question's remaining words must be found in its answer.
GENERIC = frozenset("具体 一下 主要 哪些 什么 怎么 怎样 如何 多少 为什么 原因 意义 重要 作用 内容 方面 问题 情况 东西 事情 事 "
                    "讲话 讲 说 谈 提 提到 提出 认为 指出 强调 表示 希望 要求 应该 需要 可以 能够 做 干 搞 办 落实 实现 现在 "
                    "目前 当前 今年 这次 这个 那个 这些 那些 其中 它 它们 他们".split())
_PEOPLE_SUFFIX = re.compile(r"(?:人|者|员|工|师|家|们|民|众|阶级|群众|干部|代表|模范|同志|青年|党员|职工|中央|国务院|党委|政府|"
                            r"工会|组织|单位|企业|机关|部门|委员会|总工会)$")
_PLACE_WORDS = re.compile(r"[省市县区镇村乡州]$|北京|上海|天津|重庆|人民大会堂|会场|会堂|广场|中心|基地")
# Settings that answer "where should X be done" (in schools, families…), though not "where was it held".
_SETTINGS = re.compile(r"学校|家庭|企业|单位|基层|社区|农村|车间|工厂|岗位|一线|课堂|大学|中学|小学|学段|行业|各方面|战线")
_EVENT_PLACE = re.compile(r"举行|召开|举办|开的|开会|在哪儿开|在哪里开|住|酒店|城市|省|国家|地点|会场|\bheld\b|take place|took place|"
                          r"located|venue|city|province|country|hotel|hospital|come from|came from", re.IGNORECASE)
# Words jieba tags as places that name no place a "where" question asks for.
_NOT_PLACES = frozenset("我国 全国 中国 祖国 国家 各地 中华 世界 全球 国内 国外 海外 基层 地方 城乡".split())
_CLOCK = re.compile(r"几点|\bwhat time\b|at what hour|上午还是下午", re.IGNORECASE)
_CLOCK_TIME = re.compile(r"\d+\s*(?:点|时)(?![期代候])|上午|下午|晚上|凌晨|\d+\s*(?:小时|分钟)")
# Questions about a single named person (谁是第一任…, who was the first …): only a person's name answers them.
_ONE_PERSON = re.compile(r"第一(?:任|个|位)|现任|首任|哪位|叫什么名字|\bwho (?:was|is) the (?:first|current|present|only|last|"
                         r"first-ever)\b|\bwhat (?:is|was) (?:his|her|the) name\b", re.IGNORECASE)
# Times that say when relative to the text itself: they answer "when was it" but not "when will the next one be".
_RELATIVE_TIME = re.compile(r"今年|去年|明年|前年|今天|昨天|明天|当天|近年|以来|年来|每年|每月|每周|每天")
_FUTURE = re.compile(r"下一[届次个]|下届|下次|将来|未来|以后|今后|什么时候(?:会|将|能)|何时(?:会|将|能)|要在|将在|预计|计划在|"
                     r"\bnext\b|\bwill\b|\bfuture\b|supposed to|going to|by when|by what (?:year|date)|\bto be\b|\bdue\b|"
                     r"\bexpected\b", re.IGNORECASE)
_TIME = re.compile(r"(?:\d{2,4}|[一二三四五六七八九〇零]{2,4})\s*年|\d+\s*周年|\d+\s*(?:个)?月|\d+\s*[日号]|年来|以来|今年|去年|明年|"
                   r"前年|今天|昨天|明天|当天|近年|世纪|年代|“[一二三四五六七八九十]+五”|每年|每月|每周|每天|季度|周年")
_UNITS = {
    "人": "人名位万", "名": "人名位", "位": "人名位", "万人": "万人", "元": "元万亿块", "块": "元块", "钱": "元块万亿",
    "周年": "周年", "年": "年", "个": "个", "次": "次", "倍": "倍", "%": "%％百成", "天": "天日", "日": "天日", "月": "月",
    "节": "节", "层": "层", "项": "项", "条": "条", "家": "家", "届": "届", "批": "批", "种": "种", "类": "类", "所": "所",
}
_ASKED_UNIT = re.compile(r"(?:多少|几)\s*(万人|周年|[人名位元块钱年个次倍天日月节层项条家届批种类所])|(百分之几|比例|占比|百分比|percent|"
                         r"增长率?|增速|率)"
                         r"|(多少钱|奖金|工资|补贴|费用|会费|金额|多少万)", _I)
_EN_UNIT = re.compile(r"how many (?:[\w-]+ ){0,2}?(people|persons|workers|members|employees|days|years|times|percent)"
                      r"|what percentage|how much", _I)
# Questions after details a text may discuss without giving: procedures, criteria, names, exact figures.
DETAIL_ZH = re.compile(r"流程|程序|手续|步骤|办理|怎么申请|如何申请|申请|报名|评选办法|名额|条件|标准|名单|"
                       r"(?:怎么|如何|咋|怎样)(?:才能|才)?(?:评选|评出|评上|评审|申报|入选)|(?:评选|评审|申报)(?:的)?(?:程序|流程|办法)|"
                       r"名字|叫什么|长什么样|样子|规定的?|条款|第几条|细则|价格|费用|奖金|工资|补贴|会费|试用期|"
                       r"具体(?:分|有|是|包括)?哪[几些]|哪几[部层项条种类个]|(?:公开|包括|包含|分为?)哪(?:些|几)")
DETAIL_EN = re.compile(r"\b(?:exact(?:ly)?|specific(?:ally)?|detail(?:s|ed)?|procedure|process|steps?|apply|application|"
                       r"requirements?|criteria|standards?|rules?|regulations?|articles?|clauses?|penalt(?:y|ies)|fines?|"
                       r"fees?|costs?|price|names?|list|law says?|sign up|register|enrol+|nominat(?:e|ed|ion)|selected|"
                       r"chosen|look like|appearance|design|wages?|salar(?:y|ies)|pensions?|minimum)\b"
                       r"|\bwhich (?:[\w-]+ )?(?:laws?|regulations?|acts?|companies|firms|schools|projects|competitions?|"
                       r"contests?|songs?|jobs)\b", _I)
# A question after named instances (哪一项赛事, 哪几部法): the answer must name one (in quotes, a title, or a name).
NAMED_ZH = re.compile(r"哪(?:一|几|些)?(?:项|首|部|家|所|位|个|本)?(?:具体的?)?(?P<noun>赛事|比赛|竞赛|歌曲?|法律?|学校|项目|工程|"
                      r"公司|企业|医院|城市|省份?|人物|书|文件|会议)")
NAMED_EN = re.compile(r"\bwhich (?:specific |particular )?(?:laws?|acts?|regulations?|songs?|competitions?|contests?|projects?|"
                      r"companies|hospitals|schools|individuals?|persons?)\b|\bname (?:any |specific |particular )?"
                      r"(?:individual|people|persons?|workers?|laws?|companies)", re.IGNORECASE)
# Questions whether the text mentions something: that thing must be in the answer's paragraph.
MENTIONS = re.compile(r"(?:提到|提及|讲到|谈到|说到|涉及|讲过|谈过|说过)(?:了|过)?[^？?，,]{1,20}(?:吗|没有?|了没)|有没有(?:讲|谈|提|说|涉及)"
                      r"|\b(?:what|how) (?:does|did) (?:it|the speech|xi|he) say about"
                      r"|(?:讲|谈|说)了?[^？?，,]{1,12}(?:了没|没有)"
                      r"|是否(?:提到|谈到|涉及|讲)|\bdoes (?:it|the speech|xi|he) (?:mention|discuss|talk about|say anything about|"
                      r"refer to|address|touch on|cover)|is there anything (?:about|on)", re.IGNORECASE)
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
    if len(word) == 2:  # 劳模 in 劳动模范, 社保 in 社会保障: the second character two places after the first
        at = text.find(word[0])
        while at >= 0:
            if text[at + 2 : at + 3] == word[1]:
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
        # After 哪些/哪位 (which leaders…) the verb that follows matters too (哪些领导发言了).
        for step, take in ((-1, 1), (1, 2 if word.startswith(("哪", "什么")) else 1)):
            j, taken = i + step, 0
            while 0 <= j < len(words) and taken < take:
                word = words[j]
                if re.search(r"[，。？！,?!]", word):
                    break
                if word not in _FUNCTION and re.search(r"[\u4e00-\u9fff]", word) and word not in STOPWORDS \
                        and not _WH.match(word) and (len(word) > 1 or word in _ACTION_VERBS):
                    out.append(word)
                    taken += 1
                elif word not in _FUNCTION and re.search(r"[\u4e00-\u9fff]", word) and taken:
                    break
                j += step
    return list(dict.fromkeys(out))


def typed_intents(query: Query) -> list[str]:
    """Every typed thing a question asks for (who, where, when, how many), in the order asked."""
    found = []
    for kind in intents.TYPED:
        if intents.matches(kind, query.search):
            found.append(kind)
    return found


def holds(kind: str, text: str, query: Query, tokenizer: Tokenizer, translated: set[str] | None = None,
          year: int | None = None) -> bool:
    """Whether a sentence holds an answer of this type that is not already in the question (for English, not one of
    the ``translated`` Chinese words of the question's own words)."""
    if kind == intents.TIME:
        if _CLOCK.search(query.search):  # what time of day: only a clock time answers
            return bool(_CLOCK_TIME.search(text))
        future = _FUTURE.search(query.search) is not None

        def answers(found: str) -> bool:
            if found in query.search or (future and _RELATIVE_TIME.fullmatch(found)):
                return False
            digits = re.match(r"\d{4}", found)
            return not (future and year and digits and int(digits[0]) <= year)  # the next one: after the text

        return any(answers(m[0]) for m in _TIME.finditer(text))
    if kind == intents.QUANTITY:
        return _number(text, query)
    if kind == intents.PLACE:
        if not _EVENT_PLACE.search(query.search) and any(m[0] not in query.search for m in _SETTINGS.finditer(text)):
            return True
        for word, flag in posseg(tokenizer).lcut(text, HMM=False):
            if (flag == "ns" or _PLACE_WORDS.search(word)) and len(word) >= 2 and word not in query.search \
                    and word not in _NOT_PLACES:
                return True
        return False
    if kind == intents.PERSON:
        if _ONE_PERSON.search(query.search):
            return _has_name(text, tokenizer)
        own = translated or set()
        for word, flag in posseg(tokenizer).lcut(text, HMM=False):
            if word in query.search or len(word) < 2 or word in own:
                continue
            if flag in ("nr", "nrfg") and word[0] in SURNAMES or flag == "nt" or _PEOPLE_SUFFIX.search(word):
                return True
        return False
    return True


def _number(text: str, query: Query) -> bool:
    """Whether a sentence holds a number that fits what the question counts: one with the asked unit, a year only
    when years are asked, or, for 几条/几个/how many, the items of a 、-list to count."""
    m = _ASKED_UNIT.search(query.search)
    counts_items = re.search(r"几(?:个|条|项|种|点|方面)|多少(?:个|条|项|种)|how many", query.search, re.IGNORECASE)
    if counts_items and re.search(r"[^，。；、]{1,12}、[^，。；、]{1,12}、[^，。；、]{1,12}", text):
        return True
    units: str | None = None
    if m:
        units = _UNITS.get(m[1], m[1]) if m[1] else ("%％百成" if m[2] else "元块万亿")
    elif (en := _EN_UNIT.search(query.search)) and en[1]:
        units = {"days": "天日", "years": "年", "times": "次", "percent": "%％"}.get(en[1].lower(), "人名位万")
    for found in NUMBER.finditer(text):
        if found[0] in query.search or (re.fullmatch(r"\d{4}\s*年", found[0]) and units != "年"):
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


def _enumerates(sentence: str, question: str, words: list[str]) -> bool:
    """Whether a sentence lists things the question asks about: a 、-list in a clause holding one of its words, or
    a phrase of the question said over and over (坚决维护…，坚决维护…)."""
    for clause in re.split(r"[，；。！？]", sentence):
        if _LIST.search(clause) and (not words or any(present(w, clause) for w in words)):
            return True
    phrases = [m[1] for m in re.finditer(r"“([^”]{2,8})”", question)] + words
    return any(sentence.count(p) >= 2 for p in phrases)


def detail_missing(query: Query, sentence: str, paragraph: str, tokenizer: Tokenizer, bridge: Bridge) -> str | None:
    """The detail a question asks for that the answer does not give (a procedure, a list, a name), or None.

    A question after a list (具体分哪几层) needs a 、-list in a clause of the answer sentence that holds one of
    the question's own words; one after a procedure or a name needs that word in the paragraph.
    """
    if query.language == "zh":
        named = NAMED_ZH.search(query.search)
        if named and not (named["noun"][0] in sentence and re.search(r"“[^”]+”|《[^》]+》", sentence)):
            return f"具体是哪{named['noun']}"
        m = DETAIL_ZH.search(query.search)
        if not m:
            return None
        word = m[0]
        if word.startswith("具体") or "哪" in word:
            return None if _enumerates(sentence, query.search, content_tokens(query.search, tokenizer)) else "具体有哪些"
        core = word.replace("怎么", "").replace("如何", "").rstrip("的")
        return None if core and core in paragraph else core or word
    if NAMED_EN.search(query.search) and not (re.search(r"“[^”]+”|《[^》]+》", sentence)
                                               or _has_name(sentence, tokenizer)):
        return NAMED_EN.search(query.search)[0].lower()
    m = DETAIL_EN.search(query.search)
    if not m:
        return None
    translations = bridge(m[0])
    if translations and any(w in paragraph for words in translations for w in words):
        return None
    return m[0].lower()


EN_LAW = re.compile(r"\b(?:[A-Z][a-z]+ ){1,4}(?:Law|Act|Code|Regulations?)\b")


def _has_name(text: str, tokenizer: Tokenizer) -> bool:
    return any(flag in ("nr", "nrfg") and word[0] in SURNAMES for word, flag in posseg(tokenizer).lcut(text, HMM=False))


def unmentioned(query: Query, paragraph: str, tokenizer: Tokenizer, bridge: Bridge, coverage: float) -> bool:
    """Whether a question asks if the text mentions something (讲话提到碳中和了吗？) that its best paragraph does not
    hold: then the text does not mention it. Chinese is judged by the IDF-weighted share of the question's words
    in that paragraph (``coverage``); English by its words, those no word of the text translates counting as absent."""
    if not MENTIONS.search(query.search):
        return False
    if query.language != "zh":
        words = [w for w in english_words(query.search) if w not in _EN_SCAFFOLD]
        judged = [bridge(w) for w in words]
        judged = [translations for translations in judged if translations]
        if words and not judged:
            return True  # no word of it is one the text uses: the Olympics, the Belt and Road
        found = sum(any(t in paragraph for words_ in translations for t in words_) for translations in judged)
        return found < 0.5 * len(judged)
    if query.language == "zh" and not content_tokens(query.search, tokenizer):  # 碳达峰碳中和: cut to single characters
        topic = re.sub(r"讲话|文中|里|有没有|是否|提到|提及|讲到|谈到|说到|涉及|讲过|谈过|说过|讲|谈|说|提|了没|没有|了|吗|没|过|这次|总书记|"
                       r"[？?！!。，,\s]", "", query.search)
        return bool(topic) and topic not in paragraph
    return coverage < MENTION_COVERAGE


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
