"""The content guard: every free text passes here before it is stored.

What it can do, and no more: refuse a classification marking (密级标志: 机密★10年, 绝密★启用前, 【秘密】 opening a
line, 密级：机密), a document number (发文字号: 教发〔2026〕3号, also written 教发2026年3号) and a configured handling
stamp (内部资料, 注意保密 …) where it stands as a stamp: a line of its own, or in brackets at the start or end of
a line. It cannot tell that "第3题答案是C" or a pupil's exam seat is secret: content without a marking passes, so
the texts people read say what they must not type instead of promising that the guard will catch it.

Merely naming a level ("我把机密级文件遗失了"), quoting the legal periods ("绝密30年、机密20年、秘密10年") or
describing an event ("丢失的是一本内部资料", "已提醒同事注意保密") passes: people must be able to report what
happened without the bot refusing the report.

Texts are normalised before matching, so that neither a careless paste nor a deliberate disguise changes the
verdict: Unicode NFKC; format, combining and other invisible characters, variation selectors, Hangul fillers and
the braille blank removed; traditional characters folded to simplified (the few that markings, document numbers
and the default stamps are made of); dashes, dots, slashes, quotes and spaces between characters dropped; every
star-like glyph read as ★; every bracket as ( ).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache


class GuardCategory(StrEnum):
    MARKING = "marking"
    DOC_NUMBER = "doc_number"
    TERM = "term"


@dataclass(frozen=True)
class GuardVerdict:
    category: GuardCategory | None

    @property
    def ok(self) -> bool:
        return self.category is None


# Handling stamps printed on material that must not leave the office. Refused only where they stand as a stamp
# (see `check_text`); a line made of several of them ("内部资料 不得翻印") is one stamp.
DEFAULT_TERMS: tuple[str, ...] = (
    "内部资料",  # printed on non-public internal materials
    "内部文件",  # the same on documents ("内部文件 请勿外传")
    "不得外传",  # handling instruction on internal documents
    "请勿外传",  # the same in its polite form
    "严禁外传",  # the same in its strict form
    "注意保密",  # stamp on documents whose content must be kept confidential
    "注意保存",  # "内部资料 注意保存": the masthead of internal publications
    "仅供内部使用",  # restricted-circulation labels
    "仅供内部参考",
    "仅供内部传阅",
    "仅供内部参阅",
    "不得翻印",  # reproduction ban printed on internal publications
)

_OK = GuardVerdict(None)
_MARKING = GuardVerdict(GuardCategory.MARKING)
_DOC_NUMBER = GuardVerdict(GuardCategory.DOC_NUMBER)
_TERM = GuardVerdict(GuardCategory.TERM)

# --- normalisation -------------------------------------------------------------------------------------
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
# Letters that show nothing: Hangul fillers (NFKC turns U+3164 and U+FFA0 into U+1160) and the braille blank.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Put between the characters of a word they split it for a regex and not for a reader.
_SEPARATORS = frozenset(".·•‧∙⋅・･˙/\\|¦'\"`^+=~…‥⁄∕∣‖¨°´")
_SEPARATOR_CATEGORIES = frozenset({"Pd", "Pc", "Pi", "Pf", "Zs"})
_DROPPED_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Mc", "Cs"})
# Asterisks a keyboard or a Markdown editor gives: "*机密*" is emphasis, "机密*10年" a marking without its star.
_ASTERISKS = frozenset("*∗⁎")
# Every other star-like glyph (tests/test_guard.py checks this against the names in the Unicode database, so a
# star added to Unicode later is noticed): the marking's ★ pasted from another font, or drawn on purpose.
_STARS = frozenset(
    "٭⁑≛⊛⋆⍟★☆⚝⛤⛥⛦⛧✡✢✣✤✥✦✧✨✩✪✫✬✭✮✯✰✱✲✳✴✵✶✷✸✹✺✻✼✽❂❃❇❈❉❊❋⧆⩮⭐⭑⭒⯨⯩⯪⯫꙳※"
    "\U00010af0\U0001f31f\U0001f320\U0001f52f" + "".join(chr(c) for c in range(0x1F7AF, 0x1F7D5))
)
# Traditional (and Japanese) forms of the characters that markings, document numbers and the default stamps are
# made of: a text pasted from outside the mainland still carries its marking. Configured terms are folded alike.
_SIMPLIFIED = str.maketrans(
    {
        "絕": "绝",
        "絶": "绝",
        "機": "机",
        "祕": "秘",
        "級": "级",
        "號": "号",
        "発": "发",
        "發": "发",
        "啟": "启",
        "啓": "启",
        "長": "长",
        "個": "个",
        "箇": "个",
        "內": "内",
        "資": "资",
        "傳": "传",
        "請": "请",
        "嚴": "严",
        "僅": "仅",
        "閱": "阅",
        "後": "后",
        "廳": "厅",
        "辦": "办",
        "電": "电",
        "復": "复",
        "報": "报",
        "規": "规",
        "黨": "党",
        "紀": "纪",
        "審": "审",
        "財": "财",
        "職": "职",
        "參": "参",
        "閲": "阅",
        "與": "与",
        "宻": "密",
        # 大写 numerals (贰零贰陆年, 叁号) as the plain ones
        "壹": "一",
        "贰": "二",
        "貳": "二",
        "叁": "三",
        "肆": "四",
        "伍": "五",
        "陆": "六",
        "陸": "六",
        "柒": "七",
        "捌": "八",
        "玖": "九",
        "拾": "十",
        "佰": "百",
    }
)


@lru_cache(maxsize=4096)
def _fold(char: str) -> str:
    """One character of an NFKC text as the patterns see it ("" when it shows nothing, " " for a separator)."""
    if char in _LINE_BREAKS:
        return "\n"
    if char in _ASTERISKS:
        return "*"
    if char in _STARS or "\ue000" <= char <= "\uf8ff":
        # Private use: Word's Wingdings and Symbol fonts paste their star as one of these (e.g. U+F0AB).
        return "★"
    if char in _BLANK_LETTERS:
        return ""
    if char in _SEPARATORS or char == "\t":
        return " "
    category = unicodedata.category(char)
    if category in _DROPPED_CATEGORIES or category == "Cc":
        return ""
    if category == "Nd":
        return str(unicodedata.digit(char))  # ٢٠٢٦ and other scripts' digits, which NFKC leaves alone
    if category in _SEPARATOR_CATEGORIES:
        return " "
    if category == "Ps" or char == "<":
        return "("
    if category == "Pe" or char == ">":
        return ")"
    return char.translate(_SIMPLIFIED)


_LEVEL = "[绝机秘]密"
# The period of a marking: 10年, 6个月, 三十年, 半年, 长期, and exam papers' 启用前.
_SPAN = "(?:[0-9]{1,2}|[一二三四五六七八九十两半]{1,3})(?:年|个月)"
_PERIOD = f"(?:{_SPAN}|长期|启用前)"
# Without its star a level and a period are read as a marking unless the sentence goes on ("秘密10年来",
# "绝密启用前的试卷").
_PERIOD_ALONE = f"(?:{_SPAN}(?![来内前后间以])|长期(?![以保存坚有处使])|启用前(?!的))"


@dataclass(frozen=True)
class _Views:
    lines: str  # no spaces or separators; line breaks kept, except inside a level word or a number
    joined: str  # the same without line breaks: a marking or number split over two lines
    spaced: str  # spaces and separators as one space, line breaks kept


_SPACES = re.compile(" +")
_MIRROR = str.maketrans("()", ")(")
# Right-to-left overrides and embeddings: "年01★密机" behind U+202E shows as 机密★10年, so it is read backwards too.
_RIGHT_TO_LEFT = frozenset("\u202b\u202e\u2067")
# A line break inside a level word ("机\n密"), between 密 and 级, or inside a number is no break in the marking.
_BROKEN_TOKEN = re.compile(r"(?<=[绝机秘])\n+(?=密)|(?<=密)\n+(?=级)|(?<=[0-9])\n+(?=[0-9])")


def _views(text: str, *, reverse: bool = False) -> _Views:
    folded = "".join(map(_fold, unicodedata.normalize("NFKC", text)))
    if reverse:
        folded = folded[::-1].translate(_MIRROR)
    spaced = _SPACES.sub(" ", folded)
    lines = _BROKEN_TOKEN.sub("", folded.replace(" ", ""))
    return _Views(lines, lines.replace("\n", ""), spaced)


# --- markings --------------------------------------------------------------------------------------------
_MARKING_IN_LINE = re.compile(
    "|".join(
        (
            rf"{_LEVEL}级?★",  # 机密★10年, 秘密★, 秘密级★
            rf"(?<!\*){_LEVEL}级?\*(?!\*)",  # 秘密*, 机密*10年; "*机密*" and "**机密**" are emphasis
            rf"{_LEVEL}级?\**{_PERIOD_ALONE}",  # 机密10年 (star lost in pasting), **机密**10年, 绝密启用前
            rf"密级[:)]?{_LEVEL}",  # 密级：机密, 【密级】绝密, 密级 秘密
            rf"(?m:^\({_LEVEL}级?\))",  # 【机密】 opening a line
            rf"(?m:\({_LEVEL}级?\)$)",  # ... or closing it
        )
    )
)
# Across a line break only what cannot be a list: a whole marking with its period, or a marking field.
_MARKING_ACROSS_LINES = re.compile(rf"{_LEVEL}级?★+\**{_PERIOD}|密级[:)]{_LEVEL}")
# ★ before the level ("★机密") when the level word ends there: "★ 秘密文件要认真保管" is a bullet.
_STAR_FIRST = re.compile(r"(?m)★ ?[绝机秘] ?密(?: ?级)?+(?=$|[ ★*0-9)])")
# The legal maximum periods quoted in a notice ("绝密30年、机密20年、秘密10年") are not a marking.
_PERIOD_LIST = re.compile(rf"{_LEVEL}级?{_PERIOD}(?:[、,;和及与或]?{_LEVEL}级?{_PERIOD})+")


def _has_marking(views: _Views) -> bool:
    lines = _PERIOD_LIST.sub("…", views.lines)
    return bool(
        _MARKING_IN_LINE.search(lines)
        or _MARKING_ACROSS_LINES.search(_PERIOD_LIST.sub("…", views.joined))
        or _STAR_FIRST.search(views.spaced)
    )


# --- document numbers ------------------------------------------------------------------------------------
_YEAR = "(?:(?:19|20)[0-9]{2}|[一二][〇零○0九][〇零○0一二三四五六七八九]{2})"
_NUMBER = "第?(?:[0-9]{1,5}|[一二三四五六七八九十百〇零○两]{1,6})号"
# The last character of an issuing organ's code (教发, 京教保, 教办厅函, 京教保字, 教人): a bare year and number
# after one of these is a document number; "2026年3号楼" is a building.
_ORGAN_END = "[发函字办电复通令规批报告呈密保基督职政委厅纪审财]"
_DOC_NUMBER_RE = re.compile(
    # 教发〔2026〕12号 with any bracket, or 教发2026年3号 without; never a building's or a room's number.
    rf"(?:\({_YEAR}年?\)|(?:(?<={_ORGAN_END})|(?<=教人)){_YEAR}年?){_NUMBER}(?![楼房室馆门线床车库柜院位台座场栋层])"
)


# --- stamps ----------------------------------------------------------------------------------------------
# What may stand between stamps on a stamp's line. No sentence punctuation: "注意保密！" closing a notice is an
# exhortation, not a stamp.
_STAMP_FILLER = frozenset("()★*,、;:")


@lru_cache(maxsize=64)
def _normal_terms(terms: tuple[str, ...]) -> tuple[str, ...]:
    # An empty term would match every text, so blank entries in a configured list are dropped.
    return tuple(sorted({n for n in (_views(t).joined.casefold() for t in terms) if n}, key=len, reverse=True))


def _made_of_stamps(segment: str, terms: tuple[str, ...]) -> bool:
    """Whether the segment is stamps and filler only, with at least one stamp. Dynamic programming over the
    positions, not a regex: overlapping configured terms ("内部", "内部资料") would make a regex backtrack
    exponentially."""
    reach = [0] * (len(segment) + 1)  # per position: 0 unreachable, 1 reached by filler only, 2 through a stamp
    reach[0] = 1
    for i in range(len(segment)):
        if not (seen := reach[i]):
            continue
        if segment[i] in _STAMP_FILLER:
            reach[i + 1] = max(reach[i + 1], seen)
        for term in terms:
            if segment.startswith(term, i):
                reach[i + len(term)] = 2
    return reach[-1] == 2


def _has_stamp(lines: str, terms: tuple[str, ...]) -> bool:
    """A line of its own, or stamps in brackets opening or closing a line."""
    for line in lines.split("\n"):
        if not any(term in line for term in terms):
            continue
        if _made_of_stamps(line, terms):
            return True
        if line.startswith("(") and (end := line.find(")")) > 0 and _made_of_stamps(line[1:end], terms):
            return True
        if line.endswith(")") and (start := line.rfind("(")) >= 0 and _made_of_stamps(line[start + 1 : -1], terms):
            return True
    return False


def check_text(text: str, extra_terms: Iterable[str] = (), terms: Iterable[str] | None = None) -> GuardVerdict:
    """Refuse markings first, then document numbers, then stamps; `terms=None` means DEFAULT_TERMS."""
    wanted = _normal_terms(tuple(DEFAULT_TERMS if terms is None else terms) + tuple(extra_terms))
    verdict = _check(_views(text), wanted)
    if verdict.ok and not _RIGHT_TO_LEFT.isdisjoint(text):
        verdict = _check(_views(text, reverse=True), wanted)
    return verdict


def _check(views: _Views, wanted: tuple[str, ...]) -> GuardVerdict:
    # Every marking contains 密 and every document number 号: skip the regexes for most texts.
    if "密" in views.joined and _has_marking(views):
        return _MARKING
    if "号" in views.joined and (_DOC_NUMBER_RE.search(views.lines) or _DOC_NUMBER_RE.search(views.joined)):
        return _DOC_NUMBER
    if wanted and _has_stamp(views.lines.casefold(), wanted):
        return _TERM
    return _OK
