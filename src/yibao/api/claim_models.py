"""The REST shapes of a manual-reimbursement application, shared by the operator window
(/admin/v1) and the apps (/channel/v1). Amounts are yuan strings, as on the invoice."""

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from yibao.api.fields import COUNT_MAX, PLACES_MAX, PRICE_MAX, too_many_places
from yibao.api.rest import ChinaTime
from yibao.domain.claims import REASONS
from yibao.domain.errors import Refused
from yibao.domain.money import MoneyError, yuan_to_fen
from yibao.services import fees, visits
from yibao.services.bills import Bill
from yibao.services.claims import Payee

LINES_MAX = 500


def _written_places(number: Decimal) -> Decimal:
    if too_many_places(number):  # pydantic's decimal_places ignores trailing zeros
        raise ValueError(f"at most {PLACES_MAX} decimals as written")
    return number


Places = Annotated[Decimal, AfterValidator(_written_places)]


class LineIn(BaseModel):
    feedetl_sn: str = Field(min_length=1, max_length=30, examples=["1"])
    med_list_codg: str = Field(min_length=1, max_length=50, examples=["XA01AAA0001"])
    medins_list_codg: str = Field("", max_length=150)
    name: str = Field("", max_length=200, examples=["阿莫西林胶囊"])
    # Exact decimals (a JSON number is read as Decimal: api/rest.py), at most 6 places as
    # on the national route (api/fields.py); the amount is yuan text, two decimals at most.
    cnt: Places = Field(gt=0, le=COUNT_MAX, decimal_places=PLACES_MAX, examples=["2"])
    pric: Places = Field(ge=0, le=PRICE_MAX, decimal_places=PLACES_MAX, examples=["25.00"])
    det_item_fee_sumamt: str = Field(max_length=20, examples=["50.00"])
    fee_ocur_time: ChinaTime | None = None


class DiagnosisIn(BaseModel):
    diag_code: str = Field(min_length=1, max_length=30, examples=["J18.900"])
    diag_name: str = Field(min_length=1, max_length=200, examples=["肺炎"])


class BillIn(BaseModel):
    """The care and its fee details, typed in from the paper lists or sent by an app."""

    fixmedins_code: str = Field(min_length=1, max_length=30, examples=["H11010500002"])
    insutype: str = Field(min_length=3, max_length=6, examples=["310"])
    med_type: str = Field(min_length=2, max_length=6, examples=["11"])
    begntime: ChinaTime = Field(examples=["2026-05-01T10:00:00"])
    endtime: ChinaTime | None = None
    invono: str = Field(min_length=1, max_length=50, examples=["FP2026050100017"])
    lines: list[LineIn] = Field(min_length=1, max_length=LINES_MAX)
    diagnoses: list[DiagnosisIn] = Field(default=[], max_length=20)
    emergency: bool = Field(False, description="emergency care (急诊, OTP_ER_REFL_FLAG / "
                            "IPT_TYPE) under any med_type; away from home a basis of its own")
    injury: bool = Field(False, description="care of an injury (外伤, TRUM_FLAG); away "
                         "from home it needs an injury declaration")
    third_party_liable: bool | None = Field(None, description="a third party is liable for "
                                            "the injury (REL_TTP_FLAG); required with injury")


class PayeeIn(BaseModel):
    bank_name: str = Field(min_length=1, max_length=100, examples=["中国工商银行北京分行"])
    bank_account: str = Field(min_length=8, max_length=40, examples=["6222020200001234567"])


class WindowPayeeIn(PayeeIn):
    account_name: str = Field(min_length=1, max_length=50, examples=["王芳"],
                              description="the account holder's name: the person's own "
                              "(E-ECT-014 otherwise)")


class ApplicationIn(BaseModel):
    """Either ``bill`` (details typed in), ``fixmedins_code`` + ``invono`` of a bill the
    hospital uploaded (2901), or ``fixmedins_code`` + ``mdtrt_id`` of a visit the
    hospital registered and uploaded but could not settle (online manual
    reimbursement)."""

    reason: str = Field("fault", examples=["no_credential"], description=", ".join(
        REASONS))
    payee: PayeeIn | None  # each entry point's own: the window's names the holder
    bill: BillIn | None = None
    fixmedins_code: str = Field("", max_length=30)
    invono: str = Field("", max_length=50)
    mdtrt_id: str = Field("", max_length=30, description="a visit the institution "
                          "registered and uploaded (2201/2401) but could not settle")
    trt_dcla_detl_sn: str = Field("", max_length=30, description="filing, for care away")


def bill_of(psn_no: str, body: BillIn) -> Bill:
    return Bill(
        psn_no=psn_no, insutype=body.insutype, med_type=body.med_type,
        fixmedins_code=body.fixmedins_code, begin=body.begntime, end=body.endtime,
        invono=body.invono, lines=tuple(_line(x) for x in body.lines),
        diagnoses=tuple(visits.Diagnosis("1", i + 1, d.diag_code, d.diag_name)
                        for i, d in enumerate(body.diagnoses)),
        flags=_flags(body),
    )


def _flags(body: BillIn) -> visits.AwayFlags:
    """The bill's emergency and injury flags, as 2201's exp_content carries them."""
    emergency = "1" if body.emergency else "0"
    if not body.injury:
        if body.third_party_liable is not None:
            raise Refused("E-CLM-006", "bill.third_party_liable goes with injury: true")
        return visits.AwayFlags(emergency=emergency)
    if body.third_party_liable is None:
        raise Refused("E-CLM-006", "bill.third_party_liable is required with injury")
    return visits.AwayFlags(emergency, "1", "1" if body.third_party_liable else "0")


def _line(x: LineIn) -> fees.FeeLineIn:
    try:
        amount = yuan_to_fen(x.det_item_fee_sumamt, field=f"line {x.feedetl_sn}")
    except MoneyError as exc:
        raise Refused("E-CLM-006", str(exc)) from exc
    return fees.FeeLineIn(
        feedetl_sn=x.feedetl_sn, init_feedetl_sn="", chrg_bchno="0",
        list_code=x.med_list_codg, medins_code=x.medins_list_codg or x.med_list_codg,
        name=x.name, amount=amount, count=x.cnt, price=x.pric, time=x.fee_ocur_time)


def payee_of(body: PayeeIn) -> Payee:
    """The payee a body names; a window's names the account holder too."""
    holder = body.account_name if isinstance(body, WindowPayeeIn) else ""
    return Payee(body.bank_name, body.bank_account, account_name=holder)
