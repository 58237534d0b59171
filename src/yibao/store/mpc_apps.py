"""The ``mpc_app`` aggregate: the institutions' credentials at the mobile-payment
centre's envelope (appId, appSecret, the institution's SM2 public key, callback URL)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select

from yibao.domain.mpc import App
from yibao.store.schema import mpc_app

_BY_APP_ID = select(mpc_app).where(mpc_app.c.app_id == bindparam("app_id"))
_OF_INSTITUTION = (select(mpc_app).where(mpc_app.c.fixmedins_code == bindparam("code"))
                   .order_by(mpc_app.c.created_at, mpc_app.c.app_id))
_ADD = insert(mpc_app)


def _app(row: Mapping[str, Any]) -> App:
    return App(app_id=row["app_id"], app_secret=row["app_secret"],
               public_key=row["public_key"], fixmedins_code=row["fixmedins_code"],
               callback_url=row["callback_url"])


def find(conn: Connection, app_id: str) -> App | None:
    """The app of ``app_id``, or None when there is none."""
    row = conn.execute(_BY_APP_ID, {"app_id": app_id}).first()
    return None if row is None else _app(row._asdict())


def of_institution(conn: Connection, code: str) -> list[App]:
    """The apps of the institution ``code``, oldest first."""
    return [_app(row._asdict()) for row in conn.execute(_OF_INSTITUTION, {"code": code})]


def add(conn: Connection, app: App, *, at: datetime) -> None:
    """Register ``app`` (IntegrityError when its appId is taken)."""
    conn.execute(_ADD, {"app_id": app.app_id, "fixmedins_code": app.fixmedins_code,
                        "app_secret": app.app_secret, "public_key": app.public_key,
                        "callback_url": app.callback_url, "created_at": at})
