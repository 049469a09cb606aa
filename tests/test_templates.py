"""Every text is a template: each parses, and each Chinese template has its English one (and the reverse)."""

from __future__ import annotations

from bot.texts import MESSAGES, Texts
from tests.conftest import TZ

# Texts that are bilingual by design (shown before a language is chosen).
BILINGUAL = {"core/language_choose"}


def test_every_template_parses() -> None:
    texts = Texts(TZ)
    names = [p.relative_to(MESSAGES).as_posix() for p in MESSAGES.rglob("*.j2")]
    assert len(names) > 300
    for name in names:
        texts.env.parse(texts.env.loader.get_source(texts.env, name)[0])  # type: ignore[union-attr]


def test_every_template_exists_in_both_languages() -> None:
    zh = {
        p.relative_to(MESSAGES).as_posix()[: -len(".j2")]
        for p in MESSAGES.rglob("*.j2")
        if not p.name.endswith(".en.j2")
    }
    en = {p.relative_to(MESSAGES).as_posix()[: -len(".en.j2")] for p in MESSAGES.rglob("*.en.j2")}
    assert sorted(zh - en - BILINGUAL) == []
    assert sorted(en - zh) == []
