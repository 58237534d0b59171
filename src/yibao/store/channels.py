"""The ``channel`` aggregate: the certified apps, their signing secrets, the scopes their
credentials carry, whether they are a sandbox and where their webhooks go; and the
answers of their writes by Idempotency-Key (``channel_request``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, RowMapping, bindparam, insert, select, update

from yibao.domain.channels import Scope, scopes_of
from yibao.store.schema import channel, channel_request


@dataclass(frozen=True, slots=True)
class Channel:
    """A certified channel as the edge and the routes see it (its secret included)."""

    channel_id: str
    name: str
    secret: str
    scopes: frozenset[Scope]
    sandbox: bool
    webhook_url: str


_FIND = select(channel).where(channel.c.channel_id == bindparam("channel_id"))
_WEBHOOK = select(channel.c.webhook_url, channel.c.secret).where(
    channel.c.channel_id == bindparam("channel_id"))


def _record(row: RowMapping) -> Channel:
    return Channel(channel_id=row["channel_id"], name=row["name"], secret=row["secret"],
                   scopes=scopes_of(row["scopes"]), sandbox=bool(row["sandbox"]),
                   webhook_url=row["webhook_url"])


def find(conn: Connection, channel_id: str) -> Channel | None:
    """The channel (None: no such channel, or one without a secret: it cannot sign)."""
    row = conn.execute(_FIND, {"channel_id": channel_id}).mappings().first()
    return None if row is None or not row["secret"] else _record(row)


def secret(conn: Connection, channel_id: str) -> str | None:
    """The channel's signing secret (None: no such channel, or no secret)."""
    found = find(conn, channel_id)
    return None if found is None else found.secret


def webhook(conn: Connection, channel_id: str) -> tuple[str, str]:
    """Where the channel's webhooks go ("" for none) and the secret that signs them."""
    row = conn.execute(_WEBHOOK, {"channel_id": channel_id}).first()
    return ("", "") if row is None else (row.webhook_url, row.secret)


def set_webhook(conn: Connection, channel_id: str, url: str) -> bool:
    """Set the channel's webhook URL ("" stops them); False: no such channel."""
    done = conn.execute(update(channel).where(channel.c.channel_id == channel_id)
                        .values(webhook_url=url))
    return done.rowcount == 1


def listing(conn: Connection) -> list[Channel]:
    return [_record(r) for r in conn.execute(select(channel).order_by(channel.c.channel_id))
            .mappings()]


# ---------------------------------------------------------------- answers by key


@dataclass(frozen=True, slots=True)
class Answered:
    """What a write answered, kept under its Idempotency-Key."""

    request_hash: str
    status: int
    body: str


_ANSWERED = select(channel_request.c.request_hash, channel_request.c.status,
                   channel_request.c.body).where(
    channel_request.c.channel_id == bindparam("channel_id"),
    channel_request.c.idem_key == bindparam("idem_key"))
_RESERVE = insert(channel_request)
_ANSWER = update(channel_request).where(
    channel_request.c.channel_id == bindparam("owner"),
    channel_request.c.idem_key == bindparam("key")).values(
    status=bindparam("answered_status"), body=bindparam("answered_body"))


def answered(conn: Connection, channel_id: str, key: str) -> Answered | None:
    row = conn.execute(_ANSWERED, {"channel_id": channel_id, "idem_key": key}).first()
    return None if row is None else Answered(row.request_hash, row.status, row.body)


def reserve(conn: Connection, channel_id: str, key: str, request_hash: str,
            at: datetime) -> None:
    """The key's row, first in the write's transaction: a parallel twin waits on it and
    then fails its primary key (IntegrityError); the answer follows (``answer``)."""
    conn.execute(_RESERVE, dict(channel_id=channel_id, idem_key=key,
                                request_hash=request_hash, status=0, body="", created_at=at))


def answer(conn: Connection, channel_id: str, key: str, status: int, body: str) -> None:
    assert 200 <= status <= 499, status
    done = conn.execute(_ANSWER, {"owner": channel_id, "key": key, "answered_status": status,
                                  "answered_body": body})
    assert done.rowcount == 1, (channel_id, key)
