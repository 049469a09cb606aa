"""The content guard at the engine's edge: every flow that takes free text passes it here first."""

from __future__ import annotations

import logging

from bot.core.flow import FlowContext, Reply
from bot.domain.guard import check_text, text_fingerprint

log = logging.getLogger("baomi.guard")


def refuse_marked(ctx: FlowContext, text: str) -> Reply | None:
    """None when the text may be kept; else the refusal to send back. A refused text is neither stored nor
    echoed nor logged: only its category and a hash are."""
    verdict = check_text(text, extra_terms=ctx.policy.guard_extra_terms)
    if verdict.category is None:
        return None
    log.info("refused a text from staff %s: %s %s", ctx.person.id, verdict.category.value, text_fingerprint(text))
    return Reply(ctx.t("guard/refused", category=verdict.category.value))
