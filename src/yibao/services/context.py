"""What every service call gets: the connection of its transaction, the calling
institution, the message it answers, the clock and the id generator (injected)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection

from yibao.domain.policy import Policy

CHINA = timezone(timedelta(hours=8), "CST")

Clock = Callable[[], datetime]


def china_now() -> datetime:
    """Now in China Standard Time, naive (all stored times are CST)."""
    return in_china(datetime.now(UTC))


def in_china(moment: datetime) -> datetime:
    """The naive China Standard Time of ``moment``: an aware time is converted, a naive
    one is already CST. OverflowError when the CST time falls outside the years 1..9999."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=None)
    return moment.astimezone(CHINA).replace(tzinfo=None)


class Ids:
    """Identifiers: a prefix, the CST time to the second and random hex (unique, 30 chars max)."""

    def __init__(self, clock: Clock, *, random_hex: Callable[[int], str] = secrets.token_hex):
        self.clock = clock
        self.random_hex = random_hex

    def new(self, prefix: str) -> str:
        assert 1 <= len(prefix) <= 4, prefix
        return f"{prefix}{self.clock():%Y%m%d%H%M%S}{self.random_hex(6)}"

    def serial(self, digits: int) -> str:
        return str(int(self.random_hex(8), 16) % 10**digits).zfill(digits)


@dataclass(frozen=True, slots=True)
class Institution:
    code: str
    name: str
    kind: str
    level: int
    admdvs: str
    pool_area: str
    token: str
    face_pilot: bool = False
    networked: bool = False  # for inter-provincial (away-from-home) direct settlement


SOURCE_INSTITUTION = "01"  # dcla_souc: 定点医药机构
SOURCE_AGENCY = "02"  # 中心经办系统 (operator window)
SOURCE_APP = "04"  # APP


@dataclass(frozen=True, slots=True)
class Caller:
    """Who acts outside the hospital interface's envelope: an institution, an operator or
    a channel (app), with ``source`` as the national dcla_souc (01, 02, 04)."""

    source: str
    name: str
    now: datetime
    msgid: str = ""


def institution_of(row: Mapping[str, Any]) -> Institution:
    """An ``institution`` table row as the Institution every service call carries."""
    return Institution(
        code=row["fixmedins_code"], name=row["name"], kind=row["kind"], level=row["level"],
        admdvs=row["admdvs"], pool_area=row["pool_area"], token=row["token"],
        face_pilot=bool(row["face_pilot"]), networked=bool(row["networked"]),
    )


@dataclass(slots=True)
class Ctx:
    """One message being served."""

    conn: Connection
    institution: Institution
    msgid: str
    infno: str
    operator: str
    now: datetime
    ids: Ids
    policies: tuple[Policy, ...]
    effect: str | None = field(default=None)  # what a state change did, for 2601
    # writes that must outlive a refusal (a failed face attempt's audit row): the entry
    # point runs them in a transaction of their own after the message's rollback
    kept_on_refusal: list[Callable[[Connection], None]] = field(default_factory=list)

    @property
    def caller(self) -> Caller:
        """The calling institution as a Caller (filing, claims, clearing services)."""
        return Caller(SOURCE_INSTITUTION, self.institution.code, self.now, self.msgid)
