"""What a question asks: its intent and expected answer type, or which part of a document's structure it wants."""

from __future__ import annotations

import re

from qa.ingest.structure import NUMERAL, chinese_numeral
from qa.types import StructureAsk

# Intents, in the order they are tried: the first that matches wins.
DEFINITION, REASON, METHOD = "definition", "reason", "method"
PERSON, PLACE, TIME, QUANTITY = "person", "place", "time", "quantity"
YESNO, STRUCTURE, SMALLTALK, OTHER = "yesno", "structure", "smalltalk", "other"
TYPED = (PERSON, PLACE, TIME, QUANTITY)

_I = re.IGNORECASE
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (QUANTITY, re.compile(
        r"多少|(?<!哪)几[个名位项次岁人万千百亿元块条家所层节轮届批类种倍成]|百分之几|比例是|占比|多大比例|第几[个次届]"
        r"|how (?:many|much)|what (?:percentage|proportion|share|number)|what fraction"
        r"|what (?:was|is|were|are) (?:the |china's |its |their )?(?:[\w-]+ ){0,2}(?:rate|growth|figure|budget|salary|wage|"
        r"gdp|line|threshold|amount|quota|level|size|total)\b", _I)),
    (TIME, re.compile(
        r"什么时候|何时|哪一?年|哪一?天|哪个月|几月|几号|几点(?!要求|内容|意见|建议|希望|方面|看法)|什么时间|什么日子|哪个时期|多久|多长时间|截止|期限|年份是"
        r"|\bwhen\b(?! it comes)|what (?:year|date|day|time)|which (?:year|date|day)|how long|by what (?:year|date)"
        r"|deadline", _I)),
    (PLACE, re.compile(
        r"在哪[里儿个]?(?:开|举行|举办|召开|进行|发表|讲|办)|在哪(?:里|儿)?(?:开的|举行的|召开的|办的)|(?:开|举行|举办|召开)"
        r"(?:的)?地[点方]|什么地方|哪个(?:城市|地方|省|市|县|区|国家|会场|场馆)|地点|会场在|位于|哪座城市"
        r"|哪(?:个|家|所|座)(?:酒店|宾馆|医院|学校|公司|企业|单位|工厂|城市|省份|省|地方|国家|地区)"
        r"|\bwhere\b|which (?:[\w-]+ )?(?:cit(?:y|ies)|places?|countr(?:y|ies)|provinces?|venues?|towns?|hospitals?|hotels?|"
        r"regions?)\b|what (?:city|place|venue|location)", _I)),
    (PERSON, re.compile(
        r"谁|哪位|哪一位|何人|什么人|是哪个人|叫什么名字|\bwho(?:m|se)?\b|which (?:person|people|leader|official|group)",
        _I)),
    (REASON, re.compile(
        r"为什么|为何|为啥|什么原因|原因|怎么会|何以|凭什么|干嘛要|意义|重要性|有什么用|为什么重要|好处"
        r"|\bwhy\b|what (?:for|is the reason|reason)|how come|the point of|significance|important", _I)),
    (DEFINITION, re.compile(  # how a text describes something asks what it says that thing is
        r"(?:怎么|怎样|如何)(?:评价|看待?|形容|描述|定位|定义|认识|理解|概括|称呼|说明)|什么(?:样的)?(?:评价|定位|地位|形容)"
        r"|how does (?:it|the speech|xi|he) (?:describe|characteri[sz]e|portray|see|view|define|rate|assess|evaluate|"
        r"frame|present|explain|treat|interpret)"
        r"|how (?:is|are) [\w' -]+ (?:described|characteri[sz]ed|portrayed|defined|seen|viewed)", _I)),
    (METHOD, re.compile(
        r"怎么|怎样|如何|咋|什么办法|什么措施|哪些措施|什么举措|哪些举措|采取什么|靠什么|办法|途径|措施|做法|路径"
        r"|\bhow (?:to|should|can|do|does|did|will|would|is|are)\b|in what way|what (?:steps|measures|actions)"
        r"|what should", _I)),
    (DEFINITION, re.compile(
        r"是什么|什么是|指什么|指的是|是指|含义|内涵|包括|包含|有哪些|哪几[种个项方]|什么意思|啥意思|定义|是啥|有啥"
        r"|什么样的|什么内容|哪些内容"
        r"|what (?:is|are|does|do|was|were)\b|what's|\bdefine\b|meaning|consist|include", _I)),
    (YESNO, re.compile(
        r"[吗嘛]\s*[？?]?\s*$|是否|是不是|有没有|能不能|要不要|会不会|该不该|对不对"
        r"|^\s*(?:is|are|was|were|does|do|did|can|could|should|will|would|has|have|had)\b", _I)),
]

_ZH_NUMBER = rf"[{NUMERAL}两\d]{{1,3}}"
_PART_WORD = r"(?:部分|点|个方面|方面|块|条|项|个部分|个要点|要点|大点|节)"
_PARAGRAPH = re.compile(r"第\s*([零一二三四五六七八九十两\d]{1,3})\s*(?:段|自然段)")
_PART = re.compile(rf"第\s*({_ZH_NUMBER})\s*(?:[和、与及跟,，]\s*(?:第\s*)?({_ZH_NUMBER})\s*)?{_PART_WORD}")
_ANY_ORDINAL = re.compile(rf"第\s*({_ZH_NUMBER})")
_FIRST_PART = re.compile(rf"(?:最前面|最开始|头一|第一个|首先)(?:的|那)?(?:一|个)?{_PART_WORD}?|{_PART_WORD}里(?:放在)?最前面")
_LAST_PART = re.compile(rf"最后(?:那|一)?(?:一|个)?{_PART_WORD}|最后一{_PART_WORD}|{_PART_WORD}里(?:放在)?最后")
_EN_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
                "eighth": 8, "ninth": 9, "tenth": 10, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5}
_EN_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
_EN_PART = re.compile(r"\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|1st|2nd|3rd|4th|5th|last"
                      r"|final)\s+(?:main\s+)?(?:part|point|section|pillar|theme|area|task|heading)s?\b"
                      r"|\b(?:part|point|section)\s+(\d+|one|two|three|four|five|six|seven|eight)\b", _I)
_WHICH_PART = re.compile(rf"哪一?(?:个|一)?{_PART_WORD}|哪个部分|在哪(?:里|儿|个地方)?(?:讲|说|谈|提)到?|什么地方(?:讲|说|谈|提)"
                         r"|\bwhich (?:part|section|point)\b|\bin which (?:part|section)|where (?:in the speech|does (?:it|the "
                         r"speech|xi|he|she) (?:talk|speak|mention|discuss|deal|address|touch|cover))|(?:is|are) there "
                         r"(?:a |any )?(?:section|part|passage)s? (?:on|about|that)", _I)
# The paragraph right before or after a given part: 讲第一点之前那段, the section just before the last point.
_NEXT_TO_PART = re.compile(rf"第\s*({_ZH_NUMBER})\s*{_PART_WORD}?(?:讲|说)?(?:之前|以前|前面|前边)|最后一{_PART_WORD}(?:之前|前面)"
                           rf"|\b(?:just |right )?before (?:the )?(first|second|third|fourth|fifth|last) (?:numbered )?"
                           r"(?:part|point|section)", _I)
# Asking how many parts or points there are is asking for the outline, whatever else the question says.
_HOW_MANY_PARTS = re.compile(r"(?:几|多少)(?:个)?(?:部分|大部分|方面|大块|块|要点|点|大点|板块)(?!要求)|几点要求|"
                             r"[一二三四五六七八九十两\d]个(?:部分|方面|要点)的?(?:小?标题|分别|各自|都)|"
                             r"how many (?:main |major |key |numbered )?(?:parts|points|sections|pillars|themes)", _I)
# 几点开始 asks for the time of day, not for how many points there are.
_CLOCK = re.compile(r"几点(?=钟|开始|结束|开会|开的|开幕|闭幕|举行|召开|散会|散场|到场|入场|出发|开始的|左右|整)")
_SALUTATION_COUNT = re.compile(r"(?:同志们|称呼).{0,12}(?:几次|多少次|几回)|how many times .{0,30}(?:comrades|address)", _I)
_AROUND_PARTS = re.compile(rf"(?:四|几|各|这些|所有|[{NUMERAL}])(?:个)?{_PART_WORD}(?:的)?(?:要求|内容)?(?:讲|说)?(?:完)?(?P<when>之前|以前|前面|"
                           rf"之后|以后|后面|讲完|说完|结束后)|铺垫|(?P<en>before|after) (?:the |its |those |these )?"
                           rf"(?:\w+ )?(?:main )?(?:points|parts|sections)|(?P<done>once|when) (?:the |its )?(?:\w+ ){{0,2}}"
                           r"(?:points|parts|sections) (?:are |is )?(?:done|over|finished|complete)", _I)
_STRUCTURE: list[tuple[str, re.Pattern[str]]] = [
    ("song", re.compile(r"歌|曲子|曲目|唱|旋律|\bsongs?\b|\bsing|\bsung\b|\bmusic|\banthem", _I)),
    ("sayings", re.compile(
        r"古语|古话|古人|名言|诗句|诗词|俗话|谚语|典故|老话|引用|引了|引述|哪句话|格言|警句|经典|成语|口号|标语|金句"
        r"|\bquot|\bsaying|proverb|\bpoem|poetry|classical|\bidiom|\bmaxim|slogan|motto|catchphrase", _I)),
    ("years", re.compile(
        r"(?:哪些|哪几个|什么|几个)年份|哪几年|(?:提到|提及|说到|讲到)(?:了)?(?:哪些|什么|几个)(?:年|时间|日期|周年|纪念)"
        r"|(?:哪些|什么)(?:周年|纪念)|which years|what years|years (?:are |does it |did it |it )?mention"
        r"|(?:which|what) anniversar|anniversaries|dates? (?:are |does it )?mention", _I)),
    ("address", re.compile(r"称呼|怎么称呼|对谁讲|向谁讲|听众|面向谁|address(?:es|ed)? (?:his |her |the |its )?audience"
                           r"|whom does (?:it|he|she) address|who (?:is|was) (?:it|the speech) addressed"
                           r"|who (?:is|was|does) (?:\w+ ){0,2}(?:addressing|speaking to|talking to|address)\b"
                           r"|how does (?:he|she|the speaker|xi) address", _I)),
    ("opening", re.compile(
        r"开头|开场|开篇|一开始|开始的时候|首先说|第一句|起头|开宗明义|打头|\bopen(?:s|ing|ed)?\b|\bbegin|\bstart(?:s|ed)?\b"
        r"|first (?:words|sentence|lines)", _I)),
    ("ending", re.compile(
        r"结尾|收尾|结束语|结语|末了|临了|最后(?:一句|一段|那段|说|讲|怎么说|用|以)|末尾|最后的话|落脚|怎么结束|如何结束|结束的时候"
        r"|\bend(?:s|ing|ed)?\b|conclu|\bclos(?:e|es|ing)\b|final (?:words|sentence|lines)|last (?:words|sentence|lines)",
        _I)),
    ("outline", re.compile(
        r"几个方面|哪几个方面|几部分|哪几部分|哪些部分|几点|哪几点|几块|分几|提纲|框架|结构|脉络|大纲|要点|几大"
        r"|main (?:points|parts|sections|themes|ideas|messages)|\boutline|structure|how many (?:parts|points|sections)"
        r"|key (?:points|themes)|break (?:it )?down|sections? of the speech|organi[sz]", _I)),
]
# An outline asked as the whole arc (how it is organised: opening, parts, close) rather than its main points.
_ARC = re.compile(r"结构|安排|脉络|整体|组织|先.{0,6}后|顺序|思路|布局|organi[sz]|\bstructur|\bflow\b|\barc\b|\border\b"
                  r"|layout|laid out|progress", _I)
# Openings and endings named so plainly that the question needs no word for "the speech".
_PLAIN = {"opening": re.compile(r"开头|开场白|开篇|开场|第一句|一开始"),
          "ending": re.compile(r"结尾|结束语|结语|收尾|最后一句|最后一段|末尾|结束时|末了|临了")}
# Words of an outline question besides the generic ones (the main points, 几个方面, 四个部分 …).
_OUTLINE_WORDS = frozenset("方面 部分 要点 点 块 几点 四点 提纲 框架 结构 脉络 大纲 main point part section theme idea messag "
                           "outlin structur four three five two key pillar".split())
# Parts of a document a question can ask about while also asking something of its content (开场白里说开会是为了啥).
REGIONS = ("opening", "ending", "preamble", "postamble")
# Words that only say which part of the document is meant.
_REGION_WORDS = frozenset("开场白 开头 开篇 开场 一开始 第一句 第一 首先 结尾 最后 一句 一段 最后一句 最后一段 结束语 结语 收尾 末尾 讲完 "
                          "之后 以后 之前 以前 前面 后面 铺垫 要求 转向 转到 话题 接着 然后 四点 几点 四个 几个 方面 部分 讲话 称呼 "
                          "称呼语 open begin start "
                          "end close conclud final last first word sentenc line after befor turn topic point part section "
                          "speech".split())
# Questions that ask what the document says as a whole; they mean the outline only when they name no topic.
_OVERVIEW = re.compile(r"讲了|说了|谈了|讲的是|说的是|主要讲|主要说|主要谈|内容|概括|总结|梗概|主旨|主题|大意|大概"
                       r"|\bsummar|overview|\babout\b|\bgist\b|cover|\bsay", _I)
# The words such overview questions are made of; any other word is a topic.
GENERIC_WORDS = frozenset(
    """
    主要 内容 概括 总结 梗概 主旨 主题 大意 大概 一下 简单 简要 讲 说 谈 讲了 说了 谈了 什么 些 一些 全文 通篇 整篇 这篇 篇 这次
    下 帮 帮我 给 给我 能 可以 请 你 整体 核心 中心 思想 意思 讲的 说的 大体 主要讲 主要说 讲些 说些 整个 文章 演讲 致辞 报告
    speech main mainli mostli about summar summari summaris summariz overview gist cover say talk overal gener whole
    key point idea theme messag tell briefli short quick text address remark document cover
    """.split()
)
# Words that make a question about the document itself rather than about its content.
_ABOUT_TEXT = re.compile(r"讲话|这篇|全文|通篇|文章|演讲|致辞|报告|文中|讲稿|整篇|这次讲|本文|speech|text|address|remarks"
                         r"|document|\bit\b", _I)
_GREETING = re.compile(r"^\s*(?:你好|您好|大家好|哈喽|嗨|在吗|在不在|谢谢|多谢|感谢|再见|拜拜|早上好|晚上好|下午好|晚安|好的|嗯+|哦+"
                       r"|ok|okay|hi|hello|hey|thanks?(?: you)?|bye|good (?:morning|evening|night|afternoon))"
                       r"[\s!！。.,，~～?？啊呀呢吧哈]*$", _I)


# Questions that ask for a number or a date (the coarse check the typed checks of qa.decide refine).
_ASKS_NUMBER = re.compile(r"多少|几[个年名次岁位项]|哪一?年|什么时候|何时|how many|how much|what year|^\W*when\b"
                          r"|\bwhen (?:did|was|were|is|will)\b", _I)


def asks_number(text: str) -> bool:
    """Whether a question asks for a number or a date."""
    return _ASKS_NUMBER.search(text) is not None


def matches(kind: str, text: str) -> bool:
    """Whether a question's words ask for this kind of answer (a question may ask for several)."""
    return any(name == kind and pattern.search(text) for name, pattern in _PATTERNS)


def intent_of(text: str) -> str:
    """The intent of a question: what kind of answer it expects (one of the constants above, OTHER if none)."""
    if _GREETING.match(text):
        return SMALLTALK
    for intent, pattern in _PATTERNS:
        if pattern.search(text):
            return intent
    return OTHER


def part_numbers(text: str) -> tuple[int, ...]:
    """The parts a question names by number (第三部分, 第三点和第四点, the third point, part 2, 最后一点 -> -1)."""
    found: list[int] = []
    for m in _PART.finditer(text):
        for value in (m[1], m[2]):
            if value:
                found.append(int(value) if value.isdigit() else chinese_numeral(value.replace("两", "二")))
    if found:
        return tuple(dict.fromkeys(found))
    if _LAST_PART.search(text):
        return (-1,)
    if _FIRST_PART.search(text) and re.search(_PART_WORD, text):
        return (1,)
    m = _EN_PART.search(text)
    if m:
        word = (m[1] or m[2]).lower()
        if word in ("last", "final"):
            return (-1,)
        number = _EN_ORDINALS.get(word) or _EN_WORDS.get(word) or (int(word) if word.isdigit() else None)
        return (number,) if number else ()
    return ()


def part_number(text: str) -> int | None:
    """The first part a question names by number, or None."""
    numbers = part_numbers(text)
    return numbers[0] if numbers else None


def scoped(ask: StructureAsk | None, words: list[str]) -> bool:
    """Whether a question about a region of the document (its opening, its ending, before or after its parts) also
    asks something of that region's content: then it is searched for within the region."""
    if ask is None or ask.kind not in REGIONS:
        return False
    return any(w not in GENERIC_WORDS and w not in _OUTLINE_WORDS and w not in _REGION_WORDS and len(w) > 1
               for w in words)


def structure_of(text: str, words: list[str], about_text: bool | None = None) -> StructureAsk | None:
    """Which part of a document's structure a question asks for, if it asks about the document itself.

    A question names a part (第二部分讲什么), or asks for the outline, the opening, the ending, what the
    text quotes (sayings, songs) or which years it mentions.

    Args:
        text: The question.
        words: Its content words (jieba tokens without stopwords, or stemmed English words): an overview
            question (讲了什么, what is it about) asks for the outline only when these name no topic.
        about_text: Whether the question speaks of the document itself (讲话, the speech); by default it is
            read from the words of the question.
    """
    text = _CLOCK.sub("几时", text)
    if _SALUTATION_COUNT.search(text):
        return StructureAsk("address")
    next_to = _NEXT_TO_PART.search(text)
    if next_to:
        value = next_to[1] or next_to[2] or "last"
        number = -1 if value.lower() in ("last",) or next_to[0].startswith("最后") else \
            (int(value) if value.isdigit() else _EN_ORDINALS.get(value.lower()) or chinese_numeral(value.replace("两", "二")))
        return StructureAsk("before-part", (number,))
    around = _AROUND_PARTS.search(text)  # 讲几点要求之前: what comes before the parts, not how many there are
    if around:
        before = (around["when"] or "") in ("之前", "以前", "前面") or "铺垫" in around[0] or \
            (around["en"] or "").lower() == "before"
        return StructureAsk("preamble" if before else "postamble")
    if _HOW_MANY_PARTS.search(text):
        return StructureAsk("outline", region="parts")
    parts = part_numbers(text)
    if parts:
        return StructureAsk("part", parts)
    paragraph = _PARAGRAPH.search(text)
    if paragraph:
        value = paragraph[1]
        return StructureAsk("paragraph", (int(value) if value.isdigit() else chinese_numeral(value.replace("两", "二")),))
    if _WHICH_PART.search(text):
        return StructureAsk("which")
    about = _ABOUT_TEXT.search(text) is not None if about_text is None else about_text
    for kind, pattern in _STRUCTURE:
        if pattern.search(text):
            if kind == "outline" and not (about or len(text) <= 12 or all(w in GENERIC_WORDS or w in _OUTLINE_WORDS
                                                                          for w in words)):
                continue
            if kind in ("opening", "ending") and not (about or _PLAIN[kind].search(text)):
                continue
            if kind == "address" and not (about or "称呼" in text):
                continue
            if kind == "outline" and not _ARC.search(text):  # the main points, 几个方面, 框架: the parts alone
                return StructureAsk(kind, region="parts")
            return StructureAsk(kind)
    if _OVERVIEW.search(text) and all(w in GENERIC_WORDS for w in words) and (about or not words):
        return StructureAsk("outline")
    return None
