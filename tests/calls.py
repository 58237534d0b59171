"""Calls of the service interface that tests make directly, built by the entry points'
own builders: an operator at the window, the command line."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection

from yibao.api.admin import operator_call
from yibao.cli.common import cli_call
from yibao.domain.roles import Operator
from yibao.services.context import Actor, ActorKind, Call, Ids
from yibao.services.operators import COMMAND_LINE


def window_call(conn: Connection, clock: Callable[[], datetime], name: str = "window",
                role: str = "") -> Call:
    """An operator ``name`` at the window (/admin/v1), now by ``clock``."""
    return operator_call(conn, Operator(name, clock(), role=role), Ids(clock), ())


def command_call(conn: Connection, clock: Callable[[], datetime], operator: str = "") -> Call:
    """A command run on the server: by the ``--operator`` named, or the command line
    administering operators (``yibao operators``)."""
    actor = Actor(ActorKind.OPERATOR, operator, role="cli") if operator else COMMAND_LINE
    return cli_call(conn, actor, clock=clock)
