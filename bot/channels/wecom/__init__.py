"""WeCom (企业微信) self-built application channel: callback cryptography and inbound message parsing."""
