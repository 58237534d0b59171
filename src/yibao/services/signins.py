"""Operator sign-in and sign-out at an institution (9001/9002): the sign_no a 2xxx
message must carry where the transaction table asks for it."""

from __future__ import annotations

from yibao.domain.errors import Refused
from yibao.services.context import Call, Done, Effect, EffectKind
from yibao.store import signins


def sign_in(call: Call, *, opter_no: str, mac: str, ip: str) -> Done[str]:
    """Open a sign-in of the calling institution's operator; its sign_no."""
    sign_no = call.ids.new("SN")
    signins.open_(call.conn, signins.NewSignIn(
        sign_no=sign_no, fixmedins_code=call.institution.code, opter_no=opter_no,
        mac=mac, ip=ip, at=call.now))
    return Done(sign_no, Effect(EffectKind.SIGNIN, sign_no))


def sign_out(call: Call, sign_no: str) -> None:
    if not signins.close(call.conn, sign_no, call.institution.code, call.now):
        raise Refused("E-AUTH-007", f"sign_no {sign_no} is not signed in")
