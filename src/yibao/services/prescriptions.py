"""The electronic-prescription centre, prescribing side (7101-7109): pre-check, signature
with the institution's SM2 key, upload, revocation, queries, and the notices of a
pharmacy's review and dispensing to the prescribing institution. The rules are
domain/prescriptions.py's; the pharmacy side is services/rx_pharmacy.py.

Signing keys: the centre holds one SM2 key pair per prescribing institution (table
``rx_signing_key``), made at the institution's first 7102 with a random certificate
serial; 7102 signs with its private key, 7103 and 7205 verify with its public key. In
production the private key belongs in an HSM (docs/prescriptions.md, "Keys")."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from gmssl import sm3  # type: ignore[import-untyped]
from sqlalchemy import Connection, RowMapping

from yibao import sm2
from yibao.domain import prescriptions as rules
from yibao.domain.errors import Refused
from yibao.domain.prescriptions import Action, RxStatus
from yibao.services import catalogue, outbox, persons, visits
from yibao.services.context import Call, Done, Effect, EffectKind
from yibao.services.persons import Credential
from yibao.store import online_orders
from yibao.store import prescriptions as store

# the institution's callback (its mobile-payment app's) + the standard's path
CALLBACK_PATHS = {"7108": "/rxChkInfoCallback", "7109": "/rxSetlInfoCallback"}
CALLBACK_KINDS = {"7108": "mpc_7108", "7109": "mpc_7109"}  # sealed by api/mpc.py's signer


def sm3_hex(data: bytes) -> str:
    digest: str = sm3.sm3_hash(list(data))
    return digest


def canonical(content: Mapping[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str)


@dataclass(frozen=True, slots=True)
class Precheck:
    """7101 as the service needs it; ``content`` is the whole pre-checked prescription
    (stored as signed, answered by 7105 and 7204)."""

    hosp_rxno: str
    credential: Credential
    psn_no: str
    certno: str
    mdtrt_id: str
    dr_code: str
    prsc_time: datetime
    vali_days: int
    vali_end: datetime
    items: tuple[rules.Item, ...]
    content: Mapping[str, Any]


def precheck(call: Call, req: Precheck) -> Done[RowMapping]:
    """7101: the person, the visit, the prescriber, the drugs and the validity checked;
    hiRxno and rxTraceCode issued. A retry with the same body answers the same."""
    text = canonical(req.content)
    request_hash = hashlib.sha256(text.encode()).hexdigest()
    code = call.institution.code
    known = store.by_hosp_rxno(call.conn, code, req.hosp_rxno)
    if known is not None:
        if known["request_hash"] != request_hash:
            raise Refused("E-RX-014", f"hospRxno {req.hosp_rxno}")
        return Done(known, Effect(EffectKind.PRESCRIPTION, known["hi_rxno"]))
    _check_person(call, req)
    _check_practitioner(call.conn, code, req.dr_code, "doctor")
    rules.check_validity(req.prsc_time, req.vali_days, req.vali_end)
    rules.check_items(req.items)
    for item in req.items:
        found = catalogue.items(call, catalogue.ItemFilter(
            code=item.code, day=req.prsc_time.date(), list_types=rules.DRUG_LIST_TYPES))
        if not found:
            raise Refused("E-RX-012", f"medListCodg {item.code}")
    hi_rxno = call.ids.new("RX")
    store.add(call.conn, {
        "hi_rxno": hi_rxno, "rx_trace_code": call.ids.random_hex(10).upper(),
        "fixmedins_code": code, "hosp_rxno": req.hosp_rxno, "request_hash": request_hash,
        "psn_no": req.psn_no, "mdtrt_id": req.mdtrt_id, "dr_code": req.dr_code,
        "prsc_time": req.prsc_time, "vali_end": req.vali_end,
        "status": RxStatus.PRECHECKED.value, "content": text,
        "content_digest": sm3_hex(text.encode()), "created_at": call.now,
        "updated_at": call.now})
    _event(call, hi_rxno, RxStatus.PRECHECKED, f"{len(req.items)} drugs")
    row = store.get(call.conn, hi_rxno)
    assert row is not None
    return Done(row, Effect(EffectKind.PRESCRIPTION, hi_rxno))


def _check_person(call: Call, req: Precheck) -> None:
    """The credential names the person of the visit (E-RX-006), the visit is this
    institution's and the person's (E-VIS-001, E-VIS-004)."""
    found = persons.find_by_credential(call.conn, req.credential, call.now.date())
    if found["psn_no"] != req.psn_no or found["certno"] != req.certno:
        raise Refused("E-RX-006", "mdtrtCertNo, psnNo and certno name different persons")
    visits.get_visit(call, req.mdtrt_id, req.psn_no)


def _check_practitioner(conn: Connection, code: str, prac_code: str, role: str) -> RowMapping:
    row = store.practitioner_of(conn, code, prac_code)
    if row is None or row["role"] != role:
        raise Refused("E-RX-011", f"{prac_code} is not a {role} of {code}")
    return row


def _event(call: Call, hi_rxno: str, status: RxStatus, detail: str = "") -> None:
    store.record(call.conn, hi_rxno, at=call.now, infno=call.infno or call.entry.value,
                 actor=call.actor.name, status=status.value, detail=detail)


def own(call: Call, hi_rxno: str, *, lock: bool = True) -> RowMapping:
    """The caller's prescription (another institution's is unknown: E-RX-001)."""
    row = store.get(call.conn, hi_rxno, lock=lock)
    if row is None or row["fixmedins_code"] != call.institution.code:
        raise Refused("E-RX-001", f"hiRxno {hi_rxno}")
    return row


def items_of(row: RowMapping) -> tuple[rules.Item, ...]:
    """The prescribed drugs, from the signed content."""
    content = json.loads(row["content"])
    return tuple(rules.Item(code=d["medListCodg"], count=Decimal(str(d["drugCnt"])),
                            unit=str(d.get("drugDosunt", ""))) for d in content["rxdrugdetail"])


def moved(call: Call, row: RowMapping, action: Action) -> RxStatus:
    return rules.move(RxStatus(row["status"]), action, now=call.now, vali_end=row["vali_end"])


# ---------------------------------------------------------------- 7102, 7103


@dataclass(frozen=True, slots=True)
class Signed:
    sign_digest: str
    cert_sn: str
    cert_dn: str


def key_of(call: Call, code: str) -> RowMapping:
    """The institution's signing key, made at its first use."""
    row = store.signing_key(call.conn, code)
    if row is None:
        pair = sm2.new_key_pair()
        store.add_signing_key(call.conn, {
            "fixmedins_code": code, "cert_sn": call.ids.random_hex(16).upper(),
            "cert_dn": f"CN={code},OU=prescriptions,O={call.institution.name},C=CN",
            "public_key": pair.public_key, "private_key": pair.private_key,
            "created_at": call.now})
        row = store.signing_key(call.conn, code)
        assert row is not None
    return row


def _text_of(fields: Mapping[str, str], row: RowMapping, rx_file: bytes) -> str:
    return rules.signed_text(fields, sm3_hex(row["content"].encode()), sm3_hex(rx_file))


def sign(call: Call, fields: Mapping[str, str], rx_file: bytes) -> Done[Signed]:
    """7102: the twenty fields (7103's 1-20) of a pre-checked prescription of the caller
    and its file, signed with the caller's key."""
    row = own(call, fields["hiRxno"])
    _check_signed_fields(call, row, fields)
    to = moved(call, row, Action.SIGN)
    key = key_of(call, row["fixmedins_code"])
    digest = sm2.sign(_text_of(fields, row, rx_file), key["private_key"])
    store.change(call.conn, row["hi_rxno"], {
        "status": to.value, "signed_fields": canonical(fields), "sign_digest": digest,
        "file_digest": sm3_hex(rx_file), "updated_at": call.now})
    _event(call, row["hi_rxno"], to, f"cert {key['cert_sn']}")
    return Done(Signed(digest, key["cert_sn"], key["cert_dn"]),
                Effect(EffectKind.PRESCRIPTION, row["hi_rxno"]))


def _check_signed_fields(call: Call, row: RowMapping, fields: Mapping[str, str]) -> None:
    """What the signature will cover agrees with the pre-check: the trace code, the
    visit, the person, the institution and the prescriber; the reviewing pharmacist is
    one of the institution's."""
    expected = {"rxTraceCode": row["rx_trace_code"], "mdtrtId": row["mdtrt_id"],
                "fixmedinsCode": row["fixmedins_code"], "drCode": row["dr_code"]}
    for name, value in expected.items():
        if fields[name] != value:
            raise Refused("E-RX-013", f"{name} is not the pre-checked prescription's")
    found = persons.get_person(call.conn, row["psn_no"])
    if fields["certno"] != found["certno"]:
        raise Refused("E-RX-006", "certno is not the prescription's person's")
    _check_practitioner(call.conn, row["fixmedins_code"], fields["pharCode"], "pharmacist")


def verified(call: Call, row: RowMapping, fields: Mapping[str, str], rx_file: bytes,
             signature: str) -> RowMapping:
    """The signing key of the prescribing institution, if ``signature`` is its signature
    of ``fields``, the pre-checked content and ``rx_file`` (else E-RX-010)."""
    key = store.signing_key(call.conn, row["fixmedins_code"])
    if key is None or not signature:
        raise Refused("E-RX-010", "not signed (7102)")
    if not sm2.verify(_text_of(fields, row, rx_file), signature, key["public_key"]):
        raise Refused("E-RX-010", "the fields, the drugs or the file differ from what was "
                      "signed")
    return key


def upload(call: Call, fields: Mapping[str, str], rx_file: bytes, rx_file_b64: str,
           signature: str) -> Done[RowMapping]:
    """7103: a signed prescription, exactly as signed, becomes valid."""
    row = own(call, fields["hiRxno"])
    if RxStatus(row["status"]) is RxStatus.PRECHECKED:
        raise Refused("E-RX-010", "not signed: 7102 first")
    to = moved(call, row, Action.UPLOAD)
    verified(call, row, fields, rx_file, signature)
    store.change(call.conn, row["hi_rxno"], {
        "status": to.value, "signed_fields": canonical(fields), "sign_digest": signature,
        "rx_file": rx_file_b64, "updated_at": call.now})
    _event(call, row["hi_rxno"], to)
    return Done(_fresh(call, row["hi_rxno"]), Effect(EffectKind.PRESCRIPTION, row["hi_rxno"]))


def _fresh(call: Call, hi_rxno: str) -> RowMapping:
    row = store.get(call.conn, hi_rxno)
    assert row is not None, hi_rxno
    return row


# ---------------------------------------------------------------- 7104-7107


def revoke(call: Call, hi_rxno: str, dr_code: str, reason: str) -> Done[RowMapping]:
    """7104: a prescription not yet filled, revoked by a doctor of its institution; every
    pharmacy's access to it ends."""
    row = own(call, hi_rxno)
    _check_practitioner(call.conn, row["fixmedins_code"], dr_code, "doctor")
    to = moved(call, row, Action.REVOKE)
    store.change(call.conn, hi_rxno, {"status": to.value, "updated_at": call.now})
    store.end_auths(call.conn, at=call.now, hi_rxno=hi_rxno)
    _event(call, hi_rxno, to, f"by {dr_code}: {reason}")
    return Done(_fresh(call, hi_rxno), Effect(EffectKind.PRESCRIPTION, hi_rxno))


def query(call: Call, hi_rxno: str, mdtrt_id: str, certno: str) -> RowMapping:
    """7105-7107: the caller's prescription, named with its visit and person."""
    row = own(call, hi_rxno, lock=False)
    if row["mdtrt_id"] != mdtrt_id:
        raise Refused("E-VIS-004", f"mdtrtId is not hiRxno {hi_rxno}'s")
    if persons.get_person(call.conn, row["psn_no"])["certno"] != certno:
        raise Refused("E-RX-006", "certno is not the prescription's person's")
    return row


def status_codes(row: RowMapping, now: datetime) -> dict[str, str]:
    """rxStasCodg/Name and rxUsedStasCodg/Name of a prescription now."""
    stas = rules.rx_stas(RxStatus(row["status"]), row["vali_end"], now)
    used = rules.rx_used_stas(RxStatus(row["status"]))
    return {"rxStasCodg": stas, "rxStasName": rules.RX_STAS[stas],
            "rxUsedStasCodg": used, "rxUsedStasName": rules.RX_USED_STAS[used]}


def tell_hospital(conn: Connection, row: RowMapping, infno: str, key: str,
                  data: dict[str, Any], now: datetime) -> None:
    """7108 or 7109 to the prescribing institution's callback (its mobile-payment app's
    callback address + the standard's path), at least once, through the outbox; none
    registered: it asks with 7106 or 7107."""
    url = online_orders.callback_url(conn, row["fixmedins_code"])
    if not url:
        return
    outbox.enqueue(conn, key=f"{infno}:{key}", kind=CALLBACK_KINDS[infno],
                   psn_no=row["psn_no"], now=now, url=url.rstrip("/") + CALLBACK_PATHS[infno],
                   payload={"fixmedins_code": row["fixmedins_code"], "data": data})


def own_any(call: Call, hi_rxno: str) -> RowMapping:
    """A prescription by hiRxno, whoever prescribed it (a pharmacy's authorisation)."""
    row = store.get(call.conn, hi_rxno, lock=True)
    if row is None:
        raise Refused("E-RX-001", f"hiRxno {hi_rxno}")
    return row


def check_practitioner(conn: Connection, code: str, prac_code: str, role: str) -> RowMapping:
    """E-RX-011 unless ``prac_code`` is a ``role`` of institution ``code``."""
    return _check_practitioner(conn, code, prac_code, role)
