"""The compliance chart: a PNG sized for a phone, drawn with the CJK font the project installs (mplfonts)."""

from __future__ import annotations

import base64
import io
import json
from datetime import date
from pathlib import Path

import matplotlib
import pytest
from matplotlib.ft2font import FT2Font
from PIL import Image, ImageColor

from bot.domain.levels import Level
from bot.handlers.compliance import charts
from bot.handlers.compliance.charts import (
    COLOURS,
    MAX_DEPARTMENTS,
    WIDTH_PX,
    ChartData,
    ChartLabels,
    FontMissing,
    chart_data,
    chart_labels,
    compliance_chart,
    locate_font,
)
from bot.handlers.compliance.rules import DUTIES, DepartmentCompliance, InventoryState, PersonCompliance, lowest_first
from bot.texts import Texts

DAY = date(2026, 10, 12)
NAMES = [
    "办公室",
    "人事科",
    "基础教育科",
    "职业教育与成人教育科",
    "考试院",
    "教师进修学校",
    "财务科",
    "安全稳定科",
    "督导室",
    "招生办公室",
    "电教馆",
    "教育技术装备中心",
]
LEVELS = (Level.CORE, Level.IMPORTANT, Level.GENERAL, Level.NONE)
DEJAVU = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def person(n: int, department: int, *, self_check_owed: bool = True) -> PersonCompliance:
    """Person n of a department: levels in turn, duties done in a pattern that varies between people."""
    level = LEVELS[n % 4]
    return PersonCompliance(
        staff_id=department * 100 + n,
        employee_id=f"E{department:02}{n:02}",
        name=f"人员{n}",
        department_id=department,
        department=NAMES[department % len(NAMES)],
        level=level,
        bound=True,
        pledge=(n + department) % 3 != 0,
        quiz_score=90 if (n * department) % 4 else None,
        educated_on=DAY if n % 2 else None,
        education_owed=level in (Level.CORE, Level.IMPORTANT),
        self_checked=n % 3 == 1,
        self_check_owed=self_check_owed and level.is_classified,
        departure_approved_on=None,
        declassification_ends_on=None,
    )


def organisation(count: int, *, self_check_owed: bool = True) -> list[DepartmentCompliance]:
    departments = [
        DepartmentCompliance(
            department_id=d,
            name=NAMES[d % len(NAMES)] + (str(d) if d >= len(NAMES) else ""),
            people=tuple(person(n, d, self_check_owed=self_check_owed) for n in range(3 + d % 6)),
            inventory_period="2026",
            inventory_deadline=date(2026, 12, 18),
            inventory=InventoryState.DUE,
            open_cases=0,
        )
        for d in range(count)
    ]
    return lowest_first(departments)


def draw_chart(departments: list[DepartmentCompliance], found: ChartLabels, font: Path | None = None) -> bytes:
    return compliance_chart(chart_data(departments, found), font=font)


def labels(texts: Texts, count: int, locale: str = "zh") -> ChartLabels:
    return chart_labels(texts, locale, departments=count, day=DAY)


def png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG"
    return image


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_twelve_departments_make_a_phone_sized_png(texts: Texts, locale: str) -> None:
    data = draw_chart(organisation(12), labels(texts, 12, locale))
    image = png(data)
    assert image.mode == "RGBA"
    assert image.width == WIDTH_PX
    assert 1200 <= image.height <= 3000  # grows with the departments, about 150 pixels each
    assert len(data) < 500_000


def test_every_chinese_label_has_a_glyph_in_the_font(texts: Texts) -> None:
    found = labels(texts, 12)
    words = [found.title, found.no_data, found.axis, *found.duties.values(), *NAMES, "0123456789%—"]
    font = FT2Font(str(locate_font()))
    missing = {c for word in words for c in word if not c.isspace() and font.get_char_index(ord(c)) == 0}
    assert missing == set()
    assert set(found.duties) == set(DUTIES)


def test_the_cjk_font_draws_the_chinese(texts: Texts) -> None:
    """With the CJK font nothing is missing (a "Glyph … missing" warning would fail this test); with DejaVu,
    which has no Chinese, matplotlib warns and the picture comes out different."""
    departments, found = organisation(12), labels(texts, 12)
    cjk = draw_chart(departments, found)
    with pytest.warns(UserWarning, match="missing from font"):
        dejavu = draw_chart(departments, found, font=DEJAVU)
    assert png(cjk).tobytes() != png(dejavu).tobytes()


def test_a_duty_nobody_owes_has_no_bar(texts: Texts) -> None:
    """Before October nobody owes the self-check: its colour shows only in the legend's swatch."""
    colour = (*ImageColor.getrgb(COLOURS[DUTIES[-1]]), 255)

    def pixels(data: bytes) -> int:
        counts = png(data).getcolors(maxcolors=1 << 24)
        assert counts is not None
        return sum(n for n, c in counts if c == colour)

    owed = pixels(draw_chart(organisation(12), labels(texts, 12)))
    not_owed = pixels(draw_chart(organisation(12, self_check_owed=False), labels(texts, 12)))
    assert 0 < not_owed < 2_000 < 10 * not_owed < owed


def test_no_departments_still_draw_a_picture_saying_so(texts: Texts) -> None:
    empty = draw_chart([], labels(texts, 0))
    image = png(empty)
    assert image.width == WIDTH_PX and image.height < 1000
    other = draw_chart([], ChartLabels(labels(texts, 0).title, labels(texts, 0).duties, "？", "%"))
    assert png(other).tobytes() != image.tobytes()  # the no-data label is what is drawn


def test_more_departments_than_fit_are_cut_and_the_title_says_so(texts: Texts) -> None:
    many = organisation(MAX_DEPARTMENTS + 5)
    cut = labels(texts, len(many))
    assert str(MAX_DEPARTMENTS) in cut.title and str(len(many)) in cut.title
    assert str(MAX_DEPARTMENTS) not in labels(texts, 12).title
    tall = png(draw_chart(many, cut))
    assert tall.size == png(draw_chart(many[:MAX_DEPARTMENTS], cut)).size
    assert tall.height < 10_000 - WIDTH_PX  # Telegram's limit on a photo's width plus height


def test_the_figures_travel_as_json_and_are_drawn_when_sent(texts: Texts) -> None:
    """What an outbox row holds: a few hundred bytes of figures, drawn by the dispatcher's hook into the same
    picture the figures make directly."""
    departments, found = organisation(12), labels(texts, 12)
    data = chart_data(departments, found)
    stored = json.loads(json.dumps(data.to_json(), ensure_ascii=False))
    assert ChartData.from_json(stored) == data
    assert len(json.dumps(stored, ensure_ascii=False).encode()) < 2_000
    assert data.percents[0] == tuple(departments[0].tally(duty).percent for duty in DUTIES)
    image = charts.draw({"filename": "c.png", "data": stored, "caption": "说明"})
    assert image is not None and (image["filename"], image["caption"]) == ("c.png", "说明")
    assert base64.b64decode(image["content_b64"]) == compliance_chart(data)


def test_a_missing_font_is_a_clear_error() -> None:
    with pytest.raises(FontMissing, match=r"pip install -e \."):
        locate_font(file="mplfonts/fonts/NoSuchFont.otf")
    with pytest.raises(FontMissing, match="not installed"):
        locate_font(distribution="baomi-no-such-font-package")
