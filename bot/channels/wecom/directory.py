"""What WeCom tells the application about its members, applied to their bindings as the callback arrives:

- `subscribe` (added to the application's visible range) and `enter_agent` (the member opened the application):
  the member is reachable again, whatever refused messages to them before;
- `unsubscribe` (removed from the visible range): unreachable, nothing more is queued for them;
- `change_contact`: a userid renamed (update_user with NewUserID) moves the binding, the roster's account and
  the messages still waiting to the new id; a member disabled (Status 2), gone from the enterprise (Status 5)
  or deleted (delete_user) has the binding deactivated (marked unreachable), with an audit entry.

WeCom treats userids case-insensitively (it reports them in lower case), so they are compared so.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.wecom.messages import ContactChange, OtherEvent
from bot.db.models import Binding, OutboxMessage, Staff
from bot.services import audit

log = logging.getLogger("baomi.wecom")

REACHABLE_AGAIN = frozenset({"subscribe", "enter_agent"})
GONE_STATUSES = frozenset({"2", "5"})  # 已禁用, 退出企业


async def apply_member_event(session: AsyncSession, channel: str, event: OtherEvent, now: datetime) -> None:
    if event.event in REACHABLE_AGAIN:
        await _set_unreachable(session, channel, event.from_user, None)
    elif event.event == "unsubscribe":
        await _set_unreachable(session, channel, event.from_user, now)


async def apply_contact_change(session: AsyncSession, channel: str, change: ContactChange, now: datetime) -> None:
    binding = await _binding(session, channel, change.user_id)
    if change.change_type == "update_user" and change.new_user_id and change.new_user_id != change.user_id:
        await _rename(session, channel, change.user_id, change.new_user_id, binding, now)
    elif change.change_type == "delete_user" or (
        change.change_type == "update_user" and change.status in GONE_STATUSES
    ):
        if binding is not None and binding.unreachable_at is None:
            binding.unreachable_at = now
            await audit.record(
                session,
                now,
                None,
                "binding.deactivate",
                f"staff:{binding.staff_id}",
                channel=channel,
                reason=change.change_type if change.change_type == "delete_user" else f"status {change.status}",
            )
            log.info("WeCom member of staff %s %s: binding deactivated", binding.staff_id, change.change_type)


async def _rename(
    session: AsyncSession, channel: str, old: str, new: str, binding: Binding | None, now: datetime
) -> None:
    """The member keeps their conversation, their records and the messages waiting for them, under the new id."""
    staff = await session.scalar(select(Staff).where(func.lower(Staff.wecom_userid) == old.lower()))
    taken = await session.scalar(select(Staff.id).where(func.lower(Staff.wecom_userid) == new.lower()))
    if staff is not None and taken is None:
        staff.wecom_userid = new
    if binding is None:
        return
    previous = binding.chat_id
    binding.channel_user_id, binding.chat_id = new, new
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.channel == channel, OutboxMessage.chat_id == previous, OutboxMessage.status == "pending")
        .values(chat_id=new)
        .execution_options(synchronize_session=False)
    )
    await audit.record(session, now, None, "binding.rename", f"staff:{binding.staff_id}", channel=channel)
    log.info("WeCom userid of staff %s renamed; binding and pending messages moved", binding.staff_id)


async def _binding(session: AsyncSession, channel: str, user: str) -> Binding | None:
    if not user:
        return None
    return await session.scalar(
        select(Binding).where(Binding.channel == channel, func.lower(Binding.channel_user_id) == user.lower())
    )


async def _set_unreachable(session: AsyncSession, channel: str, user: str, at: datetime | None) -> None:
    await session.execute(
        update(Binding)
        .where(Binding.channel == channel, func.lower(Binding.channel_user_id) == user.lower())
        .values(unreachable_at=at)
        .execution_options(synchronize_session=False)
    )
