"""HTML for the web console: the page templates under messages/desk/web/ (language-neutral markup) with their
words from messages/desk/web/words.j2 (Chinese) or words.en.j2 (English), in an environment that escapes every
value — a name like `<script>` or `=1+1` is shown as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.texts import MESSAGES, environment

WORDS = {"zh": "desk/web/words.j2", "en": "desk/web/words.en.j2"}


class Pages:
    def __init__(self, timezone: ZoneInfo, root: Path = MESSAGES) -> None:
        self.env = environment(root, timezone, html=True)

    def render(self, page: str, locale: str, /, **context: Any) -> str:
        """`page` is a file under messages/desk/web/ ("overview.html"), in the person's language."""
        template = self.env.get_template(f"desk/web/{page}")
        return template.render(words=WORDS.get(locale, WORDS["zh"]), locale=locale, **context)
