"""HTML for the web console: the page templates under messages/desk/web/ (language-neutral markup) with their
words from messages/desk/web/words.j2 (Chinese) or words.en.j2 (English), in an environment that escapes every
value — a name like `<script>` or `=1+1` is shown as text."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.texts import MESSAGES, cn_date, cn_datetime, en_date

WORDS = {"zh": "desk/web/words.j2", "en": "desk/web/words.en.j2"}


class Pages:
    def __init__(self, timezone: ZoneInfo, root: Path = MESSAGES) -> None:
        self.env = _environment(root, timezone)

    def render(self, page: str, locale: str, /, **context: Any) -> str:
        """`page` is a file under messages/desk/web/ ("overview.html"), in the person's language."""
        template = self.env.get_template(f"desk/web/{page}")
        return template.render(words=WORDS.get(locale, WORDS["zh"]), locale=locale, **context)


@functools.lru_cache(maxsize=4)
def _environment(root: Path, timezone: ZoneInfo) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(root)),
        undefined=StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        cn_date=lambda value: cn_date(value, timezone),
        cn_datetime=lambda value: cn_datetime(value, timezone),
        en_date=lambda value: en_date(value, timezone),
        local=lambda value: f"{value.astimezone(timezone):%Y-%m-%d %H:%M}",
    )
    return env
