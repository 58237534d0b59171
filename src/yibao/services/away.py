"""Care away from the insured place (异地就医): may this visit settle directly here, on
what basis, and the cost information the treatment place owes the national platform.
A manual reimbursement of such care rests on the filing it names only where this
module's rules would have let the same care settle on it (``claim_basis``).

The rules are pure, in ``domain/away.py``; this module reads their records (the
person's filings from store/filings.py, the visit's facts from its row) and calls them.

"Catalogue of the place of treatment, policy of the insured place": fee lines were
classified against this institution's area catalogue when uploaded; the policy (and its
ratio cut for the basis found here) is the insured place's. Accumulators are the
person's own, whichever place settles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from yibao.domain import away as rules
from yibao.domain.away import Away, Claimed
from yibao.domain.errors import Refused
from yibao.domain.filing import Filing, Relationship
from yibao.domain.money import fen_to_yuan
from yibao.domain.policy import Policy
from yibao.services import outbox
from yibao.services.context import Institution
from yibao.store import disease_services, filings
from yibao.store.lean import Row
from yibao.store.schema import SETTLEMENT_AMOUNTS

__all__ = ["Away", "Claimed", "claim_basis", "claim_needs", "claimed", "decide",
           "named_filing", "send_cost_information", "serves", "visit_facts"]

COST_KIND = "away-cost"


def decide(
    conn: Connection, *, person: Row, insurance: Row, visit: Row,
    institution: Institution, policy: Policy, now: datetime,
) -> Away | None:
    """None at home; otherwise the basis, or a refusal that says why and what to do
    (``domain.away.direct_basis`` over the person's filings)."""
    relationship = current_relationship(person, insurance)
    site = site_of(institution)
    if not rules.settles_away(relationship, site):
        return None
    facts = visit_facts(visit)
    if facts.is_special_disease:  # which diseases it opened: read for such care only
        site = replace(site, diseases=disease_services.opened(conn, site.code, now))
    return rules.direct_basis(
        filings.held_by(conn, person["psn_no"]), facts, site=site,
        relationship=relationship, policy=policy, at=now)


def current_relationship(person: Row, insurance: Row) -> Relationship:
    """The person's insured relationship now: a filing counts only if made under it."""
    return Relationship(insurance["insutype"], person["insuplc_admdvs"], insurance["emp_name"])


def site_of(institution: Institution) -> rules.Site:
    return rules.Site(institution.code, institution.pool_area, institution.networked)


def visit_facts(visit: Row) -> rules.VisitFacts:
    """What the away-from-home rules read of a ``visit`` row."""
    return rules.VisitFacts(
        mdtrt_id=visit["mdtrt_id"], med_type=visit["med_type"],
        emergency=visit["emergency"] == "1", injury=visit["trum_flag"] == "1",
        third_party=visit["rel_ttp_flag"] == "1", begin=visit["begntime"],
        end=visit["endtime"], institution=visit["fixmedins_code"],
        area=visit["mdtrtarea_admvs"], insured_area=visit["insuplc_admdvs"])


def serves(filing: Filing, visit: Row, at: datetime) -> bool:
    """Whether a direct settlement of the visit at ``at`` could rest on the filing
    (``domain.away.serves``)."""
    return rules.serves(filing, visit_facts(visit), at)


# ---------------------------------------------------------------- manual reimbursement


claimed = rules.claimed


def named_filing(conn: Connection, psn_no: str, serial: str) -> Filing:
    """The person's filing a manual reimbursement names (E-FIL-005: not the person's)."""
    found = filings.named(conn, psn_no, serial)
    if found is None:
        raise Refused("E-FIL-005", f"trt_dcla_detl_sn {serial}")
    return found


def claim_basis(
    conn: Connection, named: Filing | None, *, person: Row, insurance: Row,
    visit: Row, institution: Institution,
) -> Claimed:
    """The basis of a manual reimbursement of care away from home (``visit``, over):
    ``domain.away.claim_basis``; the person's filings are read for injury care only."""
    facts = visit_facts(visit)
    held = filings.held_by(conn, person["psn_no"]) if facts.is_injury else []
    return rules.claim_basis(held, named, facts, site=site_of(institution),
                             relationship=current_relationship(person, insurance))


def claim_needs(filing: Filing, visit: Row) -> bool:
    """Whether a manual reimbursement of the visit may rest on the injury declaration
    ``filing`` (``domain.away.claim_needs``)."""
    return rules.claim_needs(filing, visit_facts(visit))


# ---------------------------------------------------------------- cost information


def send_cost_information(
    conn: Connection, row: dict[str, Any], funds: list[dict[str, Any]],
    lines: Sequence[Row], now: datetime,
) -> None:
    """Queue the settlement's (or cancellation's) cost information for the national
    platform, in the settlement's own transaction (docs/outbox.md)."""
    payload = {
        "setlinfo": {
            **{k: row[k] for k in (
                "setl_id", "mdtrt_id", "psn_no", "fixmedins_code", "kind", "reverses",
                "insutype", "psn_type", "med_type", "clr_type", "insuplc_admdvs",
                "mdtrtarea_admvs", "trt_dcla_detl_sn", "away_basis", "policy_id")},
            "setl_time": row["setl_time"].isoformat(sep=" "),
            **{k: fen_to_yuan(row[k]) for k in SETTLEMENT_AMOUNTS},
        },
        "setldetail": [
            {"fund_pay_type": f["fund_pay_type"], "inscp_scp_amt": fen_to_yuan(f["inscp_scp_amt"]),
             "fund_payamt": fen_to_yuan(f["fund_payamt"])}
            for f in funds
        ],
        "feedetail": [
            {"feedetl_sn": x["feedetl_sn"], "med_list_codg": x["med_list_codg"],
             "cnt": x["cnt"], "pric": x["pric"],
             "det_item_fee_sumamt": fen_to_yuan(x["det_item_fee_sumamt"]),
             "chrgitm_lv": x["chrgitm_lv"], "inscp_scp_amt": fen_to_yuan(x["inscp_scp_amt"])}
            for x in lines
        ],
    }
    outbox.enqueue(conn, key=f"cost:{row['setl_id']}", kind=COST_KIND, psn_no=row["psn_no"],
                   payload=payload, now=now)
