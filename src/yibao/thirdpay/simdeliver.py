"""The simulators' notifications: each one kept with the outcome of every attempt and
retried on the platform's schedule until the merchant takes it. The platform decides
how an attempt is sent (signed headers and JSON for WeChat Pay, a signed form for
Alipay) and what its answer means; this module only keeps, schedules and replays.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

NOTIFY_TIMEOUT_S = 5.0
DELIVERIES_MAX = 10_000  # notifications kept for /_sim/notifications


@dataclass
class Delivery:
    """One notification: its body is fixed (each attempt may sign it afresh)."""

    id: str
    event_type: str
    out_trade_no: str
    url: str
    body: str
    tampered: str = ""  # "", "amount" or "signature"
    attempts: list[int | str] = field(default_factory=list)  # status, or what went wrong
    delivered: bool = False

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "event_type": self.event_type, "out_trade_no": self.out_trade_no,
                "url": self.url, "tampered": self.tampered, "attempts": self.attempts,
                "delivered": self.delivered}

    def again(self) -> Delivery:
        """The same notification as a new delivery (a replay)."""
        return Delivery(self.id, self.event_type, self.out_trade_no, self.url, self.body,
                        self.tampered)


# one attempt: the HTTP status when the merchant took it (2xx), else the status and what
# it answered, or the error
Attempt = Callable[[httpx.AsyncClient, Delivery], Awaitable[int | str]]


class Deliveries:
    """Notifications sent, retried after ``schedule`` (seconds, times ``scale``) until
    an attempt answers a 2xx status as an int."""

    def __init__(self, attempt: Attempt, schedule: Sequence[float], *, scale: float,
                 delay_s: float) -> None:
        self._attempt, self._schedule = attempt, tuple(schedule)
        self._scale, self._delay_s = scale, delay_s
        self.sent: list[Delivery] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, delivery: Delivery) -> Delivery:
        self.sent.append(delivery)
        del self.sent[:-DELIVERIES_MAX]
        task = asyncio.get_running_loop().create_task(self._deliver(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return delivery

    def replay_last(self) -> Delivery | None:
        """The last notification sent once more (a new delivery, the same body)."""
        return self.start(self.sent[-1].again()) if self.sent else None

    def views(self) -> list[dict[str, Any]]:
        return [delivery.view() for delivery in self.sent]

    async def _deliver(self, delivery: Delivery) -> None:
        await asyncio.sleep(self._delay_s)
        async with httpx.AsyncClient(timeout=NOTIFY_TIMEOUT_S) as client:
            for attempt in range(len(self._schedule) + 1):
                outcome = await self._attempt(client, delivery)
                delivery.attempts.append(outcome)
                if isinstance(outcome, int) and 200 <= outcome < 300:
                    delivery.delivered = True
                    return
                if attempt < len(self._schedule):
                    await asyncio.sleep(self._schedule[attempt] * self._scale)


class Controls:
    """The test controls (``/_sim/{action}``) both simulators answer alike: ``down``
    (answer 5xx until told otherwise), ``replay`` (the last notification once more) and
    ``notifications`` (every one kept, with its attempts)."""

    down: bool
    deliveries: Deliveries

    def shared_control(self, action: str, body: dict[str, Any]) -> tuple[bool, Any]:
        """(True, the answer) for a shared control, (False, None) for any other."""
        if action == "down":
            self.down = bool(body.get("down", True))
            return True, {"down": self.down}
        if action == "replay":
            again = self.deliveries.replay_last()
            return True, again.view() if again else {}
        if action == "notifications":
            return True, self.deliveries.views()
        return False, None
