"""The entitlement check (2001): is the person insured on the day, and which funds would
pay for the kind of care under the person's policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection

from yibao.domain.codes import pool_fund
from yibao.domain.errors import Refused
from yibao.domain.policy import Policy, Scheme, select_policy
from yibao.services import persons

IN_FORCE = "正常"


@dataclass(frozen=True, slots=True)
class Entitlement:
    active: bool
    reason: str  # IN_FORCE, or why not
    funds: tuple[str, ...]  # fund_pay_type codes, never empty


def decide(
    insured: Refused | None, scheme: Scheme | None, *, insutype: str, med_type: str
) -> Entitlement:
    """The answer from the insurance check (None: in force, else its refusal) and the
    policy's scheme for the kind of care (None: not covered): the scheme's funds, or the
    insurance type's pooling fund when there is no scheme."""
    active, reason = (True, IN_FORCE) if insured is None else (False, insured.message)
    if scheme is None:
        if active:
            active, reason = False, f"med_type {med_type} not covered for insutype {insutype}"
        return Entitlement(active, reason, (pool_fund(insutype),))
    funds = tuple(stage.fund for stage in scheme.stages)
    return Entitlement(active, reason, funds or (pool_fund(insutype),))


def check(
    conn: Connection, policies: tuple[Policy, ...], psn_no: str, *, insutype: str,
    med_type: str, day: date,
) -> Entitlement:
    person = persons.get_person(conn, psn_no)
    insured: Refused | None = None
    try:
        persons.active_insurance(conn, psn_no, insutype, day)
    except Refused as refusal:
        insured = refusal
    policy = select_policy(policies, region=person["insuplc_admdvs"], insutype=insutype,
                           day=day)
    scheme = None if policy is None else policy.scheme_for(med_type)
    return decide(insured, scheme, insutype=insutype, med_type=med_type)
