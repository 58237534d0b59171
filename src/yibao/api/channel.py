"""The channel API (/channel/v1): certified apps activate the electronic certificate,
show its dynamic QR code, reset the PIN and deactivate it; file, claim and register the
payee; show the person's own data (api/channel_own.py) and authorise online payments.

Every request is signed by the channel: ``x-yb-signature`` = hex HMAC-SHA256 with the
channel's secret over ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nSHA256(BODY)``, with
``x-yb-channel``, ``x-yb-timestamp`` (unix seconds, +-300 s) and ``x-yb-nonce`` (never
reused). HMAC-SHA256 rather than SM2/SM3: see docs/ecert.md. Each route needs a scope
of the channel's credential; each write an ``Idempotency-Key``; each channel is
rate-limited at the edge (api/channel_gate.py, docs/channel-api.md).
"""

import hashlib
import hmac
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import Headers
from starlette.types import Scope as AsgiScope

from yibao.api import channel_designation, channel_gate, channel_own, channel_rx
from yibao.api.channel_gate import (
    VERIFIED,
    Caller,
    Runner,
    caller,
    post,
    unauthorized_reply,
)
from yibao.api.channel_own import PagedPinIn, PinIn
from yibao.api.claim_models import ApplicationIn, PayeeIn, bill_of, payee_of
from yibao.api.filing_fields import CommitmentFields
from yibao.api.gateway import UnixClock
from yibao.api.limits import Family, Throttle
from yibao.api.problems import problem
from yibao.api.rest import ChinaTime, DecimalRoute
from yibao.domain import filing as filing_rules
from yibao.domain import trust as trust_rules
from yibao.domain.channels import Rate, Scope, check_sandbox_person
from yibao.domain.errors import Refused
from yibao.domain.policy import Policy
from yibao.domain.text import unix_seconds
from yibao.services import applications, ecert, face, filing, trust
from yibao.services import claims as claim_records
from yibao.services.applications import Application
from yibao.services.context import Call, Clock, Ids
from yibao.store import channels, nonces
from yibao.store.db import Database
from yibao.store.demo import DEMO_CERTNOS

PREFIX = "/channel/v1"
WINDOW_SECONDS = 300
CHANNEL_ID_LENGTH_MAX = 30
NONCE_LENGTH_MAX = 64
SIGNATURE_LENGTH_MAX = 64  # hex SHA-256
RATE_DEFAULT = Rate(per_second=100.0, burst=1000)  # per channel and process


class RealPerson(BaseModel):
    """The channel's attestation of its real-person check (docs/security.md, "Channels"):
    how it checked (one of the listed methods), its own reference of the check (used
    once) and when (within the last 10 minutes). A bare ``true`` is refused (E-ECT-012)."""

    method: str = Field("", max_length=40, examples=["face_liveness"],
                        description=", ".join(trust_rules.METHODS))
    evidence_ref: str = Field("", max_length=64, examples=["FL-20260511-000123"])
    attested_at: ChinaTime | None = Field(None, examples=["2026-05-11T09:29:30+08:00"])


Attested = RealPerson | bool


def attestation_of(sent: Attested | None) -> trust_rules.Attestation | None:
    """The service's attestation; None (refused there) for a bare flag or nothing."""
    if not isinstance(sent, RealPerson):
        return None
    return trust_rules.Attestation(sent.method, sent.evidence_ref, sent.attested_at)


class Activation(BaseModel):
    insured_place: str = Field(min_length=6, max_length=6, examples=["110000"])
    name: str = Field(min_length=1, max_length=50, examples=["王芳"])
    certno: str = Field(min_length=1, max_length=50, examples=["110105198503150027"])
    pin: str = Field(min_length=1, max_length=20, examples=["135790"])
    real_person: Attested


class Relative(BaseModel):
    name: str = Field(min_length=1, max_length=50, examples=["李建国"])
    certno: str = Field(min_length=1, max_length=50, examples=["11010219600620003X"])
    relation: str = Field(examples=["parent"], description="parent, child, spouse, guardian, other")
    real_person: Attested | None = Field(None, description="the holder's attestation: needed "
                                         "to ask for a minor child")


class FamilyAcceptance(BaseModel):
    pin: str = Field(min_length=1, max_length=20)
    real_person: Attested | None = Field(None, description="the relative's own check: "
                                         "their consent")


class PayeeRegistration(PayeeIn):
    pin: str = Field(min_length=1, max_length=20)
    account_name: str = Field(min_length=1, max_length=50, examples=["王芳"],
                              description="the account holder's name: the person's own")
    real_person: Attested | None = None


class FaceIn(BaseModel):
    pin: str = Field(min_length=1, max_length=20)
    image: str = Field(min_length=1, max_length=1_400_000,
                       description="a JPEG or PNG of the holder's face, base64; not stored")
    real_person: Attested | None = Field(None, description="the channel's fresh real-person "
                                         "check of the holder (purpose face)")


class FilingIn(CommitmentFields):
    pin: str = Field(min_length=1, max_length=20)
    filing_type: str = Field(examples=["temporary"], description=(
        "resettled, resident, stationed (long-term); referral, emergency, temporary; "
        "trauma (the holder declares that no third party is liable for an injury)"))
    area: str = Field(min_length=6, max_length=6, examples=["110000"],
                      description="co-ordination area where the holder will be treated")
    end_date: date | None = Field(None, description="valid through this day (required for "
                                  "temporary types)")
    insutype: str = Field("", max_length=6, description="empty: the holder's only one")
    reason: str = Field("", max_length=500, examples=["visiting family in Beijing"])


class ClaimIn(ApplicationIn):
    pin: str = Field(min_length=1, max_length=20)
    # an app's claim may leave the payee out (it pays the registered one): wider than the
    # window's ApplicationIn, whose payee is required
    payee: PayeeIn | None = Field(
        None, description="the registered payee (the claim pays only to it; another "
        "account is refused, E-ECT-015)")


class FilingCancellation(BaseModel):
    pin: str = Field(min_length=1, max_length=20)
    reason: str = Field(min_length=1, max_length=500, examples=["trip cancelled"])


class PinReset(BaseModel):
    new_pin: str = Field(min_length=1, max_length=20)
    real_person: Attested


def signature(secret: str, method: str, path: str, timestamp: str, nonce: str,
              body: bytes) -> str:
    message = "\n".join([method, path, timestamp, nonce, hashlib.sha256(body).hexdigest()])
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Signing:
    """A channel request's signing headers, checked before a byte of its body is read."""

    channel: channels.Channel
    timestamp: str
    nonce: str
    sent: str


def signing_of(db: Database, headers: Mapping[str, str], now_unix: int) -> Signing | None:
    """The request's signing headers when they name a known channel, a timestamp within the
    window and a nonce of bounded length (None otherwise): every header is bounded before
    it is used, and the body is not needed."""
    channel_id, ts = headers.get("x-yb-channel", ""), headers.get("x-yb-timestamp", "")
    nonce, sent = headers.get("x-yb-nonce", ""), headers.get("x-yb-signature", "")
    sent_at = unix_seconds(ts)
    if sent_at is None or abs(sent_at - now_unix) > WINDOW_SECONDS:
        return None
    if not (0 < len(channel_id) <= CHANNEL_ID_LENGTH_MAX
            and 0 < len(nonce) <= NONCE_LENGTH_MAX and len(sent) <= SIGNATURE_LENGTH_MAX
            and channel_id.isprintable() and nonce.isprintable()):
        return None  # (a NUL would reach PostgreSQL, which refuses it in text)
    with db.read() as conn:
        found = channels.find(conn, channel_id)
    return None if found is None else Signing(found, ts, nonce, sent)


def signed(signing: Signing, method: str, path: str, body: bytes) -> bool:
    """Whether the signature covers this body (no database: before the rate limit)."""
    expected = signature(signing.channel.secret, method, path, signing.timestamp,
                         signing.nonce, body)
    return hmac.compare_digest(expected.encode(), signing.sent.encode())


def spend_nonce(db: Database, signing: Signing) -> bool:
    """Record the nonce, whatever becomes of the request (a reused nonce: False)."""
    try:
        with db.write() as conn:
            nonces.record(conn, f"ch:{signing.channel.channel_id}"[:30], signing.nonce,
                          int(signing.timestamp))
    except IntegrityError:
        return False
    return True


def throttle_of(rate: Rate | None = None) -> Throttle:
    """The channels' rate limit: ``rate``, else YIBAO_CHANNEL_RATE requests a second with
    bursts of YIBAO_CHANNEL_BURST (defaults: RATE_DEFAULT), per channel and process."""
    if rate is None:
        rate = Rate(float(os.environ.get("YIBAO_CHANNEL_RATE", RATE_DEFAULT.per_second)),
                    int(os.environ.get("YIBAO_CHANNEL_BURST", RATE_DEFAULT.burst)))
    return Throttle(rate)


def edge(db: Database, unix_clock: UnixClock = time.time,
         throttle: Throttle | None = None) -> Family:
    """The channel family of the edge (api/limits.py); ``unix_clock`` is the machine's
    clock the timestamps are checked against; ``throttle`` the channels' rate limit (a
    request over it: 429 E-CHN-004 with Retry-After, its nonce spent all the same)."""
    limit = throttle or throttle_of()

    def admit(headers: Headers) -> Signing | None:
        return signing_of(db, headers, int(unix_clock()))

    def verify(scope: AsgiScope, signing: Signing, body: bytes) -> bool | Response:
        if not (signed(signing, scope["method"], scope["path"], body)
                and spend_nonce(db, signing)):
            return False  # a forgery or a replay spends none of the channel's tokens
        wait = limit.wait(signing.channel.channel_id)
        if wait:
            return problem(Refused("E-CHN-004", f"retry after {wait} s"), scope["path"],
                           headers={"Retry-After": str(wait)}, retry_after=wait)
        scope.setdefault("state", {})[VERIFIED] = signing.channel
        return True

    return Family(PREFIX, unauthorized=unauthorized_reply, admit=admit, verify=verify,
                  json_limits=True)


def router(db: Database, clock: Clock, ids: Ids, policies: tuple[Policy, ...]) -> APIRouter:
    api = APIRouter(route_class=DecimalRoute, prefix=PREFIX, tags=["channel"],
                    responses=RESPONSES)
    runner = Runner(db, clock, ids, policies)
    _certificate_routes(api, runner)
    _family_routes(api, runner)
    _claim_routes(api, runner)
    channel_own.routes(api, runner)
    channel_designation.routes(api, runner)
    channel_rx.routes(api, runner)
    return api


RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "refused (real-name/real-person check, a PIN that is not 6 digits "
          "E-ECT-025, Idempotency-Key missing E-CHN-002, ...)"},
    401: {"description": "signature, timestamp or nonce not valid"},
    403: {"description": "wrong PIN, saying how many attempts are left (E-ECT-005); first "
          "period of a channel (E-ECT-013); "
          "the credential lacks the route's scope (E-CHN-001); a sandbox channel and a "
          "person outside the demo (E-CHN-005)"},
    404: {"description": "no active certificate in this channel (E-ECT-003)"},
    409: {"description": "already active in this channel (E-ECT-002); the "
          "Idempotency-Key was used for another request (E-CHN-003)"},
    423: {"description": "locked after five wrong PINs (E-ECT-004): by the fifth, which "
          "says so, and every request after it until the PIN is reset"},
    429: {"description": "over the channel's rate limit (E-CHN-004); the header "
          "Retry-After names the seconds to wait"},
}
Holder = Annotated[Caller, Depends(caller)]


def _certificate_routes(api: APIRouter, runner: Runner) -> None:
    run = runner.run
    act_scope = Scope.ACTIVATION

    @post(api, "/certificates", act_scope, status_code=201,
          summary="Activate the electronic certificate")
    def activate(body: Activation, who: Holder) -> Any:
        check_sandbox_person(who.channel.sandbox, body.certno, DEMO_CERTNOS)
        return run(lambda call: {"cert_id": ecert.activate(
            call, insured_place=body.insured_place, name=body.name, certno=body.certno,
            real_person=attestation_of(body.real_person), pin=body.pin)}, who)

    @post(api, "/certificates/{cert_id}/qr", act_scope,
          summary="A fresh dynamic QR code (needs the PIN)")
    def show_qr(cert_id: str, body: PinIn, who: Holder) -> Any:
        return run(lambda call: qr_reply(call, cert_id, body.pin, ""), who)

    @post(api, "/certificates/{cert_id}/pin", act_scope,
          summary="Reset the PIN (real-person check)")
    def reset_pin(cert_id: str, body: PinReset, who: Holder) -> Any:
        def act(call: Call) -> dict[str, str]:
            ecert.reset_pin(call, cert_id, real_person=attestation_of(body.real_person),
                            new_pin=body.new_pin)
            return {"cert_id": cert_id, "status": "active"}
        return run(act, who)

    @post(api, "/certificates/{cert_id}/face", act_scope,
          summary="Enrol or replace the holder's face for the pilot (PIN and a fresh "
                  "real-person check; the template is encrypted; the holder is told)")
    def enrol_face(cert_id: str, body: FaceIn, who: Holder) -> Any:
        def act(call: Call, psn_no: str) -> dict[str, str]:
            kind = trust.enrol_face(call, psn_no, cert_id, attestation_of(body.real_person),
                                    lambda: face.enroll(call, psn_no, body.image))
            return {"cert_id": cert_id, "face": kind.removeprefix("face_")}
        return runner.as_holder(who, cert_id, body.pin, act)

    @post(api, "/certificates/{cert_id}/deactivation", act_scope,
          summary="Deactivate in this channel")
    def deactivate(cert_id: str, who: Holder) -> Any:
        def act(call: Call) -> dict[str, str]:
            ecert.deactivate(call, cert_id)
            return {"cert_id": cert_id, "status": "deactivated"}
        return run(act, who)

    @post(api, "/certificates/{cert_id}/notifications/list", Scope.OWN_DATA, write=False,
          summary="A page of what happened to the holder in any channel (identity, "
                  "settlements, claims), newest first")
    def notifications(cert_id: str, body: PagedPinIn, who: Holder) -> Any:
        return runner.as_holder(who, cert_id, body.pin, lambda call, psn_no:
                                trust.notices_of(call.conn, psn_no, body.page),
                                settled=False)


def qr_reply(call: Call, cert_id: str, pin: str, binding_id: str) -> Any:
    code = ecert.issue_qr(call, cert_id, pin, binding_id)
    if isinstance(code, Refused):
        return code  # the committed refusal: wrong PIN, attempts left
    return {"qr_code": code, "expires_in": ecert.QR_SECONDS}


def _family_routes(api: APIRouter, runner: Runner) -> None:
    run, act_scope = runner.run, Scope.ACTIVATION

    @post(api, "/certificates/{cert_id}/family", act_scope, status_code=201,
          summary="Ask to show a relative's codes: pending until the relative accepts "
                  "(a minor child: until a clerk confirms the guardianship)")
    def bind(cert_id: str, body: Relative, who: Holder) -> Any:
        check_sandbox_person(who.channel.sandbox, body.certno, DEMO_CERTNOS)

        def act(call: Call) -> dict[str, str]:
            binding_id, status = ecert.bind_relative(
                call, cert_id, name=body.name, certno=body.certno,
                relation=body.relation, real_person=attestation_of(body.real_person))
            return {"binding_id": binding_id, "status": status}
        return run(act, who)

    @post(api, "/certificates/{cert_id}/family-requests/{binding_id}/acceptance", act_scope,
          summary="The relative accepts a request to show their codes (their own "
                  "certificate, PIN and real-person check)")
    def accept(cert_id: str, binding_id: str, body: FamilyAcceptance, who: Holder) -> Any:
        def act(call: Call, psn_no: str) -> dict[str, str]:
            ecert.accept_binding(call, psn_no, binding_id, attestation_of(body.real_person))
            return {"binding_id": binding_id, "status": ecert.ACTIVE}
        return runner.as_holder(who, cert_id, body.pin, act)

    @post(api, "/certificates/{cert_id}/family-requests/{binding_id}/withdrawal", act_scope,
          summary="The relative declines a request, or withdraws the consent given")
    def withdraw(cert_id: str, binding_id: str, body: PinIn, who: Holder) -> Any:
        def act(call: Call, psn_no: str) -> dict[str, str]:
            ecert.withdraw_binding(call, psn_no, binding_id)
            return {"binding_id": binding_id, "status": ecert.REMOVED}
        return runner.as_holder(who, cert_id, body.pin, act, settled=False)

    @post(api, "/certificates/{cert_id}/family/{binding_id}/qr", act_scope,
          summary="A fresh QR code of a bound relative (the holder's PIN)")
    def relative_qr(cert_id: str, binding_id: str, body: PinIn, who: Holder) -> Any:
        return run(lambda call: qr_reply(call, cert_id, body.pin, binding_id), who)

    @post(api, "/certificates/{cert_id}/family/{binding_id}/removal", act_scope,
          summary="Remove a family binding")
    def unbind(cert_id: str, binding_id: str, who: Holder) -> Any:
        def act(call: Call) -> dict[str, str]:
            ecert.unbind_relative(call, cert_id, binding_id)
            return {"binding_id": binding_id, "status": "removed"}
        return run(act, who)


def _claim_routes(api: APIRouter, runner: Runner) -> None:
    as_holder, claims_scope = runner.as_holder, Scope.CLAIMS

    @post(api, "/certificates/{cert_id}/payee", claims_scope, status_code=201,
          summary="Register or change the account app claims pay to (in the holder's "
                  "name, real-person check)")
    def payee(cert_id: str, body: PayeeRegistration, who: Holder) -> Any:
        def act(call: Call, psn_no: str) -> dict[str, Any]:
            return trust.register_payee(
                call, psn_no, bank_name=body.bank_name,
                bank_account=body.bank_account, account_name=body.account_name,
                sent=attestation_of(body.real_person))
        return as_holder(who, cert_id, body.pin, act)

    @post(api, "/certificates/{cert_id}/filings", claims_scope, status_code=201,
          summary="File for care away from the insured place (the holder chooses the "
                  "area and the validity)")
    def file(cert_id: str, body: FilingIn, who: Holder) -> Any:
        filing_rules.check_from_app(body.filing_type)

        def act(call: Call, psn_no: str) -> dict[str, str]:
            return {"trt_dcla_detl_sn": filing.register(call, filing.NewFiling(
                psn_no=psn_no, filing_type=body.filing_type, insutype=body.insutype,
                area=body.area, end_date=body.end_date, reason=body.reason,
                commitment=body.commitment())).value}
        return as_holder(who, cert_id, body.pin, act)

    @post(api, "/certificates/{cert_id}/filings/list", claims_scope, write=False,
          summary="A page of the holder's filings, newest first")
    def filings(cert_id: str, body: PagedPinIn, who: Holder) -> Any:
        def act(call: Call, psn_no: str) -> list[dict[str, Any]]:
            return [filing.describe(r, call.now)
                    for r in filing.of_person(call.conn, psn_no, body.page)]
        return as_holder(who, cert_id, body.pin, act)

    @post(api, "/certificates/{cert_id}/filings/{serial}/cancellation", claims_scope,
          summary="Cancel one of the holder's filings")
    def cancel_filing(cert_id: str, serial: str, body: FilingCancellation,
                      who: Holder) -> Any:
        def act(call: Call, psn_no: str) -> dict[str, str]:
            filing.cancel(call, serial, psn_no, body.reason, own_only=False)
            return {"trt_dcla_detl_sn": serial, "status": filing_rules.CANCELLED}
        return as_holder(who, cert_id, body.pin, act)

    @post(api, "/certificates/{cert_id}/claims", claims_scope, status_code=201,
          summary="Apply for manual reimbursement (details, or a bill the hospital "
                  "uploaded); the card and certificate keep working meanwhile")
    def claim(cert_id: str, body: ClaimIn, who: Holder) -> Any:
        def act(call: Call, psn_no: str) -> dict[str, str]:
            return {"claim_id": applications.apply(call, Application(
                psn_no=psn_no, reason=body.reason,
                payee=payee_of(body.payee) if body.payee else None,
                bill=bill_of(psn_no, body.bill) if body.bill else None,
                code=body.fixmedins_code, invono=body.invono,
                filing_sn=body.trt_dcla_detl_sn, mdtrt_id=body.mdtrt_id))}
        return as_holder(who, cert_id, body.pin, act)

    @post(api, "/certificates/{cert_id}/claims/list", claims_scope, write=False,
          summary="A page of the holder's claims, newest first, with every review step")
    def claims(cert_id: str, body: PagedPinIn, who: Holder) -> Any:
        return as_holder(who, cert_id, body.pin, lambda call, psn_no:
                         claim_records.of_person(call.conn, psn_no, body.page))


def install(app: FastAPI) -> None:
    """Answer an unauthorized channel request 401 (the router is included with the other
    REST routes, app.py; the signature's security schemes and the worked example are in
    the OpenAPI: api/docs.py, api/channel_docs.py)."""
    channel_gate.install(app)
