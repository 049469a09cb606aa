"""A department of people, each already bound on one channel: for end-to-end tests and benchmarks."""

from __future__ import annotations

from datetime import datetime

from bot.db.models import Binding, Department, Staff
from bot.db.session import Database


async def seed_bound_staff(
    db: Database,
    now: datetime,
    count: int,
    *,
    department: str,
    prefix: str,
    channel: str = "telegram",
) -> list[int]:
    """`count` general-level staff (employee ids prefix + number); person i is bound as user i on Telegram, or
    as WeCom account u00i (also their roster `wecom_userid`). Returns their staff ids in order."""
    ids = []
    async with db.transaction() as s:
        dept = Department(name=department, created_at=now)
        s.add(dept)
        await s.flush()
        for i in range(1, count + 1):
            user = f"u{i:03}" if channel == "wecom" else str(i)
            staff = Staff(
                employee_id=f"{prefix}{i:04}",
                name=f"人员{i}",
                department_id=dept.id,
                level="general",
                is_head=False,
                is_officer=False,
                active=True,
                locale="zh",
                wecom_userid=user if channel == "wecom" else None,
                created_at=now,
                updated_at=now,
            )
            s.add(staff)
            await s.flush()
            s.add(Binding(staff_id=staff.id, channel=channel, channel_user_id=user, chat_id=user, created_at=now))
            ids.append(staff.id)
    return ids
