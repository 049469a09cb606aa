"""Secrecy levels (涉密等级) and roles, with the spellings the roster accepts."""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    CORE = "core"  # 核心涉密人员: may access 绝密
    IMPORTANT = "important"  # 重要涉密人员: may access 机密
    GENERAL = "general"  # 一般涉密人员: may access 秘密
    NONE = "none"  # 非涉密

    @property
    def is_classified(self) -> bool:
        return self is not Level.NONE


class Role(StrEnum):
    STAFF = "staff"  # 职工
    HEAD = "head"  # 科室/二级单位负责人
    OFFICER = "officer"  # 保密办/保密员
    # 分管领导: the member of the bureau's leadership in charge of an area, who approves what is published there
    # (网络保密管理制度 1. 凡向网站提供或发布信息，必须经过局领导保密审查批准).
    LEADER = "leader"
    # The bureau's leadership in the secrecy chain (教育保密工作制度 第七条: 校长为保密工作第一责任人，分管领导为主要
    # 责任人; 教育局保密工作制度篇1 一(一): 局保密工作领导小组负责统一领导和管理): told of leaks as the rules say.
    GROUP = "group"  # 保密工作领导小组成员
    CHIEF = "chief"  # 保密工作第一责任人 (the bureau's principal leader)


LEVEL_SPELLINGS: dict[str, Level] = {
    "核心": Level.CORE,
    "核心涉密": Level.CORE,
    "core": Level.CORE,
    "重要": Level.IMPORTANT,
    "重要涉密": Level.IMPORTANT,
    "important": Level.IMPORTANT,
    "一般": Level.GENERAL,
    "一般涉密": Level.GENERAL,
    "general": Level.GENERAL,
    "非涉密": Level.NONE,
    "none": Level.NONE,
}

ROLE_SPELLINGS: dict[str, Role] = {
    "staff": Role.STAFF,
    "职工": Role.STAFF,
    "head": Role.HEAD,
    "负责人": Role.HEAD,
    "officer": Role.OFFICER,
    "保密员": Role.OFFICER,
    "leader": Role.LEADER,
    "分管领导": Role.LEADER,
    "group": Role.GROUP,
    "领导小组成员": Role.GROUP,
    "领导小组": Role.GROUP,
    "chief": Role.CHIEF,
    "第一责任人": Role.CHIEF,
}


def parse_level(text: str) -> Level | None:
    return LEVEL_SPELLINGS.get(text.strip().lower())


def parse_roles(text: str) -> frozenset[Role] | None:
    """Roles separated by ';' (also '；' as typed on a Chinese keyboard); None if any is unknown.

    Every person is staff; a head or officer is staff too.
    """
    parts = [p.strip().lower() for p in text.replace("；", ";").split(";") if p.strip()]
    if not parts:
        return None
    roles = {ROLE_SPELLINGS.get(p) for p in parts}
    if None in roles:
        return None
    return frozenset({Role.STAFF, *(r for r in roles if r is not None)})
