"""Webhooks: a channel is told when an order or a claim it carries changes status, at
least once, through the outbox (written in the change's transaction, delivered later,
the outbox id as ``Idempotency-Key``). A channel registers one URL (``yibao channels
webhook``); without one, nothing is queued.

Each delivery is signed with the channel's secret when it is sent::

    x-yb-channel:   the channel's id
    x-yb-timestamp: unix seconds of the sending
    x-yb-signature: hex HMAC-SHA256(secret, TIMESTAMP + "\\n" + BODY)

so a receiver checks the signature over the exact bytes it got and refuses an old
timestamp; a redelivery carries the same body and key and a fresh timestamp.
docs/channel-api.md, Webhooks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, RowMapping

from yibao.domain.errors import Refused
from yibao.services import audit, outbox
from yibao.services.context import Call
from yibao.store import channels

KIND_PREFIX = "wh."  # outbox.kind of a webhook: wh.<event>, e.g. wh.claim.status
EVENTS = ("order.status", "claim.status")
URL_LENGTH_MAX = 400


def notify(conn: Connection, *, channel_id: str, event: str, subject_id: str, psn_no: str,
           payload: dict[str, Any], now: datetime) -> None:
    """Queue ``event`` about ``subject_id`` (an order's payOrdId, a claim's id) for the
    channel's webhook, in the caller's transaction; nothing when the channel has none."""
    assert event in EVENTS, event
    if not channel_id:
        return
    url, _secret = channels.webhook(conn, channel_id)
    if not url:
        return
    outbox.enqueue(conn, key=f"W{secrets.token_hex(16)}", kind=KIND_PREFIX + event,
                   psn_no=psn_no, url=url, now=now, payload={
                       "event": event, "channel_id": channel_id, "subject_id": subject_id,
                       "data": payload})


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"\n" + body,
                    hashlib.sha256).hexdigest()


def signer(unix_clock: Callable[[], float] = time.time) -> outbox.Signer:
    """The outbox's signer of webhooks: the envelope, signed now with the secret of the
    channel the payload names."""

    def sign(conn: Connection, row: RowMapping) -> tuple[bytes, dict[str, str]]:
        channel_id = str(json.loads(row["payload"])["channel_id"])
        _url, secret = channels.webhook(conn, channel_id)
        body, timestamp = outbox.envelope(row), str(int(unix_clock()))
        return body, {"x-yb-channel": channel_id, "x-yb-timestamp": timestamp,
                      "x-yb-signature": signature(secret, timestamp, body)}

    return sign


def check_url(url: str) -> str:
    """A webhook URL an operator sets: http(s) with a host, at most 400 characters, or
    empty (none) (E-CHN-006 otherwise)."""
    if url == "":
        return url
    parts = urlsplit(url)
    if (len(url) > URL_LENGTH_MAX or parts.scheme not in ("http", "https")
            or not parts.hostname or not url.isprintable() or " " in url):
        raise Refused("E-CHN-006", "an http(s) URL with a host, at most "
                      f"{URL_LENGTH_MAX} characters")
    return url


def set_url(call: Call, channel_id: str, url: str) -> None:
    """Set (or with "" stop) the channel's webhooks; the operators' log names who."""
    if not channels.set_webhook(call.conn, channel_id, check_url(url)):
        raise Refused("E-CHN-007", channel_id)
    audit.action(call, "channel.webhook", channel_id, url=url)


outbox.register_signer(KIND_PREFIX, signer())
