"""The calls each entry point builds (no database, no HTTP): who acts, through which entry
point, at what moment, and where what a call tells the person comes from."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Connection

from yibao.api.admin import operator_call
from yibao.api.channel_gate import channel_call
from yibao.cli.common import cli_call
from yibao.domain.roles import Operator
from yibao.services.context import SOURCE_AGENCY, SOURCE_APP, ActorKind, Entry, Ids
from yibao.services.operators import COMMAND_LINE
from yibao.services.trust import channel_of

NOW = datetime(2026, 5, 11, 9, 30)
CONN = cast(Connection, object())  # never used: building a call runs no statement
IDS = Ids(lambda: NOW)


def test_an_operator_acts_at_the_window_under_the_role_of_the_route() -> None:
    op = Operator("li.clerk", NOW, frozenset({"clerk", "reviewer"}), role="reviewer")
    call = operator_call(CONN, op, IDS, ())
    assert (call.actor.kind, call.actor.name, call.actor.role) == (
        ActorKind.OPERATOR, "li.clerk", "reviewer")
    assert call.actor.roles == {"clerk", "reviewer"}
    assert (call.entry, call.now, call.site, call.ref) == (Entry.OPERATOR, NOW, None, "")
    assert call.actor.source == SOURCE_AGENCY
    assert channel_of(call) == "window:li.clerk"


def test_a_channel_acts_as_itself() -> None:
    call = channel_call(CONN, "CH-BJAPP", NOW, IDS, ())
    assert (call.actor.kind, call.actor.name, call.entry) == (
        ActorKind.CHANNEL, "CH-BJAPP", Entry.CHANNEL)
    assert call.actor.source == SOURCE_APP
    assert channel_of(call) == "CH-BJAPP"


def test_the_window_a_notice_names_fits_the_column() -> None:
    op = Operator("o" * 60, NOW, role="clerk")
    assert channel_of(operator_call(CONN, op, IDS, ())) == ("window:" + "o" * 60)[:30]


def test_a_command_acts_now_by_its_clock_and_settles_nothing() -> None:
    call = cli_call(CONN, COMMAND_LINE, clock=lambda: NOW)
    assert (call.entry, call.now, call.policies) == (Entry.CLI, NOW, ())
    assert (call.actor.name, call.actor.role) == ("cli", "administrator")
    assert call.ids.new("X").startswith("X20260511093000")
