"""The content guard: every free text passes here before it is stored, so no classified content gets in.

It refuses classification markings (密级标志), document numbers (发文字号) and a configurable list of
handling phrases. Merely naming a level (“我把机密级文件遗失了”) is allowed: people must be able to report
what was lost without the bot refusing the report.
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


DEFAULT_TERMS: tuple[str, ...] = (
    "内部资料",  # printed on non-public internal materials; such material must not leave the office
    "不得外传",  # handling instruction on internal documents
    "请勿外传",  # same instruction in its polite form; also covers “内部文件请勿外传”
    "严禁外传",  # same instruction in its strict form
    "注意保密",  # stamp on documents whose content must be kept confidential
    "仅供内部",  # “仅供内部使用/参考/传阅”: restricted-circulation label
    "不得翻印",  # “内部资料 不得翻印”: reproduction ban printed on internal publications
)

_OK = GuardVerdict(None)
_MARKING = GuardVerdict(GuardCategory.MARKING)
_DOC_NUMBER = GuardVerdict(GuardCategory.DOC_NUMBER)
_TERM = GuardVerdict(GuardCategory.TERM)

# Line breaks are kept (as "\n") so that bracketed level words can be anchored at the start of a line and a
# line ending in a level word does not merge with a "★" bullet on the next line.
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_SPACES = " \t\x1f\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
# Zero-width and bidi-control characters: invisible, so they can split “机密” without a reader noticing.
_INVISIBLE = (
    "\u00ad\u034f\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)
_CLEANUP = str.maketrans({**dict.fromkeys(_SPACES + _INVISIBLE), **dict.fromkeys(_LINE_BREAKS, "\n")})

# Traditional forms too: pasted material from outside the mainland still carries a marking.
_LEVEL = r"(?:[绝絕机機秘祕]密)"
# Private-use code points: Word's Wingdings/Symbol-font star pastes as one of them (e.g. U+F0AB).
_STAR = "[★☆⋆∗⁎✦✧✩✪✫✬✭✮✯✰✱✲✳✴✵✶✷✸✹⭐⭑⭒\ue000-\uf8ff]"
# The period part of a marking: “10年”, “6个月”, “长期”, exam papers' “启用前”.
_PERIOD = r"(?:[0-9]+(?:年|个月|個月)|长期|長期|启用前|啟用前)"

_MARKING_RE = re.compile(
    "|".join(
        (
            rf"{_LEVEL}级?{_STAR}",  # 机密★10年, 秘密★, 秘密级★
            rf"{_STAR}{_LEVEL}",  # ★机密
            rf"{_LEVEL}\**{_PERIOD}",  # 机密10年 (star lost when pasting), 机密*10年, 绝密启用前
            # "*" (also NFKC-folded "＊") stands in for the star, but "**机密**" and "*机密*" are emphasis.
            rf"(?<!\*){_LEVEL}\*(?!\*)",
            rf"密[级級][:\])】]{_LEVEL}",  # 密级：机密, 【密级】绝密
            rf"(?m:^[\[(【〔〖]{_LEVEL}级?[\])】〕〗])",  # 【机密】 / [秘密] opening a line
        )
    )
)

# 教发〔2026〕12号 and its bracket variants; NFKC has already folded ［］（）﹝﹞ into []()〔〕.
_DOC_NUMBER_RE = re.compile(r"[〔\[(【〖](?:19|20)[0-9]{2}[〕\])】〗]第?[0-9]{1,5}[号號]")


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_CLEANUP)


@lru_cache(maxsize=64)
def _normalised_terms(terms: tuple[str, ...]) -> tuple[str, ...]:
    # An empty term would match every text, so blank entries in a configured list are dropped.
    return tuple(dict.fromkeys(n for n in (_normalise(t).casefold() for t in terms) if n))


def check_text(text: str, extra_terms: Iterable[str] = (), terms: Iterable[str] | None = None) -> GuardVerdict:
    """Refuse markings first, then document numbers, then terms; `terms=None` means DEFAULT_TERMS."""
    normal = _normalise(text)
    # Every marking contains 密 and every document number 号/號: skip the regexes for most texts.
    if "密" in normal and _MARKING_RE.search(normal):
        return _MARKING
    if ("号" in normal or "號" in normal) and _DOC_NUMBER_RE.search(normal):
        return _DOC_NUMBER
    wanted = _normalised_terms(tuple(DEFAULT_TERMS if terms is None else terms) + tuple(extra_terms))
    if wanted:
        folded = normal.casefold()
        if any(term in folded for term in wanted):
            return _TERM
    return _OK

