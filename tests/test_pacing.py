"""The outbox's window (bot/outbox.py, `Window`): what Telegram's strict limit allows, counted from each send's start
until a second after its answer, the starts spread evenly; and when a chat may be written to again. Pure arithmetic
on given instants: no clock, no sleep."""

from __future__ import annotations

import pytest

from bot.channels.telegram.channel import limits
from bot.core.flow import Priority
from bot.outbox import EXCHANGE, Window, _ChannelState

T = 1000.0  # a monotonic instant
SLOT = 1 / 30


def test_starts_are_spread_a_slot_apart_after_a_first_burst() -> None:
    window = Window(30, burst=4)
    for _ in range(4):
        assert window.free_at(T) == T  # nothing sent for a while: the first four at once
        window.start(T)
    assert window.free_at(T) == pytest.approx(T + SLOT)
    assert window.free_at(T, 3) == pytest.approx(T + 3 * SLOT)  # the third more after two further slots


def test_a_late_loop_makes_up_the_slots_it_missed_but_no_more() -> None:
    window = Window(30, burst=4)
    for _ in range(4):
        window.start(T)
    window.start(T + SLOT + 0.010)  # the event loop came 10 ms late for the next slot
    assert window.free_at(T + SLOT + 0.011) == pytest.approx(T + 2 * SLOT)  # the one after keeps its slot
    busy = T + 2 * SLOT + 0.100  # then it was busy for 100 ms: three slots missed
    assert window.free_at(busy, 3) == busy  # made up at once
    assert window.free_at(busy, 4) == pytest.approx(T + 5 * SLOT)  # the next one keeps its slot again
    later = T + 5.0  # after a pause, no more than `burst` at once
    assert window.free_at(later, 4) == later
    assert window.free_at(later, 5) == pytest.approx(later + SLOT)


def test_a_place_is_free_a_second_after_its_answer_not_its_start() -> None:
    window = Window(30, burst=1)
    for n in range(30):
        window.start(T + n * SLOT)
    end = T + 30 * SLOT
    assert window.free_at(end) == end + 1.0  # all in flight: not before a second from now
    for n in range(30):
        window.answer(T + n * SLOT + 0.005)  # each answered 5 ms after it started
    assert window.free_at(end) == pytest.approx(T + 1.005)  # the first answer's second
    assert window.free_at(end, 2) == pytest.approx(T + SLOT + 1.005)
    window.start(T + 1.005)
    assert window.free_at(T + 1.005) == pytest.approx(T + SLOT + 1.005)  # the place of the second answer


def test_no_limit_no_wait() -> None:
    window = Window(float("inf"))
    for _ in range(100):
        window.start(T)
    assert window.free_at(T, 50) == T


def test_a_reminder_waits_out_the_exchange_a_reply_only_the_chat_s_second() -> None:
    state = _ChannelState.of(limits(30))
    state.last_chat_send["7"] = state.last_reply["7"] = T
    assert state.ready_at("7", 1.0, Priority.INTERACTIVE) == T + 1.0
    assert state.ready_at("7", 1.0, Priority.ALERT) == T + 1.0
    assert state.ready_at("7", 1.0, Priority.REMINDER) == T + EXCHANGE
    assert state.ready_at("7", 1.0, Priority.BROADCAST) == T + EXCHANGE
    assert state.ready_at("8", 1.0, Priority.BROADCAST) < T  # another chat: nothing to wait for
    assert state.ready_at("7", 0.0, Priority.BROADCAST) == T  # no spacing in a chat (limits lifted): no exchange


def test_what_is_kept_per_chat_is_forgotten_once_it_holds_nothing_back() -> None:
    state = _ChannelState.of(limits(30))
    for n in range(1000):  # chats written to long ago
        state.last_chat_send[str(n)] = state.last_reply[str(n)] = T - 60
        state.held[str(n)] = T - 30
    state.last_chat_send["recent"] = state.last_reply["recent"] = T - 0.5
    state.held["recent"] = T + 3
    before = {p: state.ready_at("recent", 1.0, p) for p in Priority}
    state.forget(T, 1.0)
    assert state.last_chat_send.keys() == state.last_reply.keys() == state.held.keys() == {"recent"}
    assert {p: state.ready_at("recent", 1.0, p) for p in Priority} == before
