"""/profile: a person checks what the roster says about them and asks the office to correct it."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bot.core.events import FlowEvent, Pick, Text
from bot.core.flow import EVERYONE, Button, FlowContext, Outgoing, Priority, Reply, Step
from bot.core.guarding import refuse_marked
from bot.services import audit, staff_queries

MAX_NOTE = 200


class ProfileState(StrEnum):
    REVIEWING = "reviewing"  # shown the record: correct or not?
    DESCRIBING = "describing"  # typing what is wrong
    CONFIRMING = "confirming"  # submit the correction or write it again


class ProfileFlow:
    name = "profile"
    prefix = "pf"
    roles = EVERYONE

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Shows the roster record and asks whether it is right."""
        return Step({"state": ProfileState.REVIEWING}, [self._review(ctx)])

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        match ProfileState(state["state"]), event:
            case ProfileState.REVIEWING, Pick("correct"):
                return self.confirm_correct(ctx)
            case ProfileState.REVIEWING, Pick("wrong"):
                return self.ask_note(ctx)
            case ProfileState.DESCRIBING, Text(text):
                return self.take_note(ctx, text)
            case ProfileState.CONFIRMING, Pick("submit"):
                return await self.submit(ctx, state)
            case ProfileState.CONFIRMING, Pick("rewrite"):
                return self.ask_note(ctx)
        return self.not_understood(ctx, state)

    def confirm_correct(self, ctx: FlowContext) -> Step:
        """Thanks the person; nothing to record."""
        return Step.done(Reply(ctx.t("profile/confirmed"), replace=True))

    def ask_note(self, ctx: FlowContext) -> Step:
        """Asks what should be corrected, in a sentence."""
        return Step({"state": ProfileState.DESCRIBING}, [Reply(ctx.t("profile/ask_note", limit=MAX_NOTE))])

    def take_note(self, ctx: FlowContext, text: str) -> Step:
        """Checks the note (length, no classified markings) and shows it back for confirmation."""
        note = text.strip()
        if not note or len(note) > MAX_NOTE:
            return Step({"state": ProfileState.DESCRIBING}, [Reply(ctx.t("profile/note_length", limit=MAX_NOTE))])
        if refusal := refuse_marked(ctx, note):
            return Step({"state": ProfileState.DESCRIBING}, [refusal])
        buttons = [[Button(ctx.t("profile/btn_submit"), "submit"), Button(ctx.t("profile/btn_rewrite"), "rewrite")]]
        return Step(
            {"state": ProfileState.CONFIRMING, "note": note},
            [Reply(ctx.t("profile/confirm_note", note=note), buttons)],
        )

    async def submit(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Records the request in the audit log and tells the secrecy office."""
        note = state["note"]
        await audit.record(
            ctx.session, ctx.now, ctx.person.id, "profile.correction", f"staff:{ctx.person.id}", note=note
        )
        officers = await staff_queries.officer_ids(ctx.session)
        notice = Reply(ctx.texts.render("profile/officer_notice", "zh", person=ctx.person, note=note))
        outgoing = [Outgoing(o, notice, Priority.REMINDER, "profile") for o in officers if o != ctx.person.id]
        return Step(None, [Reply(ctx.t("profile/submitted"), replace=True)], outgoing)

    def not_understood(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Repeats what is expected at this point."""
        current = ProfileState(state["state"])
        if current is ProfileState.DESCRIBING:
            return Step(state, [Reply(ctx.t("profile/ask_note", limit=MAX_NOTE))])
        if current is ProfileState.CONFIRMING:
            buttons = [[Button(ctx.t("profile/btn_submit"), "submit"), Button(ctx.t("profile/btn_rewrite"), "rewrite")]]
            return Step(state, [Reply(ctx.t("profile/confirm_note", note=state["note"]), buttons)])
        return Step(state, [self._review(ctx)])

    def _review(self, ctx: FlowContext) -> Reply:
        buttons = [[Button(ctx.t("profile/btn_correct"), "correct"), Button(ctx.t("profile/btn_wrong"), "wrong")]]
        return Reply(ctx.t("profile/review", person=ctx.person), buttons)
