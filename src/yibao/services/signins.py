"""Operator sign-in and sign-out at an institution (9001/9002): the sign_no a 2xxx
message must carry where the transaction table asks for it."""

from __future__ import annotations

from yibao.domain.errors import Refused
from yibao.services.context import Ctx
from yibao.store import signins


def sign_in(ctx: Ctx, *, opter_no: str, mac: str | None, ip: str | None) -> str:
    """Open a sign-in of the calling institution's operator; its sign_no."""
    sign_no = ctx.ids.new("SN")
    signins.open_(ctx.conn, signins.NewSignIn(
        sign_no=sign_no, fixmedins_code=ctx.institution.code, opter_no=opter_no, mac=mac,
        ip=ip, at=ctx.now))
    ctx.effect = f"signin:{sign_no}"
    return sign_no


def sign_out(ctx: Ctx, sign_no: str) -> None:
    if not signins.close(ctx.conn, sign_no, ctx.institution.code, ctx.now):
        raise Refused("E-AUTH-007", f"sign_no {sign_no} is not signed in")
