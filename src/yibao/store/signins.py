"""The ``signin`` aggregate: an institution operator's sign-in (9001) and sign-out (9002)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update

from yibao.store.schema import signin

_OPEN = insert(signin)
_CLOSE = (
    update(signin)
    .where(signin.c.sign_no == bindparam("number"),
           signin.c.fixmedins_code == bindparam("code"), signin.c.signout_time.is_(None))
    .values(signout_time=bindparam("at"))
)
_FIND = select(signin.c.fixmedins_code, signin.c.signout_time).where(
    signin.c.sign_no == bindparam("sign_no"))


@dataclass(frozen=True, slots=True)
class SignIn:
    fixmedins_code: str
    signout_time: datetime | None

    def live_for(self, code: str) -> bool:
        """Whether this is a sign-in of the institution ``code`` not yet signed out."""
        return self.fixmedins_code == code and self.signout_time is None


@dataclass(frozen=True, slots=True)
class NewSignIn:
    sign_no: str
    fixmedins_code: str
    opter_no: str
    mac: str
    ip: str
    at: datetime


def open_(conn: Connection, new: NewSignIn) -> None:
    conn.execute(_OPEN, {
        "sign_no": new.sign_no, "fixmedins_code": new.fixmedins_code,
        "opter_no": new.opter_no, "mac": new.mac, "ip": new.ip, "sign_time": new.at,
    })


def close(conn: Connection, sign_no: str, code: str, at: datetime) -> bool:
    """Sign out a live sign-in of the institution; False when there is none."""
    return bool(conn.execute(_CLOSE, {"number": sign_no, "code": code, "at": at}).rowcount)


def find(conn: Connection, sign_no: str) -> SignIn | None:
    row = conn.execute(_FIND, {"sign_no": sign_no}).first()
    return None if row is None else SignIn(row.fixmedins_code, row.signout_time)
