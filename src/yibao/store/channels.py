"""The ``channel`` aggregate: the certified apps and their signing secrets."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select

from yibao.store.schema import channel

_SECRET = select(channel.c.secret).where(channel.c.channel_id == bindparam("channel_id"))


def secret(conn: Connection, channel_id: str) -> str | None:
    """The channel's signing secret (None: no such channel, or no secret)."""
    found: str | None = conn.execute(_SECRET, {"channel_id": channel_id}).scalar_one_or_none()
    return found or None
