"""WeCom (企业微信, also 政务微信 and private deployments): a self-built application's callbacks, API and cards."""

from bot.channels.wecom.channel import configure

__all__ = ["configure"]
