"""The content guard at the engine's edge: every flow that takes free text passes it here first."""

from __future__ import annotations

import logging

from bot.core.flow import FlowContext, Reply
from bot.domain.guard import check_text

log = logging.getLogger("baomi.guard")


def refuse_marked(ctx: FlowContext, text: str) -> Reply | None:
    """None when the text may be kept; else the refusal to send back. A refused text is neither stored nor
    echoed nor logged, nor anything derived from it: the log line carries its category only. (A hash, even a
    keyed one, would let whoever holds the key confirm a guess, and a document number has few enough forms to
    guess them all.) Nor does the line name the person: the engine's line for the event does, unless the flow
    keeps its people anonymous."""
    verdict = check_text(text, extra_terms=ctx.policy.guard_extra_terms)
    if verdict.category is None:
        return None
    log.info("refused a text: %s", verdict.category.value)
    return Reply(ctx.t("guard/refused", category=verdict.category.value))
