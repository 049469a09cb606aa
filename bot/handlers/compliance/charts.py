"""The compliance chart: one PNG a head or officer can read on a phone, drawn with matplotlib's Agg backend.

A flow or sweep puts only the figures in its reply (`ChartData`, plain JSON in the outbox row); the dispatcher
draws the picture when the row is sent (`draw`), in a thread and outside any transaction, so a dashboard never
holds the database while matplotlib works, and an outbox row holds a few hundred bytes instead of a PNG.

Chinese needs a CJK font, and the machines this runs on may have none: the project installs one through the
`mplfonts` package (its wheel ships Noto Sans CJK SC) and hands that file to every text drawn. The font is
located without importing mplfonts, whose import rewrites matplotlib's configuration. matplotlib itself is
imported inside the function, so the bot starts without paying for it.
"""

from __future__ import annotations

import base64
import importlib.metadata
import io
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.handlers.compliance.rules import DUTIES, DepartmentCompliance, Duty
from bot.texts import Texts

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.font_manager import FontProperties

log = logging.getLogger("baomi.charts")

FONT_DISTRIBUTION = "mplfonts"
FONT_FILE = "mplfonts/fonts/NotoSansCJKsc-Regular.otf"

MAX_DEPARTMENTS = 40  # more would make a picture too tall to scroll; the title says how many are left out
WIDTH_PX = 1080  # a phone screen's width in pixels: shown without scaling down
DPI = 180  # 6 inches wide: 10-point text is about 25 pixels high
GROUP_INCHES = 0.72  # one department: four bars with their labels
FRAME_INCHES = 1.9  # title, legend and the x axis
NAME_CHARS = 7  # longer department names wrap onto lines of even length

# One colour per duty, distinguishable by colour-blind readers (Tableau 10).
COLOURS: Mapping[Duty, str] = {
    Duty.PLEDGE: "#4E79A7",
    Duty.QUIZ: "#F28E2B",
    Duty.EDUCATION: "#59A14F",
    Duty.SELF_CHECK: "#B07AA1",
}
BAR = 0.2  # bar thickness in department units: four bars fill 0.8 of a group
ABSENT = "—"  # drawn where nobody in the department owes the duty (not the same as 0 %)


class FontMissing(RuntimeError):
    """The CJK font the chart needs is not installed."""


@dataclass(frozen=True)
class ChartLabels:
    """Every word the chart shows, rendered from templates by the caller (see chart_labels)."""

    title: str
    duties: Mapping[Duty, str]
    no_data: str
    axis: str


@dataclass(frozen=True)
class ChartData:
    """What the chart shows, as plain values: the labels, and for each department drawn (in order) its name and
    its percentage per duty in DUTIES order (None: nobody there owes the duty)."""

    labels: ChartLabels
    names: tuple[str, ...]
    percents: tuple[tuple[int | None, ...], ...]

    def to_json(self) -> dict[str, Any]:
        labels = self.labels
        return {
            "title": labels.title,
            "duties": [labels.duties[duty] for duty in DUTIES],
            "no_data": labels.no_data,
            "axis": labels.axis,
            "names": list(self.names),
            "percents": [list(row) for row in self.percents],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ChartData:
        labels = ChartLabels(
            title=raw["title"],
            duties=dict(zip(DUTIES, raw["duties"], strict=True)),
            no_data=raw["no_data"],
            axis=raw["axis"],
        )
        percents = tuple(tuple(row) for row in raw["percents"])
        return cls(labels, tuple(raw["names"]), percents)


def chart_data(departments: Sequence[DepartmentCompliance], labels: ChartLabels) -> ChartData:
    """The figures of the first MAX_DEPARTMENTS departments, in the order given (lowest compliance first)."""
    shown = departments[:MAX_DEPARTMENTS]
    return ChartData(
        labels,
        tuple(d.name for d in shown),
        tuple(tuple(d.tally(duty).percent for duty in DUTIES) for d in shown),
    )


def chart_labels(texts: Texts, locale: str, *, departments: int, **context: Any) -> ChartLabels:
    """The labels in `locale`. `departments` is how many the chart is given (the title notes when only the first
    MAX_DEPARTMENTS are drawn); `context` goes to the title template (it needs `day`, the date of the figures)."""
    shown = min(departments, MAX_DEPARTMENTS)
    return ChartLabels(
        title=texts.render("dashboard/chart_title", locale, shown=shown, total=departments, **context),
        duties={duty: texts.render("dashboard/chart_duty", locale, duty=duty.value) for duty in DUTIES},
        no_data=texts.render("dashboard/chart_no_data", locale),
        axis=texts.render("dashboard/chart_axis", locale),
    )


def locate_font(distribution: str = FONT_DISTRIBUTION, file: str = FONT_FILE) -> Path:
    """The CJK font file shipped by the mplfonts wheel; FontMissing, saying how to install it, if absent."""
    hint = f"the chart needs {file} from the {distribution} package: run `pip install -e .` in the project"
    try:
        path = Path(str(importlib.metadata.distribution(distribution).locate_file(file)))
    except importlib.metadata.PackageNotFoundError as exc:
        raise FontMissing(f"{distribution} is not installed; {hint}") from exc
    if not path.is_file():
        raise FontMissing(f"no font at {path}; {hint}")
    return path


def draw(chart: Mapping[str, Any]) -> dict[str, str] | None:
    """The dispatcher's hook: a reply's chart (handlers.base.Chart as stored in the outbox row) as the image the
    channels send; None (logged) when the CJK font is missing, and the caption is then sent alone."""
    try:
        png = _drawn(json.dumps(chart["data"], ensure_ascii=False, sort_keys=True))
    except FontMissing as exc:
        log.warning("no chart: %s", exc)
        return None
    return {"filename": chart["filename"], "content_b64": png, "caption": chart.get("caption") or ""}


@lru_cache(maxsize=4)
def _drawn(data: str) -> str:
    """Base64 PNG of the figures; the weekly digest's officers (same figures, same language) share one drawing."""
    return base64.b64encode(compliance_chart(ChartData.from_json(json.loads(data)))).decode()


def compliance_chart(data: ChartData, *, font: Path | None = None) -> bytes:
    """A PNG of the departments' completion rates, in the order given (lowest compliance first, drawn at the
    top): one group of four bars per department. `font` replaces the CJK font (tests use it to show the
    difference)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = font or locate_font()
    labels = data.labels
    height = FRAME_INCHES + GROUP_INCHES * max(len(data.names), 1)
    figure = Figure(figsize=(WIDTH_PX / DPI, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(labels.title, fontproperties=_font(path, 14))
    axes = figure.add_subplot()
    if data.names:
        _draw_bars(axes, data, path)
        _legend(axes, labels, path)
    else:
        axes.set_axis_off()
        axes.text(0.5, 0.5, labels.no_data, ha="center", va="center", fontproperties=_font(path, 13))
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _draw_bars(axes: Axes, data: ChartData, path: Path) -> None:
    """Four horizontal bars per department, each labelled with its percentage; a duty nobody owes gets a dash."""
    value_font = _font(path, 8)
    tick_font = _font(path, 11)
    rows = range(len(data.names))
    for i, duty in enumerate(DUTIES):
        offset = (i - (len(DUTIES) - 1) / 2) * BAR
        percents = [row[i] for row in data.percents]
        owed = [(row + offset, p) for row, p in zip(rows, percents, strict=True) if p is not None]
        axes.barh([y for y, _ in owed], [p for _, p in owed], height=BAR * 0.9, color=COLOURS[duty])
        for row, percent in zip(rows, percents, strict=True):
            text = ABSENT if percent is None else f"{percent}%"
            axes.text((percent or 0) + 1, row + offset, text, va="center", fontproperties=value_font, color="#333333")
    axes.set_yticks(list(rows), [_wrap(name) for name in data.names], fontproperties=tick_font)
    axes.set_ylim(len(data.names) - 0.5, -0.5)  # the first department at the top
    axes.set_xlim(0, 112)  # room for "100%" beyond the longest bar
    axes.set_xticks(range(0, 101, 20), [str(x) for x in range(0, 101, 20)], fontproperties=tick_font)
    axes.set_xlabel(data.labels.axis, fontproperties=tick_font)
    axes.tick_params(axis="y", length=0)
    axes.grid(axis="x", color="#DDDDDD", linewidth=0.6)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _legend(axes: Axes, labels: ChartLabels, path: Path) -> None:
    """Above the bars, one row; built from the colours, so a duty nobody owes is still explained."""
    from matplotlib.patches import Patch

    handles = [Patch(color=COLOURS[duty], label=labels.duties[duty]) for duty in DUTIES]
    axes.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=len(DUTIES),
        frameon=False,
        handlelength=1.2,
        columnspacing=1.2,
        prop=_font(path, 11),
    )


def _wrap(name: str) -> str:
    """A long name on two or more lines of even length (a lone last character reads badly)."""
    if len(name) <= NAME_CHARS:
        return name
    lines = -(-len(name) // NAME_CHARS)
    width = -(-len(name) // lines)
    return "\n".join(name[i : i + width] for i in range(0, len(name), width))


def _font(path: Path, size: float) -> FontProperties:
    from matplotlib.font_manager import FontProperties

    return FontProperties(fname=path, size=size)
