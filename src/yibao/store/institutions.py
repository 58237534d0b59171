"""The ``institution`` aggregate: the designated institutions, read by code, and their
gateway credentials (the x-tif ``token``, the allowed schemes, the AK/SK pairs of
``gateway_key``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, RowMapping, and_, bindparam, delete, insert, select, update

from yibao.services.context import Institution, institution_of
from yibao.store.schema import gateway_key, institution

FLAGS = frozenset({"networked", "prepay", "face_pilot", "online"})  # the flags an operator sets
_BY_CODE = select(institution).where(institution.c.fixmedins_code == bindparam("code"))
_BY_ACCESS_KEY = (
    select(institution, gateway_key.c.access_key, gateway_key.c.secret_key,
           gateway_key.c.retires_at_unix)
    .join(gateway_key, gateway_key.c.fixmedins_code == institution.c.fixmedins_code)
    .where(gateway_key.c.access_key == bindparam("access_key")))
_LOCK = (select(institution.c.fixmedins_code)
         .where(institution.c.fixmedins_code == bindparam("code")).with_for_update())


def find(conn: Connection, code: str) -> Institution | None:
    """The institution of ``code``, or None when there is none."""
    row = conn.execute(_BY_CODE, {"code": code}).first()
    return None if row is None else institution_of(row._asdict())


def lock(conn: Connection, code: str) -> bool:
    """Lock the institution's row (orders its concurrent uploads, fault periods, ...);
    False when there is no such institution."""
    return conn.execute(_LOCK, {"code": code}).first() is not None


def names(conn: Connection, codes: Iterable[str]) -> dict[str, str]:
    """The names of the institutions among ``codes`` (unknown codes are left out)."""
    query = select(institution.c.fixmedins_code, institution.c.name).where(
        institution.c.fixmedins_code.in_(list(codes)))
    return {code: name for code, name in conn.execute(query).all()}


@dataclass(frozen=True, slots=True)
class Listed:
    """An institution as the operators see it: who it is and its flags (no credential)."""

    code: str
    name: str
    kind: str  # hospital | pharmacy
    level: int  # 1..3 hospital tier, 0 pharmacy
    admdvs: str
    pool_area: str
    networked: bool
    prepay: bool
    face_pilot: bool
    online: bool
    xtif_allowed: bool
    aksk_allowed: bool
    open_kind: str = ""  # domain/designation.OpenKind ('' : must be designated)


_c = institution.c
_LISTED = select(_c.fixmedins_code, _c.name, _c.kind, _c.level, _c.admdvs, _c.pool_area,
                 _c.networked, _c.prepay, _c.face_pilot, _c.online, _c.xtif_allowed,
                 _c.aksk_allowed, _c.open_kind)
_ALL_LISTED = _LISTED.order_by(_c.fixmedins_code)
_ONE_LISTED = _LISTED.where(_c.fixmedins_code == bindparam("code"))


def listing(conn: Connection) -> list[Listed]:
    """Every institution, by code."""
    return [_listed(row) for row in conn.execute(_ALL_LISTED).mappings()]


def listed(conn: Connection, code: str) -> Listed | None:
    """The institution of ``code`` as listed, or None when there is none."""
    row = conn.execute(_ONE_LISTED, {"code": code}).mappings().first()
    return None if row is None else _listed(row)


def _listed(row: RowMapping) -> Listed:
    return Listed(
        code=row["fixmedins_code"], name=row["name"], kind=row["kind"], level=row["level"],
        admdvs=row["admdvs"], pool_area=row["pool_area"], networked=bool(row["networked"]),
        prepay=bool(row["prepay"]), face_pilot=bool(row["face_pilot"]),
        online=bool(row["online"]), xtif_allowed=bool(row["xtif_allowed"]),
        aksk_allowed=bool(row["aksk_allowed"]), open_kind=row["open_kind"])


SEARCH_ROWS_MAX = 100


def search(conn: Connection, kind: str, *, name_part: str, code: str) -> list[RowMapping]:
    """Institutions of ``kind`` (hospital, pharmacy) whose name contains ``name_part``
    and whose code is ``code`` (each when set), by code; at most SEARCH_ROWS_MAX."""
    c = institution.c
    query = select(c.fixmedins_code, c.name, c.kind, c.level, c.uscc).where(c.kind == kind)
    if name_part:
        query = query.where(c.name.contains(name_part, autoescape=True))
    if code:
        query = query.where(c.fixmedins_code == code)
    return list(conn.execute(query.order_by(c.fixmedins_code).limit(SEARCH_ROWS_MAX)).mappings())


def set_flag(conn: Connection, code: str, flag: str, enabled: bool) -> bool:
    """Set one of ``FLAGS`` of the institution; False when there is no such institution."""
    if flag not in FLAGS:
        raise ValueError(f"not an institution flag: {flag}")
    changed = conn.execute(update(institution).where(
        institution.c.fixmedins_code == code).values({flag: enabled}))
    return changed.rowcount == 1


def set_open_kind(conn: Connection, code: str, kind: str) -> bool:
    """The institution's open-to-all kind; False when there is no such institution."""
    changed = conn.execute(update(institution).where(
        institution.c.fixmedins_code == code).values(open_kind=kind))
    return changed.rowcount == 1


@dataclass(frozen=True, slots=True)
class GatewayKey:
    """An AK/SK pair and its institution; ``retires_at_unix`` (unix seconds) is set on a
    rotated pair still in its grace period, None on the current one."""

    access_key: str
    secret_key: str
    retires_at_unix: int | None
    institution: Institution


def find_by_access_key(conn: Connection, access_key: str) -> GatewayKey | None:
    """The pair of ``access_key`` with its institution, or None when no pair has it."""
    row = conn.execute(_BY_ACCESS_KEY, {"access_key": access_key}).first()
    if row is None:
        return None
    values = row._asdict()
    return GatewayKey(values["access_key"], values["secret_key"], values["retires_at_unix"],
                      institution_of(values))


def access_key_taken(conn: Connection, access_key: str) -> bool:
    query = select(gateway_key.c.fixmedins_code).where(gateway_key.c.access_key == access_key)
    return conn.execute(query).first() is not None


def access_keys(conn: Connection, code: str) -> list[tuple[str, int | None]]:
    """The institution's access keys and when each retires (None: the current one),
    the current one first."""
    query = (select(gateway_key.c.access_key, gateway_key.c.retires_at_unix)
             .where(gateway_key.c.fixmedins_code == code)
             .order_by(gateway_key.c.retires_at_unix.is_not(None), gateway_key.c.access_key))
    return [(key, retires) for key, retires in conn.execute(query).all()]


def retire_keys(conn: Connection, code: str, *, retires_at_unix: int | None) -> None:
    """Before a new pair is added: forget the pairs already retiring (one previous pair
    at a time), and retire the current pair at ``retires_at_unix`` (None: at once)."""
    ours = gateway_key.c.fixmedins_code == code
    conn.execute(delete(gateway_key).where(ours, gateway_key.c.retires_at_unix.is_not(None)))
    current = and_(ours, gateway_key.c.retires_at_unix.is_(None))
    if retires_at_unix is None:
        conn.execute(delete(gateway_key).where(current))
    else:
        conn.execute(update(gateway_key).where(current)
                     .values(retires_at_unix=retires_at_unix))


def add_key(conn: Connection, code: str, access_key: str, secret_key: str,
            at: datetime) -> None:
    """The institution's new current pair (IntegrityError if the access key is taken or
    a current pair remains)."""
    conn.execute(insert(gateway_key).values(
        access_key=access_key, fixmedins_code=code, secret_key=secret_key, created_at=at))


def set_schemes(conn: Connection, code: str, *, xtif: bool, aksk: bool) -> bool:
    """Which gateway schemes the institution may sign with; False when there is no such
    institution."""
    changed = conn.execute(update(institution).where(
        institution.c.fixmedins_code == code).values(xtif_allowed=xtif, aksk_allowed=aksk))
    return changed.rowcount == 1


def set_token(conn: Connection, code: str, token: str) -> bool:
    """The institution's x-tif token; False when there is no such institution."""
    changed = conn.execute(update(institution).where(
        institution.c.fixmedins_code == code).values(token=token))
    return changed.rowcount == 1
