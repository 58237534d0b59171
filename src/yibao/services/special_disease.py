"""Outpatient special-disease care (门诊慢特病, med_type 14) at home: the registration it
rests on (2020 epidemic measures, item 11; docs/contribution.md).

A 2503 for a person insured where the institution is (the filing's area of treatment is
the insured place) registers the person's disease at home. A special-disease settlement
at home needs such a registration in force, for a disease the visit names among its
diagnoses (2201/2203) when it names any; a registration whose end falls inside a
declared period of the area holds until the period's end plus the policy's extension
days. Away from home nothing changes: ``domain/away.py`` decides on the filings with
the treating institution.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from yibao.domain.filing import home_registration
from yibao.domain.policy import Policy
from yibao.services.visits import diagnosis_codes
from yibao.store import contributions, filings
from yibao.store.lean import Row

MED_TYPE = "14"


def registration_at_home(conn: Connection, *, person: Row, visit: Row,
                         policy: Policy, at: datetime) -> str:
    """The trt_dcla_detl_sn of the registration the visit's settlement rests on
    (E-FIL-013: none)."""
    area = person["insuplc_admdvs"]
    found = home_registration(
        filings.held_by(conn, person["psn_no"]), insured_area=area,
        insutype=visit["insutype"], diseases=frozenset(diagnosis_codes(conn, visit["mdtrt_id"])),
        declared=contributions.declared_of_area(conn, area), terms=policy.contribution, at=at)
    return found.serial
