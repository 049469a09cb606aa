"""Every user-facing text is a jinja2 template under messages/; this is the one place that renders them.

`messages/<flow>/<moment>.j2` is Simplified Chinese; `<moment>.en.j2` beside it is English.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateNotFound

# The top-level messages/ folder, shipped inside the package as bot/messages (a link in the source tree).
MESSAGES = Path(__file__).parent / "messages"
LOCALES = ("zh", "en")
DEFAULT_LOCALE = "zh"


@dataclass(frozen=True, slots=True)
class Later:
    """A text rendered when it is shown (`str()`, as `{{ }}` in a template does): for what every event builds and few
    show (a to-do's line is shown by the welcome; /status shows its button)."""

    texts: Texts
    name: str
    locale: str
    context: Mapping[str, Any]

    def __str__(self) -> str:
        return self.texts.render(self.name, self.locale, **self.context)


class Texts:
    def __init__(self, timezone: ZoneInfo, root: Path = MESSAGES) -> None:
        self.timezone = timezone
        self.root = root
        self.env = environment(root, timezone)
        # The template of each name and locale, found once: looking it up asks the file system whether it changed
        # (and, for a text without its English, whether that appeared) at every message.
        self._found: dict[tuple[str, str], Template] = {}

    def render(self, name: str, locale: str = DEFAULT_LOCALE, /, **context: Any) -> str:
        """Render `name` (e.g. "core/help") in `locale`, falling back to Chinese. Both are positional, so a
        template may take a `name` of its own."""
        template = self._found.get((name, locale))
        if template is None:
            template = self._found[(name, locale)] = self._find(name, locale)
        return template.render(locale=locale, **context).strip()

    def _find(self, name: str, locale: str) -> Template:
        if locale != DEFAULT_LOCALE:
            try:
                return self.env.get_template(f"{name}.{locale}.j2")
            except TemplateNotFound:
                pass
        return self.env.get_template(f"{name}.j2")

    def names(self) -> list[str]:
        """Every template name (without locale suffix) under the root."""
        found = set()
        for path in self.root.rglob("*.j2"):
            rel = path.relative_to(self.root).as_posix()[: -len(".j2")]
            for loc in LOCALES:
                if rel.endswith(f".{loc}"):
                    rel = rel[: -len(loc) - 1]
            found.add(rel)
        return sorted(found)

    def cn_date(self, value: date | datetime) -> str:
        return cn_date(value, self.timezone)


class _Environment(Environment):
    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """A template's globals as one plain dict, not jinja2's ChainMap over the environment's: every render copies
        them into its context, and a ChainMap is copied key by key in Python (two thirds of a short text's render).
        Nothing adds globals once the environment is made."""
        return {**self.globals, **(d or {})}


@functools.lru_cache(maxsize=8)
def environment(root: Path, timezone: ZoneInfo, html: bool = False) -> Environment:
    """One environment (and so one cache of compiled templates) per folder, time zone and kind: chat texts, or the
    web console's HTML pages (escaped)."""
    env = _Environment(
        loader=FileSystemLoader(str(root)),
        undefined=StrictUndefined,
        autoescape=html,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        cn_date=lambda value: cn_date(value, timezone),
        cn_datetime=lambda value: cn_datetime(value, timezone),
        en_date=lambda value: en_date(value, timezone),
        en_datetime=lambda value: f"{value.astimezone(timezone):%Y-%m-%d %H:%M}",
    )
    return env


def cn_date(value: date | datetime, timezone: ZoneInfo) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(timezone).date()
    return f"{value.year}年{value.month}月{value.day}日"


def cn_datetime(value: datetime, timezone: ZoneInfo) -> str:
    local = value.astimezone(timezone)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def en_date(value: date | datetime, timezone: ZoneInfo) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(timezone).date()
    return value.isoformat()
