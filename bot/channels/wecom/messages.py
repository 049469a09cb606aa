"""Decrypted WeCom callback XML, turned into plain frozen values the channel can dispatch on."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TypeAlias
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from bot.channels.wecom.crypto import MAX_CALLBACK_BYTES, MalformedPayload

KEY_CHARS = 128  # inbox_event.dedupe_key


@dataclass(frozen=True)
class InboundText:
    from_user: str
    create_time: int
    msg_id: str
    content: str
    agent_id: int


@dataclass(frozen=True)
class InboundMedia:
    """Any non-text message: image, voice, video, file, location, link, or a kind WeCom adds later.

    The bot reads only text, so the kind is all it needs to tell the user so.
    """

    from_user: str
    create_time: int
    msg_id: str
    kind: str
    agent_id: int | None = None


@dataclass(frozen=True)
class TemplateCardClick:
    from_user: str
    create_time: int
    event_key: str
    task_id: str
    response_code: str
    card_type: str
    agent_id: int | None = None


@dataclass(frozen=True)
class OtherEvent:
    """enter_agent, subscribe, menu clicks and the rest; event_key is empty when WeCom sends none."""

    from_user: str
    create_time: int
    event: str
    event_key: str = ""
    agent_id: int | None = None


@dataclass(frozen=True)
class ContactChange:
    """A change in the enterprise's directory (通讯录变更, change_contact): a member's userid renamed
    (update_user with NewUserID), a member disabled or gone (update_user with Status 2 or 5, delete_user)."""

    from_user: str  # "sys"
    create_time: int
    change_type: str
    user_id: str
    new_user_id: str = ""
    status: str = ""
    agent_id: int | None = None


Inbound: TypeAlias = InboundText | InboundMedia | TemplateCardClick | ContactChange | OtherEvent


def parse_inbound(xml_text: str) -> Inbound:
    if len(xml_text.encode("utf-8")) > MAX_CALLBACK_BYTES:
        raise MalformedPayload(f"inner message exceeds {MAX_CALLBACK_BYTES} bytes")
    try:
        root = fromstring(xml_text, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise MalformedPayload(f"inner message is not acceptable XML: {exc}") from exc
    if root.tag != "xml":
        raise MalformedPayload(f"unexpected root element <{root.tag}>")

    from_user = _required(root, "FromUserName")
    create_time = _integer(root, "CreateTime")
    msg_type = _required(root, "MsgType")
    if msg_type == "text":
        return InboundText(
            from_user=from_user,
            create_time=create_time,
            msg_id=_required(root, "MsgId"),
            content=_required(root, "Content"),
            agent_id=_integer(root, "AgentID"),
        )
    if msg_type != "event":
        return InboundMedia(
            from_user=from_user,
            create_time=create_time,
            msg_id=_required(root, "MsgId"),
            kind=msg_type,
            agent_id=_optional_integer(root, "AgentID"),
        )
    event = _required(root, "Event")
    if event == "template_card_event":
        return TemplateCardClick(
            from_user=from_user,
            create_time=create_time,
            event_key=_required(root, "EventKey"),
            task_id=_required(root, "TaskId"),
            response_code=_required(root, "ResponseCode"),
            card_type=_required(root, "CardType"),
            agent_id=_optional_integer(root, "AgentID"),
        )
    if event == "change_contact":
        return ContactChange(
            from_user=from_user,
            create_time=create_time,
            change_type=_required(root, "ChangeType"),
            user_id=_optional(root, "UserID"),
            new_user_id=_optional(root, "NewUserID"),
            status=_optional(root, "Status"),
            agent_id=_optional_integer(root, "AgentID"),
        )
    return OtherEvent(
        from_user=from_user,
        create_time=create_time,
        event=event,
        event_key=_optional(root, "EventKey"),
        agent_id=_optional_integer(root, "AgentID"),
    )


def dedupe_key(msg: Inbound) -> str:
    """A stable identity for WeCom's retries of the same callback, at most KEY_CHARS long.

    Events carry no MsgId, so they are identified by their own fields; JSON keeps those fields
    unambiguous whatever characters a key or task id contains, and a long one is kept as its hash.
    """
    match msg:
        case InboundText() | InboundMedia():
            return f"msg:{msg.msg_id}"[:KEY_CHARS]
        case TemplateCardClick():
            return _key("card", msg.from_user, msg.create_time, msg.task_id, msg.event_key)
        case ContactChange():
            return _key("contact", msg.create_time, msg.change_type, msg.user_id, msg.new_user_id, msg.status)
        case OtherEvent():
            return _key("event", msg.from_user, msg.create_time, msg.event, msg.event_key)


def _key(kind: str, *fields: str | int) -> str:
    key = f"{kind}:" + json.dumps(fields, ensure_ascii=False)
    if len(key) <= KEY_CHARS:
        return key
    return f"{kind}#" + hashlib.sha256(key.encode()).hexdigest()


def _optional(root: Element, tag: str) -> str:
    element = root.find(tag)
    if element is None or element.text is None:
        return ""
    return element.text


def _required(root: Element, tag: str) -> str:
    value = _optional(root, tag)
    if not value:
        raise MalformedPayload(f"inner message lacks <{tag}>")
    return value


def _optional_integer(root: Element, tag: str) -> int | None:
    return _integer(root, tag) if _optional(root, tag) else None


def _integer(root: Element, tag: str) -> int:
    value = _required(root, tag)
    try:
        return int(value)
    except ValueError as exc:
        raise MalformedPayload(f"<{tag}> is not an integer: {value!r}") from exc
