from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.domain.guard import (
    DEFAULT_TERMS,
    GuardCategory,
    GuardVerdict,
    check_text,
)

DATA = Path(__file__).parent / "data"


def _corpus() -> dict[str, Any]:
    with (DATA / "guard_corpus.yaml").open(encoding="utf-8") as f:
        loaded: dict[str, Any] = yaml.safe_load(f)
    return loaded


MARKED_KINDS = ("accidental", "deliberate")


def test_corpus_is_large_enough_and_well_formed() -> None:
    corpus = _corpus()
    assert set(corpus["marked"]) == set(MARKED_KINDS)
    assert len(corpus["marked"]["accidental"]) >= 150
    assert len(corpus["marked"]["deliberate"]) >= 100
    assert len(corpus["ordinary"]) >= 150
    for kind in MARKED_KINDS:
        categories = {GuardCategory(entry["category"]) for entry in corpus["marked"][kind]}
        assert categories == set(GuardCategory), kind
    texts = [entry["text"] for kind in MARKED_KINDS for entry in corpus["marked"][kind]] + corpus["ordinary"]
    duplicates = sorted({t for t in texts if texts.count(t) > 1})
    assert not duplicates, f"duplicate corpus texts: {duplicates}"


def test_the_guard_refuses_every_marked_variant_and_no_ordinary_sentence() -> None:
    """The figures the issue asks for: 100 % of marked variants refused (with their category), 0 ordinary
    sentences refused. Printed, so that `pytest -s` shows them; the assertion lists every miss."""
    corpus = _corpus()
    misses: list[str] = []
    figures: list[str] = []
    for kind in MARKED_KINDS:
        entries = corpus["marked"][kind]
        wrong = [
            f"{kind}: {e['text']!r} expected {e['category']}, got {check_text(e['text']).category}"
            for e in entries
            if check_text(e["text"]).category != GuardCategory(e["category"])
        ]
        misses += wrong
        refused = len(entries) - len(wrong)
        figures.append(f"{kind} {refused}/{len(entries)} refused ({100 * refused / len(entries):.0f} %)")
    wrongly_refused = [
        f"ordinary: {text!r} refused as {check_text(text).category}"
        for text in corpus["ordinary"]
        if not check_text(text).ok
    ]
    misses += wrongly_refused
    figures.append(f"ordinary {len(wrongly_refused)}/{len(corpus['ordinary'])} refused")
    print("guard corpus: " + "; ".join(figures))
    assert not misses, f"{len(misses)} texts misjudged:\n" + "\n".join(misses)


def test_every_line_of_the_regulations_passes() -> None:
    lines = (DATA / "regulations-zh.txt").read_text(encoding="utf-8").splitlines()
    refused = [f"{line!r}: {check_text(line).category}" for line in lines if not check_text(line).ok]
    assert not refused, "\n".join(refused)
    assert check_text("\n".join(lines)).ok


def test_verdict_ok_reflects_category() -> None:
    assert GuardVerdict(None).ok
    assert not GuardVerdict(GuardCategory.TERM).ok
    assert check_text("秘密文件要认真保管") == GuardVerdict(None)
    assert check_text("").ok


@pytest.mark.parametrize(
    "text",
    ["绝密★", "机密★10年", "秘密★6个月", "★机密", "机密★长期", "秘密★", "绝密 ★ 20年", "绝密★启用前"],
)
def test_standard_markings_are_refused(text: str) -> None:
    assert check_text(text).category is GuardCategory.MARKING


@pytest.mark.parametrize("text", ["机密☆10年", "☆秘密", "机密⭐", "秘密✩6个月", "机密∗3年"])
def test_other_star_glyphs_count_as_the_star(text: str) -> None:
    assert check_text(text).category is GuardCategory.MARKING


@pytest.mark.parametrize("text", ["秘密*", "机密*10年", "秘密＊6个月", "绝密＊", "机密 * 长期"])
def test_asterisk_after_a_level_word_stands_in_for_the_star(text: str) -> None:
    assert check_text(text).category is GuardCategory.MARKING


@pytest.mark.parametrize("text", ["我把*机密*文件弄丢了", "我把**机密**文件弄丢了", "*秘密*级U盘丢失"])
def test_asterisks_used_for_emphasis_around_a_level_word_pass(text: str) -> None:
    assert check_text(text).ok


def test_a_wingdings_star_pasted_as_a_private_use_character_counts() -> None:
    assert check_text("机密\uf0ab10年").category is GuardCategory.MARKING


@pytest.mark.parametrize("text", ["机密★１０年", "秘密★６个月", "秘密＊１０年"])
def test_full_width_digits_are_folded(text: str) -> None:
    assert check_text(text).category is GuardCategory.MARKING


SEPARATORS = [
    *(" ", "\u3000", "\t", "\u00a0", "\u2003", "\u205f"),  # spaces
    *("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\u2062", "\U000e0020"),  # format
    *("\u202a", "\u202c", "\u2066", "\u2069", "\u200e"),  # bidi controls that reorder nothing here
    *("\u0336", "\u0332", "\u20dd", "\u034f", "\u3099"),  # combining marks
    *("\ufe0f", "\ufe00", "\U000e0100"),  # variation selectors
    *("\u3164", "\uffa0", "\u115f", "\u1160", "\u2800"),  # Hangul fillers, the braille blank
    *("\x00", "\x1f", "\x7f"),  # control characters
    *(".", "-", "_", "·", "・", "/", "\\", "|", "~", "…", "—", "–", "‐", "'", '"', "“", "”", "‘"),  # separators
]


@pytest.mark.parametrize("separator", SEPARATORS)
def test_what_is_put_between_the_characters_is_ignored(separator: str) -> None:
    text = separator.join("机密★10年")
    assert check_text(text).category is GuardCategory.MARKING
    assert check_text(separator.join("教发〔2026〕12号")).category is GuardCategory.DOC_NUMBER
    assert check_text(separator.join("内部资料")).category is GuardCategory.TERM


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("机密\n★10年", GuardCategory.MARKING),
        ("机密★\n10年", GuardCategory.MARKING),
        ("机\n密★", GuardCategory.MARKING),
        ("秘密★6\r\n个月", GuardCategory.MARKING),
        ("密级：\n机密", GuardCategory.MARKING),
        ("教发〔2026〕\n12号", GuardCategory.DOC_NUMBER),
        ("教发\n2026年3号", GuardCategory.DOC_NUMBER),
    ],
)
def test_a_marking_split_across_a_line_break_is_still_refused(text: str, category: GuardCategory) -> None:
    assert check_text(text).category is category


def test_a_list_ending_in_a_level_word_before_a_star_bullet_is_no_marking() -> None:
    # Only a whole marking (with its period) is read across a line break, never a level word and a bullet.
    assert check_text("密级分为绝密、机密、秘密\n★离开座位请锁屏").ok
    assert check_text("绝密、机密、秘密\n★\n下周保密检查").ok


@pytest.mark.parametrize("text", ["機密★10年", "絕密★", "祕密★"])
def test_traditional_level_words_are_recognised(text: str) -> None:
    assert check_text(text).category is GuardCategory.MARKING


@pytest.mark.parametrize(
    "text", ["机密10年", "秘密6个月", "绝密长期", "绝密启用前", "机密级10年", "秘密級6個月", "机密十年", "秘密★一年"]
)
def test_a_level_word_directly_followed_by_a_period_is_a_marking_without_the_star(text: str) -> None:
    assert check_text(text).category is GuardCategory.MARKING


@pytest.mark.parametrize(
    "text",
    [
        "绝密30年、机密20年、秘密10年",
        "保密期限：绝密级30年，机密级20年，秘密级10年。",
        "机密20年和秘密10年的区别是什么",
        "保守国家秘密10年来从未出过问题",
        "绝密启用前的试卷要双人保管",
    ],
)
def test_the_legal_periods_quoted_and_sentences_that_go_on_are_no_marking(text: str) -> None:
    assert check_text(text).ok


def test_the_guard_cannot_know_what_is_secret_without_a_marking() -> None:
    # Said plainly in messages/guard and the README: people are told what not to type instead.
    assert check_text("第3题答案是C").ok
    assert check_text("明天考点设在实验中学，试卷放在3楼保密室").ok


@pytest.mark.parametrize(
    "text",
    [
        "【机密】",
        "[秘密]",
        "［绝密］",
        "（秘密）2026年招生计划",
        "【机密级】关于考点的安排",
        "  【机密】关于考点的安排",
        "说明如下：\n[秘密]考点安排",
        "说明如下：\r\n【绝密】考点安排",
        "说明如下：\u2028【绝密】考点安排",
    ],
)
def test_a_bracketed_level_word_opening_a_line_is_a_marking(text: str) -> None:
    assert check_text(text).category is GuardCategory.MARKING


def test_a_bracketed_level_word_closing_a_line_is_a_marking() -> None:
    assert check_text("关于试卷印制的通知（秘密）").category is GuardCategory.MARKING
    assert check_text("关于试卷印制的通知【机密】\n各考点：").category is GuardCategory.MARKING


def test_a_bracketed_level_word_inside_a_sentence_is_a_mention() -> None:
    assert check_text("会上传达了带有【机密】字样文件的管理要求").ok


@pytest.mark.parametrize("text", ["密级：机密", "密级:秘密", "密级: 绝密", "【密级】秘密", "[密级]机密", "密級：機密"])
def test_marking_fields_are_refused(text: str) -> None:
    assert check_text(text).category is GuardCategory.MARKING


@pytest.mark.parametrize(
    "text", ["丢失的文件密级为机密", "密级确定后应当在文件上标注", "国家秘密的密级分为绝密、机密、秘密三级"]
)
def test_describing_a_level_passes(text: str) -> None:
    assert check_text(text).ok


@pytest.mark.parametrize(
    "text",
    [
        "秘密文件要认真保管",
        "绝密文件传阅完毕立即清退",
        "涉密人员脱密期限分为:一般涉密人员6个月,重要涉密人员1年,核心涉密人员2年。",
        "我把机密级文件遗失了",
        "秘密级U盘丢失",
        "不该说的机密,绝对不说",
        "手机密码被同事看到了",
    ],
)
def test_mentioning_a_level_word_passes(text: str) -> None:
    assert check_text(text).ok


@pytest.mark.parametrize(
    "text",
    [
        "教发〔2026〕12号",
        "京教保[2025]7号",
        "教办厅函(2026)15号",
        "市教发（2025）8号",
        "区教保【2026】2号",
        "教人［2024］101号",
        "教发﹝2026﹞5号",
        "教基厅函〔2025〕第3号",
        "教发〔２０２６〕１２号",
        "教發〔2026〕7號",
        "根据教发〔2026〕12号文件要求开展自查",
        "教发{2026}3号",
        "教发<2026>3号",
        "教发〔二〇二六〕三号",
        "教发〔2026年〕3号",
    ],
)
def test_document_numbers_are_refused(text: str) -> None:
    assert check_text(text).category is GuardCategory.DOC_NUMBER


@pytest.mark.parametrize(
    "text",
    [
        "2026年3号楼",
        "第3号会议室",
        "12号",
        "3月12号下午",
        "【2026】年度工作要点",
        "（2026）3班",
        "周五（12号）开会",
    ],
)
def test_numbers_that_are_not_document_numbers_pass(text: str) -> None:
    assert check_text(text).ok


@pytest.mark.parametrize(
    "text",
    ["教发2026年3号", "京教保2025年7号", "教办厅函2026年15号", "教发2026第3号", "教基2026年第3号", "教人2024年101号"],
)
def test_document_numbers_without_brackets_are_refused(text: str) -> None:
    assert check_text(text).category is GuardCategory.DOC_NUMBER


@pytest.mark.parametrize(
    "text", ["请在2026年3号楼一楼签到", "下发2026年3号楼的钥匙", "2026年第3号台风", "负责人2026年3月3号到岗"]
)
def test_a_year_and_a_number_without_an_issuing_organ_pass(text: str) -> None:
    assert check_text(text).ok


def test_a_marking_is_reported_before_a_document_number_and_a_term() -> None:
    assert check_text("机密★ 教发〔2026〕12号 内部资料").category is GuardCategory.MARKING
    assert check_text("教发〔2026〕12号 内部资料").category is GuardCategory.DOC_NUMBER


@pytest.mark.parametrize("term", DEFAULT_TERMS)
def test_each_default_term_is_refused_where_it_stands_as_a_stamp(term: str) -> None:
    for stamped in (term, f"第一行\n {term} \n第三行", f"【{term}】关于考务的安排", f"关于考务的安排（{term}）"):
        assert check_text(stamped).category is GuardCategory.TERM, stamped


@pytest.mark.parametrize("term", DEFAULT_TERMS)
def test_each_default_term_passes_inside_a_sentence(term: str) -> None:
    sentences = (f"附件：{term}，请查收", f"文件上印有【{term}】字样", f"已提醒同事{term}", f"“{term}”的材料已收回")
    for sentence in sentences:
        assert check_text(sentence).ok, sentence


def test_a_line_of_several_stamps_is_one_stamp() -> None:
    for text in ("内部文件请勿外传", "内部资料 不得翻印", "内部资料，注意保密", "★内部资料★", "（内部资料 注意保存）"):
        assert check_text(text).category is GuardCategory.TERM, text


def test_sentence_punctuation_makes_a_stamp_line_an_exhortation() -> None:
    assert check_text("注意保密！").ok
    assert check_text("各科室：\n下周一开展保密检查。\n注意保密。").ok


def test_extra_terms_add_to_the_defaults() -> None:
    assert check_text("阅后收回").ok
    assert check_text("阅后收回", extra_terms=["阅后收回"]).category is GuardCategory.TERM
    assert check_text("本材料阅后收回", extra_terms=["阅后收回"]).ok  # in a sentence
    assert check_text("内部资料", extra_terms=["阅后收回"]).category is GuardCategory.TERM
    assert check_text("內部資料\n閱後收回", extra_terms=["阅后收回"]).category is GuardCategory.TERM


def test_overlapping_terms_cannot_make_the_check_backtrack_for_ever() -> None:
    # A regex alternation of "内部", "资料" and "内部资料" splits n repetitions 2^n ways before giving up.
    terms = ["内部", "资料", "内部资料"]
    assert check_text("内部资料" * 60 + "。", terms=terms).ok
    assert check_text("内部资料" * 60, terms=terms).category is GuardCategory.TERM


def test_explicit_terms_replace_the_defaults() -> None:
    assert check_text("内部资料", terms=[]).ok
    assert check_text("内部资料", terms=["阅后收回"]).ok
    assert check_text("阅后收回", terms=["阅后收回"]).category is GuardCategory.TERM
    assert check_text("阅后收回", terms=[], extra_terms=["阅后收回"]).category is GuardCategory.TERM


def test_markings_and_document_numbers_do_not_depend_on_terms() -> None:
    assert check_text("机密★10年", terms=[]).category is GuardCategory.MARKING
    assert check_text("教发〔2026〕12号", terms=[]).category is GuardCategory.DOC_NUMBER


def test_blank_terms_are_ignored_rather_than_matching_everything() -> None:
    assert check_text("在地铁上遗失了一个U盘", extra_terms=["", "  ", "\u200b"]).ok
    assert check_text("在地铁上遗失了一个U盘", terms=[""]).ok


def test_terms_are_normalised_like_the_text() -> None:
    assert check_text("FOR OFFICIAL USE ONLY", terms=["for official use only"]).category is GuardCategory.TERM
    full_width = "ＦＯＲ　ＯＦＦＩＣＩＡＬ　ＵＳＥ　ＯＮＬＹ"
    assert check_text("for official use only", terms=[full_width]).category is GuardCategory.TERM
    assert check_text("内部资料", terms=["内 部 资 料"]).category is GuardCategory.TERM


def test_terms_may_be_given_as_a_one_shot_iterable() -> None:
    assert check_text("阅后收回", terms=iter(["阅后收回"])).category is GuardCategory.TERM


# Glyphs whose Unicode name says star or asterisk and that nobody would take for one in a marking: a face, a
# night sky, fireworks, a religious symbol, APL's diaeresis operator; combining marks and tag characters are
# dropped anyway.
NOT_A_STAR = set("☪⍣\U0001f303\U0001f387\U0001f929")


def test_every_star_like_glyph_in_the_unicode_database_counts_as_the_star() -> None:
    named = re.compile(r"\bSTARS?\b|ASTERISK|SPARKLE|PENTAGRAM")
    glyphs = [
        c
        for c in map(chr, range(sys.maxunicode + 1))
        if unicodedata.category(c) in {"So", "Sm", "Po"}
        and named.search(unicodedata.name(c, ""))
        and c not in NOT_A_STAR
    ]
    assert len(glyphs) > 100
    missed = [f"U+{ord(c):04X} {unicodedata.name(c)}" for c in glyphs if check_text(f"机密{c}10年").ok]
    assert not missed, missed
    alone = [c for c in glyphs if c not in "*∗⁎﹡＊" and check_text(f"秘密{c}").ok]
    assert not alone, alone


def test_text_written_backwards_behind_a_right_to_left_override_is_read_as_shown() -> None:
    assert check_text("\u202e年01★密机").category is GuardCategory.MARKING
    assert check_text("\u202e号3(6202)发教").category is GuardCategory.DOC_NUMBER
    assert check_text("年01★密机").ok  # without the override it reads as typed


@pytest.mark.parametrize("text", ["教发〔٢٠٢٦〕٣号", "教发〔贰零贰陆〕叁号", "教发〔𝟐𝟎𝟐𝟔〕𝟑号", "教发〔2026〕⑫号"])
def test_digits_of_every_form_count(text: str) -> None:
    assert check_text(text).category is GuardCategory.DOC_NUMBER
