"""Lists that scale to a bureau: pickers and lists show PAGE_SIZE at a time with ◀ ▶, in natural order ("第2中学"
before "第10中学"), and a typed word narrows a picker to the names that contain it. Pure functions; the flows keep
the page and the search in their state."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bot.core.flow import Button, FlowContext
from bot.domain.ordering import natural_key

PAGE_SIZE = 10
T = TypeVar("T")


def natural_sorted(items: Sequence[T], name: Callable[[T], str]) -> list[T]:
    return sorted(items, key=lambda item: natural_key(name(item)))


def matching(items: Sequence[T], typed: str, name: Callable[[T], str]) -> list[T]:
    """The items whose name contains what was typed (full-width folded, case ignored)."""
    wanted = unicodedata.normalize("NFKC", typed).casefold().strip()
    return [item for item in items if wanted in unicodedata.normalize("NFKC", name(item)).casefold()]


@dataclass(frozen=True)
class Page:
    start: int  # index of the first item shown
    number: int  # 0-based
    count: int  # how many pages (at least 1)


def page_of(total: int, number: int, size: int = PAGE_SIZE) -> Page:
    count = max(1, -(-total // size))
    number = max(0, min(count - 1, number))
    return Page(number * size, number, count)


def nav_row(ctx: FlowContext, page: Page, action: str = "page") -> list[Button]:
    """◀ and ▶ for a list longer than a page (none on a single page); each carries the page it goes to."""
    if page.count <= 1:
        return []
    row = []
    if page.number > 0:
        row.append(Button(ctx.t("core/paging", key="prev"), action, (str(page.number - 1),)))
    row.append(
        Button(ctx.t("core/paging", key="at", number=page.number + 1, count=page.count), action, (str(page.number),))
    )
    if page.number < page.count - 1:
        row.append(Button(ctx.t("core/paging", key="next"), action, (str(page.number + 1),)))
    return row
