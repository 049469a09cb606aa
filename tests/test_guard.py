from __future__ import annotations

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


def test_corpus_is_large_enough_and_well_formed() -> None:
    corpus = _corpus()
    assert len(corpus["marked"]) >= 110
    assert len(corpus["ordinary"]) >= 110
    categories = {GuardCategory(entry["category"]) for entry in corpus["marked"]}
    assert categories == set(GuardCategory)
    texts = [entry["text"] for entry in corpus["marked"]] + corpus["ordinary"]
    duplicates = sorted({t for t in texts if texts.count(t) > 1})
    assert not duplicates, f"duplicate corpus texts: {duplicates}"


def test_every_marked_corpus_text_is_refused_with_its_category() -> None:
    failures = []
    for entry in _corpus()["marked"]:
        got = check_text(entry["text"]).category
        if got != GuardCategory(entry["category"]):
            failures.append(f"{entry['text']!r}: expected {entry['category']}, got {got}")
    assert not failures, f"{len(failures)} marked texts misjudged:\n" + "\n".join(failures)


def test_every_ordinary_corpus_text_passes() -> None:
    failures = []
    for text in _corpus()["ordinary"]:
        verdict = check_text(text)
        if not verdict.ok:
            failures.append(f"{text!r}: refused as {verdict.category}")
    assert not failures, f"{len(failures)} ordinary texts refused:\n" + "\n".join(failures)


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


@pytest.mark.parametrize(
    "separator", [" ", "\u3000", "\t", "\u00a0", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
)
def test_spaces_and_zero_width_characters_inside_a_marking_are_ignored(separator: str) -> None:
    text = separator.join("机密★10年")
    assert check_text(text).category is GuardCategory.MARKING
    assert check_text(separator.join("教发〔2026〕12号")).category is GuardCategory.DOC_NUMBER
    assert check_text(separator.join("内部资料")).category is GuardCategory.TERM


def test_a_line_break_inside_a_marking_separates_it() -> None:
    # A list whose line ends in a level word followed by a "★" bullet line is no marking.
    assert check_text("密级分为绝密、机密、秘密\n★离开座位请锁屏").ok
    assert check_text("机密\n★10年").ok


@pytest.mark.parametrize("text", ["機密★10年", "絕密★", "祕密★"])
def test_traditional_level_words_are_recognised(text: str) -> None:
    assert check_text(text).category is GuardCategory.MARKING


@pytest.mark.parametrize("text", ["机密10年", "秘密6个月", "绝密长期", "绝密启用前"])
def test_a_level_word_directly_followed_by_a_period_is_a_marking_without_the_star(text: str) -> None:
    assert check_text(text).category is GuardCategory.MARKING


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


def test_a_marking_is_reported_before_a_document_number_and_a_term() -> None:
    assert check_text("机密★ 教发〔2026〕12号 内部资料").category is GuardCategory.MARKING
    assert check_text("教发〔2026〕12号 内部资料").category is GuardCategory.DOC_NUMBER


@pytest.mark.parametrize("term", DEFAULT_TERMS)
def test_each_default_term_is_refused(term: str) -> None:
    assert check_text(f"附件：{term}，请查收").category is GuardCategory.TERM


def test_the_suggested_default_phrases_are_covered() -> None:
    for text in ("内部资料", "不得外传", "注意保密", "内部文件请勿外传"):
        assert check_text(text).category is GuardCategory.TERM, text


def test_extra_terms_add_to_the_defaults() -> None:
    assert check_text("本材料阅后收回").ok
    assert check_text("本材料阅后收回", extra_terms=["阅后收回"]).category is GuardCategory.TERM
    assert check_text("内部资料", extra_terms=["阅后收回"]).category is GuardCategory.TERM


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

