"""The commands every person has: /help, /status, /cancel, /language."""

from __future__ import annotations

from typing import Any

from bot.core.events import FlowEvent
from bot.core.flow import EVERYONE, Button, FlowContext, Reply, Step
from bot.core.todo import gather, todo_buttons
from bot.services import people


class HelpFlow:
    """Lists the commands of the person's roles, and only those."""

    name = "help"
    prefix = "hp"
    roles = EVERYONE

    async def start(self, ctx: FlowContext, args: str) -> Step:
        commands = [
            {"command": e.command, "description": ctx.t(f"menu/{e.command}")}
            for e in ctx.registry.menu(ctx.person.roles)
        ]
        return Step.done(Reply(ctx.t("core/help", person=ctx.person, commands=commands)))

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        return Step.done()


async def identity_section(ctx: FlowContext) -> str | None:
    channels = await ctx.once("channels", lambda ids: people.bound_channels(ctx.session, ids))
    return ctx.t("status/identity", person=ctx.person, channels=channels, roles=sorted(ctx.person.roles))


class StatusFlow:
    """The person's own obligations: a section from each capability that registered one."""

    name = "status"
    prefix = "st"
    roles = EVERYONE
    # Changes nothing another person's event reads (at most a paper of theirs past its deadline is closed): the engine
    # handles a batch's /status last and together (Engine._reports_last), each duty's rows read once for all of them.
    reports = True

    async def start(self, ctx: FlowContext, args: str) -> Step:
        parts = [text for section in ctx.registry.sections if (text := await section(ctx))]
        return Step.done(Reply("\n\n".join(parts), todo_buttons(ctx, await gather(ctx))))

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        return Step.done()


class CancelFlow:
    """Leaves whatever conversation the person is in."""

    name = "cancel"
    prefix = "cx"
    roles = EVERYONE

    async def start(self, ctx: FlowContext, args: str) -> Step:
        if ctx.current_flow is None:
            return Step.done(Reply(ctx.t("core/nothing_to_cancel")))
        # A flow may have something to add (a quiz paper keeps its clock running): `async def on_cancel(ctx)`.
        on_cancel = getattr(ctx.registry.flows.get(ctx.current_flow), "on_cancel", None)
        note = await on_cancel(ctx) if on_cancel is not None else None
        return Step.done(Reply(ctx.t("core/cancelled", note=note)))

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        return Step.done()


LOCALE_LABELS = {"zh": "中文", "en": "English"}


class LanguageFlow:
    """Offers Chinese and English for every later message. A choice is one tap and needs no conversation: the
    buttons are `LanguageAction`'s."""

    name = "language"
    prefix = "lg"
    roles = EVERYONE

    async def start(self, ctx: FlowContext, args: str) -> Step:
        buttons = [[Button(label, "set", (code,), LanguageAction.prefix) for code, label in LOCALE_LABELS.items()]]
        return Step.done(Reply(ctx.t("core/language_choose"), buttons))

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        return Step.done()


class LanguageAction:
    """A language button: stores the choice and answers in it, whenever the prompt was sent."""

    prefix = "lang"
    roles = EVERYONE

    async def on_press(self, ctx: FlowContext, action: str, args: tuple[str, ...]) -> Step:
        if action != "set" or not args or args[0] not in LOCALE_LABELS:
            return Step(None, toast=ctx.t("core/stale_button"))
        locale = args[0]
        await people.set_locale(ctx.session, ctx.person.id, locale)
        text = ctx.texts.render("core/language_set", locale, language=LOCALE_LABELS[locale])
        return Step.done(Reply(text, replace=True))
