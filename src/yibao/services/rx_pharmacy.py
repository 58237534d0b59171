"""The electronic-prescription centre, filling side (7201-7210) and the person's part in a
channel: the person lets one pharmacy have a prescription (7201 with the electronic
certificate, 7203 with the prescription's QR code, 7202 online through a channel); that
pharmacy downloads (7204), verifies (7205), reviews (7206) and dispenses (7207, undone by
7208); an online order is dispatched (7209) and received (7210). The rules are
domain/prescriptions.py's; the prescribing side is services/prescriptions.py."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping

from yibao.domain import prescriptions as rules
from yibao.domain.errors import Refused
from yibao.domain.prescriptions import Action, RxStatus
from yibao.services import ecert, persons, rx_purchase
from yibao.services import prescriptions as rx
from yibao.services.context import Call, Done, Effect, EffectKind
from yibao.store import prescriptions as store

OPEN = (RxStatus.UPLOADED.value,)  # what a person may still hand to a pharmacy


@dataclass(frozen=True, slots=True)
class Access:
    """A pharmacy's access to one prescription: authRxno, the epcToken (shown once) and
    when it ends."""

    auth_rxno: str
    epc_token: str
    expires_at: datetime
    row: RowMapping


def _grant(call: Call, row: RowMapping, via: str, batch: str) -> Access:
    rx.moved(call, row, Action.AUTHORISE)  # refuses revoked, filled, expired
    token = secrets.token_urlsafe(32)
    auth_rxno = call.ids.new("RA")
    expires = call.now + rules.EPC_TOKEN_LIFETIME
    store.add_auth(call.conn, {
        "auth_rxno": auth_rxno, "hi_rxno": row["hi_rxno"],
        "fixmedins_code": call.institution.code, "batch": batch,
        "epc_token_hash": ecert.digest(token), "via": via, "issued_at": call.now,
        "expires_at": expires})
    store.record(call.conn, row["hi_rxno"], at=call.now, infno=via, actor=call.actor.name,
                 status=row["status"], detail=f"authorised {call.institution.code}")
    return Access(auth_rxno, token, expires, row)


def authorise_offline(call: Call, ec_token: str, certno: str) -> Done[list[Access]]:
    """7201: the person's electronic certificate (an ecToken the pharmacy got by 1162)
    lets this pharmacy see the person's open prescriptions, each with its own access;
    downloading one ends the others."""
    psn_no = ecert.token_holder(call.conn, ecert.digest(ec_token),
                                institution=call.institution.code, infno="7201", now=call.now)
    if persons.get_person(call.conn, psn_no)["certno"] != certno:
        raise Refused("E-RX-006", "certno is not the ecToken's person's")
    batch = call.ids.new("RB")
    granted = [_grant(call, row, "7201", batch) for row in store.of_person(
        call.conn, psn_no, OPEN) if not rules.expired(row["vali_end"], call.now)]
    return Done(granted, Effect(EffectKind.PRESCRIPTION, batch))


def _spend_code(call: Call, code: str, kind: str) -> RowMapping:
    found = store.code(call.conn, ecert.digest(code), kind)
    if found is None or found["used_at"] is not None or found["expires_at"] < call.now:
        raise Refused("E-RX-016", f"{'epcQrcd' if kind == 'qr' else 'authCircBizSn'} "
                      "unknown, used or expired")
    if found["pharmacy_code"] and found["pharmacy_code"] != call.institution.code:
        raise Refused("E-RX-009", "the person chose another pharmacy")
    assert store.use_code(call.conn, found["code_hash"], call.now)
    return found


def authorise_by_qr(call: Call, qr: str) -> Done[Access]:
    """7203: the prescription QR code the person shows (from their channel)."""
    found = _spend_code(call, qr, "qr")
    row = rx.own_any(call, found["hi_rxno"])
    access = _grant(call, row, "7203", call.ids.new("RB"))
    return Done(access, Effect(EffectKind.PRESCRIPTION, row["hi_rxno"]))


def authorise_online(call: Call, hi_rxno: str, circ_sn: str, channel_id: str) -> Done[Access]:
    """7202: the online authorisation the person gave this pharmacy in a channel."""
    found = _spend_code(call, circ_sn, "online")
    if found["hi_rxno"] != hi_rxno or found["channel_id"] != channel_id:
        raise Refused("E-RX-016", "authCircBizSn is for another prescription or channel")
    row = rx.own_any(call, hi_rxno)
    access = _grant(call, row, "7202", call.ids.new("RB"))
    return Done(access, Effect(EffectKind.PRESCRIPTION, hi_rxno))


# ---------------------------------------------------------------- the person, in a channel


def person_prescriptions(call: Call, psn_no: str) -> list[RowMapping]:
    return store.of_person(call.conn, psn_no)


def issue_code(call: Call, psn_no: str, hi_rxno: str, channel_id: str, *,
               pharmacy: str = "") -> tuple[str, datetime]:
    """A prescription QR code (no ``pharmacy``) or an online authorisation of one online
    pharmacy (E-RX-015 for any other institution): the holder's own open prescription
    only (E-RX-006)."""
    row = store.get(call.conn, hi_rxno, lock=True)
    if row is None:
        raise Refused("E-RX-001", f"hiRxno {hi_rxno}")
    if row["psn_no"] != psn_no:
        raise Refused("E-RX-006", f"hiRxno {hi_rxno}")
    rules.move(RxStatus(row["status"]), Action.AUTHORISE, now=call.now,
               vali_end=row["vali_end"])
    if pharmacy and not store.is_online_pharmacy(call.conn, pharmacy):
        raise Refused("E-RX-015", f"{pharmacy} is not an online pharmacy")
    code = secrets.token_urlsafe(24)  # 32 characters (epcQrcd, authCircBizSn: 40 at most)
    lifetime = rules.CIRC_AUTH_LIFETIME if pharmacy else rules.QR_LIFETIME
    expires = call.now + lifetime
    store.add_code(call.conn, {
        "code_hash": ecert.digest(code), "kind": "online" if pharmacy else "qr",
        "hi_rxno": hi_rxno, "psn_no": psn_no, "channel_id": channel_id,
        "pharmacy_code": pharmacy, "expires_at": expires})
    store.record(call.conn, hi_rxno, at=call.now, infno="chnl", actor=channel_id,
                 status=row["status"],
                 detail=f"online for {pharmacy}" if pharmacy else "QR code shown")
    return code, expires


# ---------------------------------------------------------------- 7204-7206


def _authorised(call: Call, epc_token: str, auth_rxno: str = "") -> tuple[RowMapping,
                                                                         RowMapping]:
    """The access an epcToken gives this pharmacy, and its prescription (E-RX-009)."""
    found = store.auth_by_token(call.conn, ecert.digest(epc_token))
    if (found is None or found["fixmedins_code"] != call.institution.code
            or (auth_rxno and found["auth_rxno"] != auth_rxno)):
        raise Refused("E-RX-009", "epcToken unknown, or another pharmacy's or authorisation's")
    if found["ended_at"] is not None or found["expires_at"] < call.now:
        raise Refused("E-RX-009", "the authorisation ended (another prescription was "
                      "downloaded, the prescription was revoked or handed elsewhere) or expired")
    row = store.get(call.conn, found["hi_rxno"], lock=True)
    assert row is not None
    return found, row


def download(call: Call, epc_token: str, auth_rxno: str) -> Done[RowMapping]:
    """7204: the prescription becomes this pharmacy's; the other accesses end."""
    access, row = _authorised(call, epc_token, auth_rxno)
    if row["pharmacy_code"] not in ("", call.institution.code):
        raise Refused("E-RX-009", "another pharmacy downloaded it")
    to = rx.moved(call, row, Action.DOWNLOAD)
    store.change(call.conn, row["hi_rxno"], {
        "status": to.value, "pharmacy_code": call.institution.code,
        "online": access["via"] == "7202", "updated_at": call.now})
    store.end_auths(call.conn, at=call.now, batch=access["batch"], keep=access["auth_rxno"])
    store.end_auths(call.conn, at=call.now, hi_rxno=row["hi_rxno"], keep=access["auth_rxno"])
    _event(call, row, to)
    return Done(_fresh(call, row), Effect(EffectKind.PRESCRIPTION, row["hi_rxno"]))


def verify(call: Call, hi_rxno: str, trace_code: str, rx_file: bytes,
           epc_token: str) -> Done[tuple[str, RowMapping]]:
    """7205: the signature holds over the stored fields, the pre-checked content and the
    file the pharmacy holds (E-RX-010 otherwise); a verification serial, and the key."""
    _access, row = _authorised(call, epc_token)
    if row["hi_rxno"] != hi_rxno or row["rx_trace_code"] != trace_code:
        raise Refused("E-RX-009", "hiRxno or rxTraceCode is not the epcToken's prescription")
    to = rx.moved(call, row, Action.VERIFY)
    fields = json.loads(row["signed_fields"] or "{}")
    if set(fields) != set(rules.SIGNED_FIELDS):
        raise Refused("E-RX-010", "the stored prescription has no signed fields")
    key = rx.verified(call, row, fields, rx_file, row["sign_digest"])
    serial = call.ids.new("RV")
    store.change(call.conn, hi_rxno, {"status": to.value, "verify_sn": serial,
                                      "updated_at": call.now})
    _event(call, row, to, serial)
    return Done((serial, key), Effect(EffectKind.PRESCRIPTION, hi_rxno))


@dataclass(frozen=True, slots=True)
class Review:
    hi_rxno: str
    epc_token: str
    ec_token: str  # the pharmacist's own ecToken ("": not configured, see the docs)
    phar_code: str
    phar_name: str
    phar_certno: str
    approved: bool
    opinion: str
    at: datetime
    verify_sn: str


def review(call: Call, req: Review) -> Done[str]:
    """7206: the pharmacist's review of a verified prescription; the prescribing
    institution is told (7108). A rejection hands it back to the person."""
    _access, row = _authorised(call, req.epc_token)
    if row["hi_rxno"] != req.hi_rxno:
        raise Refused("E-RX-009", "hiRxno is not the epcToken's prescription")
    if not row["verify_sn"] or row["verify_sn"] != req.verify_sn:
        raise Refused("E-RX-010", "rxSignVerifySn is not this prescription's 7205")
    rx.check_practitioner(call.conn, call.institution.code, req.phar_code, "pharmacist")
    if req.ec_token:
        holder = ecert.token_holder(call.conn, ecert.digest(req.ec_token),
                                    institution=call.institution.code, infno="7206",
                                    now=call.now)
        if persons.get_person(call.conn, holder)["certno"] != req.phar_certno:
            raise Refused("E-RX-011", "ecToken is not the pharmacist's")
    to = rx.moved(call, row, Action.APPROVE if req.approved else Action.REJECT)
    serial = call.ids.new("RC")
    chk = "1" if req.approved else "0"
    values: dict[str, Any] = {"status": to.value, "updated_at": call.now, "review": json.dumps({
        "sn": serial, "pharCode": req.phar_code, "pharName": req.phar_name,
        "rxChkStasCodg": chk, "rxChkOpnn": req.opinion,
        "rxChkTime": f"{req.at:%Y-%m-%d %H:%M:%S}"}, ensure_ascii=False)}
    if not req.approved:  # back to the person: the pharmacy's access ends
        values |= {"pharmacy_code": "", "online": False, "verify_sn": ""}
        store.end_auths(call.conn, at=call.now, hi_rxno=row["hi_rxno"])
    store.change(call.conn, row["hi_rxno"], values)
    _event(call, row, to, f"review {chk} by {req.phar_code}")
    fresh = _fresh(call, row)
    rx.tell_hospital(call.conn, fresh, "7108", serial, review_notice(fresh, call.now),
                     call.now)
    return Done(serial, Effect(EffectKind.PRESCRIPTION, row["hi_rxno"]))


def review_notice(row: RowMapping, now: datetime) -> dict[str, Any]:
    """7108's data (7106's answer): the last review and the status."""
    review_of = json.loads(row["review"] or "{}")
    chk = review_of.get("rxChkStasCodg", "")
    status = rx.status_codes(row, now)
    return {"hiRxno": row["hi_rxno"], "pharName": review_of.get("pharName", ""),
            "pharCode": review_of.get("pharCode", ""), "rxChkStasCodg": chk,
            "rxChkStasName": rules.RX_CHK_STAS.get(chk, ""),
            "rxChkOpnn": review_of.get("rxChkOpnn", ""),
            "rxChkTime": review_of.get("rxChkTime", ""),
            "rxStasCodg": status["rxStasCodg"], "rxStasName": status["rxStasName"]}


# ---------------------------------------------------------------- 7207, 7208


def _pharmacy_own(call: Call, hi_rxno: str) -> RowMapping:
    row = store.get(call.conn, hi_rxno, lock=True)
    if row is None:
        raise Refused("E-RX-001", f"hiRxno {hi_rxno}")
    if row["pharmacy_code"] != call.institution.code:
        raise Refused("E-RX-009", f"hiRxno {hi_rxno} was not downloaded by "
                      f"{call.institution.code}")
    return row


def dispense(call: Call, hi_rxno: str, chk_biz_sn: str, lines: tuple[rules.Dispensed, ...],
             detail: Sequence[Mapping[str, Any]], *, insured: bool = True) -> Done[str]:
    """7207: what the pharmacy hands out, once, within what was prescribed; the
    prescribing institution is told (7109). ``insured``: settled with the insurance
    (hiFeesetlFlag 1; online, through an order that must be paid before delivery)."""
    row = _pharmacy_own(call, hi_rxno)
    review_of = json.loads(row["review"] or "{}")
    if review_of.get("sn") != chk_biz_sn:
        raise Refused("E-RX-002", "rxChkBizSn is not this prescription's approved review")
    to = rx.moved(call, row, Action.DISPENSE)
    rules.check_dispensed(rx.items_of(row), lines)
    serial = call.ids.new("RS")
    store.change(call.conn, hi_rxno, {
        "status": to.value, "filled_at": call.now, "updated_at": call.now,
        "sale": json.dumps({"sn": serial, "lines": list(detail), "insured": insured},
                           ensure_ascii=False, default=str)})
    _event(call, row, to, serial)
    fresh = _fresh(call, row)
    rx.tell_hospital(call.conn, fresh, "7109", serial, sale_notice(fresh, call.now), call.now)
    return Done(serial, Effect(EffectKind.PRESCRIPTION, hi_rxno))


def sale_notice(row: RowMapping, now: datetime) -> dict[str, Any]:
    """7109's data (7107's answer): the filling and what was handed out."""
    sale = json.loads(row["sale"] or "{}")
    filled = row["filled_at"]
    return {"hiRxno": row["hi_rxno"],
            "setlTime": f"{filled:%Y-%m-%d %H:%M:%S}" if filled else "",
            **rx.status_codes(row, now), "seltdelts": sale.get("lines", [])}


def undo_dispense(call: Call, hi_rxno: str, sale_sn: str) -> Done[RowMapping]:
    """7208: the recorded dispensing withdrawn (before delivery)."""
    row = _pharmacy_own(call, hi_rxno)
    sale = json.loads(row["sale"] or "{}")
    if sale_sn and sale.get("sn") != sale_sn:
        raise Refused("E-RX-002", f"selStooutSn {sale_sn} is not this prescription's")
    to = rx.moved(call, row, Action.UNDO_DISPENSE)
    store.change(call.conn, hi_rxno, {"status": to.value, "filled_at": None, "sale": "",
                                      "updated_at": call.now})
    _event(call, row, to, f"undone {sale.get('sn', '')}")
    return Done(_fresh(call, row), Effect(EffectKind.PRESCRIPTION, hi_rxno))


# ---------------------------------------------------------------- 7209, 7210


def dispatch(call: Call, hi_rxno: str, delivery: Mapping[str, Any]) -> Done[RowMapping]:
    """7209: the delivery of an online order, and each change of its status."""
    row = _pharmacy_own(call, hi_rxno)
    if not row["online"]:
        raise Refused("E-RX-015", "this prescription was filled at the counter")
    if json.loads(row["sale"] or "{}").get("insured", True):
        rx_purchase.require_paid(call, row)
    to = rx.moved(call, row, Action.DISPATCH)
    store.change(call.conn, hi_rxno, {"status": to.value, "updated_at": call.now,
                                      "delivery": json.dumps(dict(delivery), ensure_ascii=False,
                                                             default=str)})
    _event(call, row, to, f"delivery {delivery.get('delvNo', '')} "
           f"{delivery.get('delvStasCodg', '')}")
    return Done(_fresh(call, row), Effect(EffectKind.PRESCRIPTION, hi_rxno))


def receive(call: Call, hi_rxno: str, delv_no: str, receipt: Mapping[str, Any]) -> Done[
        RowMapping]:
    """7210: the person signed for the delivery."""
    row = _pharmacy_own(call, hi_rxno)
    if not row["online"]:
        raise Refused("E-RX-015", "this prescription was filled at the counter")
    delivery = json.loads(row["delivery"] or "{}")
    if delv_no and delivery.get("delvNo") != delv_no:
        raise Refused("E-RX-002", f"delvNo {delv_no} is not this prescription's delivery")
    to = rx.moved(call, row, Action.RECEIVE)
    delivery |= {"receipt": dict(receipt), "delvStasCodg": "2"}
    store.change(call.conn, hi_rxno, {"status": to.value, "updated_at": call.now,
                                      "delivery": json.dumps(delivery, ensure_ascii=False,
                                                             default=str)})
    _event(call, row, to, "received")
    return Done(_fresh(call, row), Effect(EffectKind.PRESCRIPTION, hi_rxno))


def _event(call: Call, row: RowMapping, status: RxStatus, detail: str = "") -> None:
    store.record(call.conn, row["hi_rxno"], at=call.now, infno=call.infno or "",
                 actor=call.actor.name, status=status.value, detail=detail)


def _fresh(call: Call, row: RowMapping) -> RowMapping:
    fresh = store.get(call.conn, row["hi_rxno"])
    assert fresh is not None
    return fresh
