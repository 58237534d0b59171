"""The person's electronic prescriptions through a certified channel (scope
prescriptions): the list, a prescription QR code to show at a pharmacy's counter (7203),
and the authorisation of one online pharmacy (7202's authCircBizSn, which the app hands
to that pharmacy with its own channel id). Each needs the holder's PIN; the two codes are
writes with an Idempotency-Key. docs/prescriptions.md."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import Field

from yibao.api.channel_gate import Caller, Runner, caller, post
from yibao.api.channel_own import PinIn
from yibao.domain import prescriptions as rules
from yibao.domain.channels import Scope
from yibao.services import prescriptions, rx_pharmacy
from yibao.services.context import Call

Holder = Annotated[Caller, Depends(caller)]
TIME = "%Y-%m-%d %H:%M:%S"


class OnlinePharmacyIn(PinIn):
    fixmedins_code: str = Field(min_length=1, max_length=20, examples=["P11010500002"],
                                description="the online pharmacy the person chooses")


def _listed(call: Call, psn_no: str) -> list[dict[str, Any]]:
    rows = rx_pharmacy.person_prescriptions(call, psn_no)
    return [{"hiRxno": row["hi_rxno"], "fixmedinsCode": row["fixmedins_code"],
             "prscTime": f"{row['prsc_time']:{TIME}}",
             "valiEndTime": f"{row['vali_end']:{TIME}}", "status": row["status"],
             "rxStasCodg": rules.rx_stas(rules.RxStatus(row["status"]), row["vali_end"],
                                         call.now),
             "rxUsedStasCodg": rules.rx_used_stas(rules.RxStatus(row["status"])),
             "drugs": [{"medListCodg": item.code, "drugCnt": str(item.count),
                        "drugDosunt": item.unit} for item in prescriptions.items_of(row)]}
            for row in rows]


def routes(api: APIRouter, runner: Runner) -> None:
    scope = Scope.PRESCRIPTIONS

    @post(api, "/certificates/{cert_id}/prescriptions/list", scope, write=False,
          summary="The holder's electronic prescriptions, newest first, with their status "
                  "and drugs")
    def listed(cert_id: str, body: PinIn, who: Holder) -> Any:
        return runner.as_holder(who, cert_id, body.pin, _listed)

    @post(api, "/certificates/{cert_id}/prescriptions/{hi_rxno}/qr", scope, status_code=201,
          summary="A prescription QR code (epcQrcd) to show at a pharmacy's counter: "
                  "single use, minutes (7203)")
    def qr(cert_id: str, hi_rxno: str, body: PinIn, who: Holder) -> Any:
        def act(call: Call, psn_no: str) -> dict[str, Any]:
            code, expires = rx_pharmacy.issue_code(call, psn_no, hi_rxno, who.channel_id)
            return {"epcQrcd": code, "expires_at": f"{expires:{TIME}}"}
        return runner.as_holder(who, cert_id, body.pin, act)

    @post(api, "/certificates/{cert_id}/prescriptions/{hi_rxno}/online", scope,
          status_code=201, summary="The holder lets one online pharmacy have this "
          "prescription: an authCircBizSn for that pharmacy's 7202, with epcChnlId")
    def online(cert_id: str, hi_rxno: str, body: OnlinePharmacyIn, who: Holder) -> Any:
        def act(call: Call, psn_no: str) -> dict[str, Any]:
            code, expires = rx_pharmacy.issue_code(call, psn_no, hi_rxno, who.channel_id,
                                                   pharmacy=body.fixmedins_code)
            return {"authCircBizSn": code, "epcChnlId": who.channel_id,
                    "fixmedinsCode": body.fixmedins_code, "expires_at": f"{expires:{TIME}}"}
        return runner.as_holder(who, cert_id, body.pin, act)
