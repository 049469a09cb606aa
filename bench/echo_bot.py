"""The baseline for bench/updates.py: a bare python-telegram-bot bot doing the same visible work as ours
(a reply with two buttons, a press answered and its message edited, a plain reply), nothing else."""

from __future__ import annotations

import sys
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

KEYBOARD = InlineKeyboardMarkup(
    [[InlineKeyboardButton("中文", callback_data="zh"), InlineKeyboardButton("English", callback_data="en")]]
)


async def language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await update.message.reply_text("请选择语言 / Choose a language:", reply_markup=KEYBOARD, protect_content=True)


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_text(f"已切换为{query.data}。")


async def status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await update.message.reply_text("【个人信息】", protect_content=True)


def main() -> None:
    token, base_url, transport = sys.argv[1], sys.argv[2], sys.argv[3]
    builder = Application.builder().token(token).base_url(base_url)
    if transport != "httpx":
        # Our HTTP layer (bot/channels/telegram/http.py): for every request with "aiohttp", getUpdates included, so that
        # the comparison measures the engine, not the transport; with "aiohttp-sends" only for what the handlers send,
        # python-telegram-bot polling through its own httpx request (the baseline of the figures before 5 December).
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from bot.channels.telegram.http import AiohttpRequest

        builder = builder.request(AiohttpRequest())
        if transport == "aiohttp":
            builder = builder.get_updates_request(AiohttpRequest())
    app = builder.build()
    app.add_handler(CommandHandler("language", language))
    app.add_handler(CommandHandler("status", status))
    app.add_handler(CallbackQueryHandler(pressed))
    app.run_polling(poll_interval=0, timeout=25, drop_pending_updates=False)


if __name__ == "__main__":
    main()
