"""The person's own data through a certified channel (scope own_data): the personal
account and its movements, the settlements with their breakdown explained, the online
orders (the notices are api/channel.py's). Each is a POST because the holder's PIN
travels in the body; none changes anything but a wrong PIN's count, so none needs an
Idempotency-Key. Refused in a certificate's first period (E-ECT-013), as claims are:
the person's history is theirs, not a newly activated channel's.

And the person's authorisation of an online order's payment (scope payment): a write,
with its Idempotency-Key, proved by the PIN or, for an order of an institution in the face
pilot, by a live capture of the face enrolled in the app."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, model_validator

from yibao.api.channel_gate import Caller, Runner, caller, post
from yibao.api.pages import PageIn
from yibao.domain.channels import Scope
from yibao.domain.orders import PAY_AUTH_LIFETIME
from yibao.services import face, online, own_data
from yibao.services.context import Call, Done

Holder = Annotated[Caller, Depends(caller)]
# base64 of the 1 MiB a face photo may be (services/face.py)
FACE_PHOTO_CHARS_MAX = 4 * (face.IMAGE_BYTES_MAX + 2) // 3


class PinIn(BaseModel):
    pin: str = Field(min_length=1, max_length=20, examples=["135790"])


class PagedPinIn(PinIn, PageIn):
    """The PIN and which page of a list (limit, offset)."""


class LiveFace(BaseModel):
    """A live capture of the holder's face, taken by the app."""

    photo: str = Field(min_length=1, max_length=FACE_PHOTO_CHARS_MAX,
                       description="base64 of a JPEG or PNG of one face, at most 1 MiB")
    liveness: str = Field(max_length=2, examples=["1"],
                          description="the app's liveness check: 1 passed (anything else "
                                      "is refused, E-FACE-005)")


class PaymentAuthorisation(BaseModel):
    """The order, and how the holder proves it is them: the PIN, or (an order of an
    institution in the face pilot) their face, compared with the one enrolled."""

    pay_ord_id: str = Field(min_length=1, max_length=40, examples=["PO20260511093000a1b2c3"],
                            description="the payOrdId of the person's online order (6201)")
    pin: str | None = Field(None, min_length=1, max_length=20, examples=["135790"])
    face: LiveFace | None = None

    @model_validator(mode="after")
    def one_proof(self) -> PaymentAuthorisation:
        if (self.pin is None) == (self.face is None):
            raise ValueError("give either pin or face")
        return self


def routes(api: APIRouter, runner: Runner) -> None:
    own = Scope.OWN_DATA

    @post(api, "/certificates/{cert_id}/payments/authorisation", Scope.PAYMENT,
          status_code=201, summary="The holder authorises payment of one of their unpaid "
          "online orders: a payAuthNo for the institution (single use, minutes)")
    def authorise(cert_id: str, body: PaymentAuthorisation, who: Holder) -> Any:
        def issued(done: Done[str]) -> dict[str, Any]:
            return {"payAuthNo": done.value,
                    "expires_in": int(PAY_AUTH_LIFETIME.total_seconds())}
        if body.face is not None:
            live = body.face
            return runner.run(lambda call: issued(online.authorise_by_face(
                call, cert_id, body.pay_ord_id, live.photo, live.liveness)), who)
        return runner.as_holder(who, cert_id, body.pin or "", lambda call, psn_no: issued(
            online.authorise(call, psn_no, body.pay_ord_id)))

    @post(api, "/certificates/{cert_id}/account", own, write=False,
          summary="The holder's personal-account balance and a page of its movements "
                  "(each settlement's or cancellation's amount and the balance it left), "
                  "newest first")
    def account(cert_id: str, body: PagedPinIn, who: Holder) -> Any:
        return runner.as_holder(who, cert_id, body.pin, lambda call, psn_no:
                                own_data.account_of(call.conn, psn_no, body.page))

    @post(api, "/certificates/{cert_id}/settlements/list", own, write=False,
          summary="A page of the holder's settlements, newest first, with the breakdown "
                  "explained: funds by type, account, cash, the deductible used, the band "
                  "computation and ratio; cancellations shown as such")
    def settlements(cert_id: str, body: PagedPinIn, who: Holder) -> Any:
        return runner.as_holder(who, cert_id, body.pin, lambda call, psn_no:
                                own_data.settlements_of(call.conn, psn_no, body.page))

    @post(api, "/certificates/{cert_id}/orders/list", own, write=False,
          summary="A page of the holder's online orders, newest first: status and ordStas, "
                  "amounts, created, expires and settled times")
    def orders(cert_id: str, body: PagedPinIn, who: Holder) -> Any:
        def act(call: Call, psn_no: str) -> list[dict[str, Any]]:
            return own_data.orders_of(call.conn, psn_no, body.page)
        return runner.as_holder(who, cert_id, body.pin, act)
