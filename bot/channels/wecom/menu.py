"""The application's custom menu (自定义菜单), set once for everyone with `baomi wecom menu`: WeCom has no menu per
person. Each entry is a click whose key is the word a person could type (an alias of its command), so a click is
handled exactly as that word typed."""

from __future__ import annotations

import argparse
from typing import Any

from bot.channels.wecom.client import WeComApiError, WeComClient, WeComUnavailable
from bot.config import ConfigError
from bot.core.cli import CliEnv
from bot.texts import Texts

# (title, [word keys of core/word under it]) — at most 3 titles, 5 under each (WeCom's limits).
MENU: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("my_todos", ()),
    ("do", ("pledge", "quiz", "selfcheck", "report")),
    ("help", ()),
)
CLICK = "click"


def menu_body(texts: Texts, locale: str = "zh") -> dict[str, Any]:
    """The body of menu/create: a title with no entries under it is itself a click."""

    def word(key: str) -> str:
        return texts.render("core/word", locale, key=key)

    buttons: list[dict[str, Any]] = []
    for title, keys in MENU:
        if keys:
            subs = [{"type": CLICK, "name": word(k), "key": word(k)} for k in keys]
            buttons.append({"name": word(title), "sub_button": subs})
        else:
            buttons.append({"type": CLICK, "name": word(title), "key": word(title)})
    return {"button": buttons}


async def set_menu(client: WeComClient, texts: Texts) -> dict[str, Any]:
    """menu/create for the configured application; returns the menu set."""
    body = menu_body(texts)
    await client.call("/cgi-bin/menu/create", json=body, params={"agentid": str(client.settings.agent_id)})
    return body


async def menu_command(env: CliEnv, args: argparse.Namespace) -> int:
    """`baomi wecom menu`: set the application's custom menu and say what it holds."""
    settings = env.settings.wecom
    if settings is None:
        raise ConfigError("WeCom is not configured: set the five BAOMI_WECOM_* settings")
    client = WeComClient(settings, env.clock)
    try:
        body = await set_menu(client, env.texts)
    except (WeComApiError, WeComUnavailable) as exc:
        env.say("cli/wecom_menu_failed", err=True, error=str(exc))
        return 1
    finally:
        await client.close()
    env.say("cli/wecom_menu", buttons=body["button"])
    return 0
