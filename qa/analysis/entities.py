"""Named things in text: people, places, organisations, titles, laws, years, and numbers with their units."""

from __future__ import annotations

import re
from collections.abc import Iterable

from qa.ingest.structure import YEAR
from qa.lexical.tags import tagger
from qa.types import Entities

TITLE = re.compile(r"《([^》]{1,40})》")
_ZH_DIGITS = "零〇一二两三四五六七八九十百千万亿"
NUMBER = re.compile(rf"(?:\d+(?:[.,]\d+)*|(?=[{_ZH_DIGITS}]*[一二三四五六七八九十两〇零])[{_ZH_DIGITS}]+)\s*(?:多|余|来)?(?P<unit>周年|万人|万元|亿元|个百分点|%|％|[人名位元块万亿年次倍项个家所天日月节条届批种层类座台吨])")
# Common surnames: a word jieba tags as a name counts as a person's name only if it starts with one of
# these (jieba tags many ordinary words nr: 道贺, 小康, 光荣).
SURNAMES = frozenset(
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟"
    "汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文习温胡朱邓江栾蔺诸葛欧阳"
    "司马上官")
# Words jieba tags as place names that name no particular place.
_GENERIC_PLACES = frozenset(["东西", "城市", "城镇", "农村", "乡村", "地方", "中外", "全国", "各地", "国内", "国外", "海外", "世界", "全球", "基层", "地区", "南北", "内外", "上下", "四方"])
NOT_LAWS = frozenset(["方法", "办法", "做法", "想法", "看法", "说法", "用法", "算法", "手法", "立法", "执法", "司法", "守法", "违法", "合法", "依法", "非法", "无法", "设法", "书法", "语法", "魔法", "兵法", "章法", "写法", "读法", "提法", "打法", "玩法", "疗法", "戏法", "技法", "笔法", "刀法", "佛法", "家法", "国法", "王法", "新办法"])


# Titles of office: a question about what a premier or a chairman said names a person by office.
ROLES = re.compile(r"(?:副)?(?:总理|主席|部长|省长|市长|委员长|院长|董事长|总统|首相|局长|厅长|县长|区长|秘书长)")


def posseg(tokenizer):
    """jieba's part-of-speech tagger over a tokenizer's dictionary (made once per tokenizer; see qa.lexical.tags)."""
    found = getattr(tokenizer, "_tagger", None)
    if found is None:
        found = tagger(tokenizer._jieba)
        tokenizer._tagger = found
    return found


def find(text: str, tokenizer=None) -> Entities:
    """The named things of a question.

    Args:
        text: The question.
        tokenizer: A :class:`qa.lexical.words.Tokenizer`; its jieba dictionary tags people, places and
            organisations (without it, only titles, laws, years and numbers are found).
    """
    persons: list[str] = []
    places: list[str] = []
    organisations: list[str] = []
    titles = [m[1].strip() for m in TITLE.finditer(text) if m[1].strip()]
    if tokenizer is not None and re.search(r"[\u4e00-\u9fff]", text):
        for word, flag in posseg(tokenizer).lcut(TITLE.sub("，", text), HMM=False):
            if flag in ("nr", "nrfg", "nrt") and 2 <= len(word) <= 4 and (word[0] in SURNAMES or word[:2] in SURNAMES):
                persons.append(word)
            elif flag == "ns" and len(word) >= 2 and word not in _GENERIC_PLACES:
                places.append(word)
            elif flag == "nt" and len(word) >= 3:
                organisations.append(word)
            elif len(word) >= 3 and (word.endswith("法") or word.endswith("条例")) and word[-2:] not in NOT_LAWS:
                organisations.append(word)  # a law: 劳动法, 工会法, 劳动合同法
    if not re.search(r"谁|哪位|什么人|\bwho\b", text, re.IGNORECASE):  # who is the chairman: a typed question, not a name
        persons += [m[0] for m in ROLES.finditer(text)]
    return Entities(
        persons=tuple(dict.fromkeys(persons)),
        places=tuple(dict.fromkeys(places)),
        organisations=tuple(dict.fromkeys(organisations)),
        titles=tuple(dict.fromkeys(titles)),
        years=tuple(dict.fromkeys(YEAR.findall(text))),
        numbers=tuple(m[0] for m in NUMBER.finditer(text)),
    )


def missing(names: Iterable[str], texts: Iterable[str]) -> list[str]:
    """The names that occur in none of the texts (compared without spaces)."""
    corpus = "\n".join(t.replace(" ", "") for t in texts)
    return [n for n in names if n.replace(" ", "") not in corpus]


def has_year(text: str, years: Iterable[str]) -> bool:
    return any(y in text for y in years)
