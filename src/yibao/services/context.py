"""The service interface's call context: what every service call gets, from every entry
point (the national envelope, channels, operators, the CLI): the connection of its
transaction, who acts through which entry point, the moment (injected clock), the id
generator and the policies; and what a call did (``Effect``)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from yibao.domain.errors import Refused
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
    xtif_allowed: bool = True  # may sign with the x-tif-* gateway scheme (``token``)
    aksk_allowed: bool = False  # may sign with the AK/SK gateway scheme (a gateway key)
    # the kind a policy may open to everyone without designation ('' none:
    # domain/designation.OpenKind)
    open_kind: str = ""


SOURCE_INSTITUTION = "01"  # dcla_souc: 定点医药机构
SOURCE_AGENCY = "02"  # 中心经办系统 (operator window)
SOURCE_APP = "04"  # APP


def institution_of(row: Mapping[str, Any]) -> Institution:
    """An ``institution`` table row as the Institution every service call carries."""
    return Institution(
        code=row["fixmedins_code"], name=row["name"], kind=row["kind"], level=row["level"],
        admdvs=row["admdvs"], pool_area=row["pool_area"], token=row["token"],
        face_pilot=bool(row["face_pilot"]), networked=bool(row["networked"]),
        xtif_allowed=bool(row["xtif_allowed"]), aksk_allowed=bool(row["aksk_allowed"]),
        open_kind=str(row.get("open_kind") or ""),
    )


class Entry(StrEnum):
    """Through which entry point a call came in."""

    NATIONAL = "national"  # the national interface's envelope (/fsi/api), a HIS
    CHANNEL = "channel"  # a certified app (/channel/v1)
    OPERATOR = "operator"  # a bureau operator (/admin/v1)
    CLI = "cli"  # a yibao command run on the bureau's machine
    MOBILE_PAY = "mobile_pay"  # the mobile-payment centre's SM2/SM4 envelope (6201-6401)
    PLATFORM = "platform"  # the payment platform's notification of the person's payment
    CASHIER = "cashier"  # the cashier page the person opens from their app (/cashier)


class ActorKind(StrEnum):
    """Who acts: a designated institution, a certified channel, a bureau operator or the
    system itself (scheduled work, the outbox)."""

    INSTITUTION = "institution"
    CHANNEL = "channel"
    OPERATOR = "operator"
    SYSTEM = "system"


# dcla_souc, the national "declaration source" of what an actor records
_SOURCES = {ActorKind.INSTITUTION: SOURCE_INSTITUTION, ActorKind.OPERATOR: SOURCE_AGENCY,
            ActorKind.CHANNEL: SOURCE_APP, ActorKind.SYSTEM: SOURCE_AGENCY}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts. ``name`` is the institution's code, the channel's id, the operator's
    name or the system's; an operator also carries the roles held and the role this action
    is taken under; ``staff`` is the HIS operator (opter_name) a national message names."""

    kind: ActorKind
    name: str
    roles: frozenset[str] = frozenset()
    role: str = ""
    staff: str = ""

    @property
    def source(self) -> str:
        """The national dcla_souc of what this actor records (01, 02, 04)."""
        return _SOURCES[self.kind]


@dataclass(frozen=True, slots=True)
class Call:
    """One call of the service interface, whatever its entry point: the transaction's
    connection, who acts, through which entry point, at what moment (injected clock),
    the id generator and the policies in force. Frozen: services return what they did
    (``Effect``), they never write it into the call.

    ``site`` is the institution where the care is given (for a national message its
    caller; for a manual claim the bill's institution, see ``for_care``); ``ref`` names
    what the call answers and is stored as the origin of the rows it writes (a national
    msgid; a claim's id for the care a claim settles); ``infno`` is the national
    transaction number (national entry only); ``sign_no`` the sign-in (9001) a national
    message named and that was checked live: it stands for the terminal and operator
    (kept with an ecToken: supervision counts the devices a certificate was used on)."""

    conn: Connection
    actor: Actor
    entry: Entry
    now: datetime
    ids: Ids
    policies: tuple[Policy, ...]
    site: Institution | None = None
    ref: str = ""
    infno: str = ""
    sign_no: str = ""  # the institution's live sign-in the message named (9001), if any

    @property
    def institution(self) -> Institution:
        """The institution where the care is given; a call without one that reaches a
        service needing it is a programming error."""
        if self.site is None:
            raise AssertionError(f"{self.entry} call by {self.actor.name} has no institution")
        return self.site

    def for_care(self, site: Institution, *, at: datetime, ref: str) -> Call:
        """The same actor settling care given at ``site`` at ``at`` (a manual claim: the
        amounts are those of the care's own moment, as in real time)."""
        return replace(self, site=site, now=at, ref=ref)


class EffectKind(StrEnum):
    """What a national message changed, as stored with its answer and undone by 2601."""

    SETTLEMENT = "settlement"  # 2207 / 2304
    SETTLEMENT_CANCEL = "settlement-cancel"  # 2208 / 2305 / 2103
    PURCHASE = "purchase"  # 2102 (a pharmacy purchase: its visit, lines and settlement)
    VISIT = "visit"  # 2201 / 2401
    VISIT_CANCEL = "visit-cancel"  # 2202 / 2404
    FEES = "fees"  # 2204 / 2301
    FEES_CANCEL = "fees-cancel"  # 2205 / 2302
    DISCHARGE = "discharge"  # 2402
    DISCHARGE_CANCEL = "discharge-cancel"  # 2405
    FILING = "filing"  # 2501 / 2503 / 2507
    FILING_CANCEL = "filing-cancel"  # 2502 / 2504
    DESIGNATION = "designation"  # 2505
    DESIGNATION_CANCEL = "designation-cancel"  # 2506
    SIGNIN = "signin"  # 9001
    REVERSAL = "reversal"  # 2601
    CLAIM = "claim"  # 2901 (a fault-period bill becomes a reimbursement claim)
    FAULT = "fault"  # 2902
    FACE = "face"  # 9601
    SCAN = "scan"  # 1162
    FILE = "file"  # 9101, 3202 (a stored file)
    CLEARING_APPLICATION = "clearing-application"  # 3203
    # an online order's step (6201-6401, a payAuthNo): 2601 refuses it (E-REV-002); 6401
    # and 6203 are the standard's ways back
    ORDER = "order"
    # an electronic prescription's step (7101-7211): 2601 refuses it (E-REV-002); 7104 and
    # 7208 are the standard's ways back
    PRESCRIPTION = "prescription"


@dataclass(frozen=True, slots=True)
class Effect:
    """What a call did: its kind and the record it made or changed."""

    kind: EffectKind
    ref: str

    def stored(self) -> str:
        """The message table's ``effect`` text: ``kind:ref``."""
        return f"{self.kind}:{self.ref}"

    @classmethod
    def parse(cls, text: str) -> Effect | None:
        """The stored text back (None for a kind no 2601 knows, as ``blocked by 2601``)."""
        kind, _, ref = text.partition(":")
        try:
            return cls(EffectKind(kind), ref)
        except ValueError:
            return None


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    """A service's result with what it did: the effect a 2601 would reverse."""

    value: T
    effect: Effect


class KeptRefusal(Refused):
    """A refusal whose writes must outlive the rollback of the call (a failed face
    attempt's audit row): the entry point runs ``kept`` in a transaction of its own."""

    def __init__(self, refusal: Refused, *kept: Callable[[Connection], None]) -> None:
        super().__init__(refusal.code, refusal.detail)
        self.kept = kept
