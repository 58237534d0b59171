"""Electronic prescriptions of the prescription centre (7101-7211): their states, the
moves between them, and the rules of filling one. Pure: no clock, no I/O.

A **prescription** (hiRxno) is written by a prescribing institution: pre-checked (7101),
signed with the institution's SM2 key (7102), uploaded (7103). The person then lets one
pharmacy have it, offline with their electronic certificate (7201) or the prescription's
QR code (7203), or online through a channel (7202). That pharmacy downloads it (7204),
verifies the signature (7205), has its pharmacist review it (7206) and records what it
dispensed (7207; 7208 undoes that); an online order is then dispatched (7209) and
received (7210). A prescription is filled at most once, within its validity, with only
the items and quantities prescribed. See docs/prescriptions.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from yibao.domain.errors import Refused

EPC_TOKEN_LIFETIME = timedelta(hours=24)  # a pharmacy's access to one prescription
QR_LIFETIME = timedelta(minutes=5)  # the prescription QR code the person shows (7203)
CIRC_AUTH_LIFETIME = timedelta(hours=24)  # an online authorisation (7202's authCircBizSn)
VALI_DAYS_MAX = 365  # 7101 valiDays
ITEMS_MAX = 100  # drugs of one prescription
DRUG_LIST_TYPES = ("101", "102", "103", "104")  # catalogue list types a prescription holds


class RxStatus(StrEnum):
    PRECHECKED = "prechecked"  # 7101 passed: hiRxno and rxTraceCode issued
    SIGNED = "signed"  # 7102: signed with the prescribing institution's key
    UPLOADED = "uploaded"  # 7103: valid, waiting for the person to choose a pharmacy
    DOWNLOADED = "downloaded"  # 7204 by the pharmacy the person authorised
    VERIFIED = "verified"  # 7205: signature and content checked by that pharmacy
    REVIEWED = "reviewed"  # 7206: its pharmacist approved it
    DISPENSED = "dispensed"  # 7207: filled (once)
    DISPATCHED = "dispatched"  # 7209: an online order on its way
    RECEIVED = "received"  # 7210: the person signed for it
    REVOKED = "revoked"  # 7104 by the prescribing institution


class Action(StrEnum):
    SIGN = "sign"  # 7102
    UPLOAD = "upload"  # 7103
    REVOKE = "revoke"  # 7104
    AUTHORISE = "authorise"  # 7201, 7202, 7203
    DOWNLOAD = "download"  # 7204
    VERIFY = "verify"  # 7205
    APPROVE = "approve"  # 7206 rxChkStasCodg 1
    REJECT = "reject"  # 7206 rxChkStasCodg 0: back to the person, who may go elsewhere
    DISPENSE = "dispense"  # 7207
    UNDO_DISPENSE = "undo-dispense"  # 7208
    DISPATCH = "dispatch"  # 7209
    RECEIVE = "receive"  # 7210
    RETURN = "return"  # its online order refunded before it was received: not filled


S, A = RxStatus, Action
UNFILLED = (S.PRECHECKED, S.SIGNED, S.UPLOADED, S.DOWNLOADED, S.VERIFIED, S.REVIEWED)
FILLED = (S.DISPENSED, S.DISPATCHED, S.RECEIVED)
TRANSITIONS: dict[Action, dict[RxStatus, RxStatus]] = {
    A.SIGN: {S.PRECHECKED: S.SIGNED, S.SIGNED: S.SIGNED},
    A.UPLOAD: {S.SIGNED: S.UPLOADED},
    A.REVOKE: {s: S.REVOKED for s in UNFILLED},
    A.AUTHORISE: {S.UPLOADED: S.UPLOADED},  # the authorisation is its own record
    A.DOWNLOAD: {S.UPLOADED: S.DOWNLOADED, S.DOWNLOADED: S.DOWNLOADED},
    A.VERIFY: {S.DOWNLOADED: S.VERIFIED, S.VERIFIED: S.VERIFIED},
    A.APPROVE: {S.VERIFIED: S.REVIEWED},
    A.REJECT: {S.VERIFIED: S.UPLOADED},
    A.DISPENSE: {S.REVIEWED: S.DISPENSED},
    A.UNDO_DISPENSE: {S.DISPENSED: S.REVIEWED},
    A.DISPATCH: {S.DISPENSED: S.DISPATCHED, S.DISPATCHED: S.DISPATCHED},
    A.RECEIVE: {S.DISPATCHED: S.RECEIVED},
    A.RETURN: {S.DISPENSED: S.REVIEWED, S.DISPATCHED: S.REVIEWED},
}
del S, A

# rxStasCodg (医保电子处方状态) and rxUsedStasCodg (使用状态) of the standard
RX_STAS = {"1": "有效", "2": "已失效", "3": "已撤销"}
RX_USED_STAS = {"1": "未使用", "2": "已使用"}
RX_CHK_STAS = {"0": "审核不通过", "1": "审核通过"}
DELV_STAS = {"0": "待配送", "1": "配送中", "2": "配送完成", "3": "配送取消", "4": "配送异常"}
CHK_WAYS = {"1": "人脸识别", "2": "电子凭证二维码", "3": "其他"}


def move(status: RxStatus, action: Action, *, now: datetime, vali_end: datetime) -> RxStatus:
    """The status ``action`` leaves a prescription in, or the refusal naming the misuse:
    E-RX-005 revoked, E-RX-003 already filled, E-RX-004 past its validity (anything but
    revoking, and the delivery of what was already filled), E-RX-002 otherwise."""
    to = TRANSITIONS[action].get(status)
    if status is RxStatus.REVOKED:
        raise Refused("E-RX-005", f"cannot {action.value}")
    if to is None and status in FILLED and action in (Action.AUTHORISE, Action.DOWNLOAD,
                                                      Action.VERIFY, Action.APPROVE,
                                                      Action.DISPENSE, Action.REVOKE):
        raise Refused("E-RX-003", f"it was {status.value}; cannot {action.value}")
    if to is None:
        raise Refused("E-RX-002", f"the prescription is {status.value}; cannot {action.value}")
    if action not in (Action.REVOKE, Action.DISPATCH, Action.RECEIVE,
                      Action.UNDO_DISPENSE, Action.RETURN) and expired(vali_end, now):
        raise Refused("E-RX-004", f"valid until {vali_end:%Y-%m-%d %H:%M:%S}")
    return to


def expired(vali_end: datetime, now: datetime) -> bool:
    return now > vali_end


def rx_stas(status: RxStatus, vali_end: datetime, now: datetime) -> str:
    """rxStasCodg: 3 revoked; 2 lapsed (past its validity, unfilled); 1 valid."""
    if status is RxStatus.REVOKED:
        return "3"
    if status not in FILLED and expired(vali_end, now):
        return "2"
    return "1"


def rx_used_stas(status: RxStatus) -> str:
    """rxUsedStasCodg: 2 once filled, else 1."""
    return "2" if status in FILLED else "1"


def check_validity(prsc_time: datetime, vali_days: int, vali_end: datetime) -> None:
    """7101: valiEndTime is prscTime + valiDays, as the standard defines it (E-RX-013)."""
    if not 1 <= vali_days <= VALI_DAYS_MAX:
        raise Refused("E-RX-013", f"valiDays {vali_days}: 1 to {VALI_DAYS_MAX}")
    due = prsc_time + timedelta(days=vali_days)
    if vali_end != due:
        raise Refused("E-RX-013", f"valiEndTime {vali_end:%Y-%m-%d %H:%M:%S} is not prscTime "
                      f"+ {vali_days} days ({due:%Y-%m-%d %H:%M:%S})")


@dataclass(frozen=True, slots=True)
class Item:
    """One prescribed drug: its catalogue code, the quantity and its unit (drugCnt,
    drugDosunt: what a pharmacy may dispense)."""

    code: str
    count: Decimal
    unit: str

    def __post_init__(self) -> None:
        assert self.code, self


@dataclass(frozen=True, slots=True)
class Dispensed:
    """One line of a 7207: what a pharmacy hands out of one prescribed drug."""

    code: str
    count: Decimal


def check_items(items: tuple[Item, ...]) -> None:
    """7101: at least one drug, each listed once, each quantity positive (E-RX-013)."""
    if not 1 <= len(items) <= ITEMS_MAX:
        raise Refused("E-RX-013", f"{len(items)} drugs: 1 to {ITEMS_MAX}")
    seen: set[str] = set()
    for item in items:
        if item.code in seen:
            raise Refused("E-RX-013", f"medListCodg {item.code} listed twice")
        if item.count <= 0:
            raise Refused("E-RX-013", f"drugCnt of {item.code} must be more than 0")
        seen.add(item.code)


def check_dispensed(prescribed: tuple[Item, ...], lines: tuple[Dispensed, ...]) -> None:
    """7207: only drugs prescribed (E-RX-007), each at most its prescribed quantity in all
    (E-RX-008), something dispensed."""
    if not lines:
        raise Refused("E-RX-013", "rxSaleDrugDetl is empty")
    allowed = {item.code: item.count for item in prescribed}
    total: dict[str, Decimal] = {}
    for line in lines:
        if line.code not in allowed:
            raise Refused("E-RX-007", f"medListCodg {line.code}")
        if line.count <= 0:
            raise Refused("E-RX-013", f"drugTotlcnt of {line.code} must be more than 0")
        total[line.code] = total.get(line.code, Decimal(0)) + line.count
        if total[line.code] > allowed[line.code]:
            raise Refused("E-RX-008", f"{line.code}: {total[line.code]} dispensed, "
                          f"{allowed[line.code]} prescribed")


# 7103's fields 1-20: what 7102's originalValue holds (its JSON string, base64) and what
# the signature covers, with the digests of the pre-checked content and of the file
SIGNED_FIELDS = (
    "rxTraceCode", "hiRxno", "mdtrtId", "patnName", "psnCertType", "certno",
    "fixmedinsName", "fixmedinsCode", "drCode", "prscDrName", "pharDeptName",
    "pharDeptCode", "pharProfttlCodg", "pharProfttlName", "pharCode", "pharCertType",
    "pharCertno", "pharName", "pharPracCertNo", "pharChkTime",
)


def signed_text(fields: Mapping[str, str], content_digest: str, file_digest: str) -> str:
    """The exact text an institution's SM2 key signs (7102) and 7103/7205 verify: the
    twenty fields as text, the SM3 of the content pre-checked by 7101 (the drugs, the
    visit, the diagnoses) and the SM3 of the prescription file, as compact JSON with
    sorted keys. Any change to any of them breaks the signature."""
    assert set(fields) == set(SIGNED_FIELDS), sorted(set(fields) ^ set(SIGNED_FIELDS))
    return json.dumps({"fields": dict(fields), "content": content_digest,
                       "file": file_digest}, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
