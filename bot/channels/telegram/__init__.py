"""Telegram: python-telegram-bot over aiohttp, long polling or a webhook."""

from bot.channels.telegram.channel import configure

__all__ = ["configure"]
