"""Institutions as the operators change them: the networked and prepay flags, each change
audited in its own transaction (docs/security.md, Operators); and as a HIS looks them up
(1201)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection

from yibao.domain.errors import Refused
from yibao.services import audit
from yibao.services.context import Call
from yibao.store import institutions


def set_flag(call: Call, code: str, flag: str, enabled: bool) -> None:
    """Set ``flag`` (networked, prepay) of the institution ``code``, with its audit rows."""
    if not institutions.set_flag(call.conn, code, flag, enabled):
        raise Refused("E-ADM-001", f"no such institution {code}")
    audit.record(call.conn, kind=flag, psn_no=None, actor=call.actor.name, at=call.now,
                 place=code, detail=str(enabled))
    audit.action(call, f"institution.{flag}", code, enabled=enabled)


def names(conn: Connection, codes: Iterable[str]) -> dict[str, str]:
    """Institution code -> name, for the codes that exist."""
    return institutions.names(conn, codes)


# fixmedins_type (定点医疗服务机构类型) -> the kind of institution yibao keeps; the
# other types (3 work-injury rehabilitation, 4 assistive devices, 5 family planning) have
# no institutions in yibao
KIND_BY_TYPE = {"1": "hospital", "2": "pharmacy"}
# hosp_lv (医院等级) of a hospital tier: yibao keeps the tier, not the grade (甲/乙/丙)
HOSP_LV_BY_TIER = {3: "12", 2: "13", 1: "14"}  # 三级无等, 二级无等, 一级无等


@dataclass(frozen=True, slots=True)
class Found:
    """1201's answer for one institution."""

    code: str
    name: str
    uscc: str
    fixmedins_type: str
    hosp_lv: str


def look_up(conn: Connection, fixmedins_type: str, *, name_part: str, code: str) -> list[Found]:
    """1201: the designated institutions of a type matching a name part or a code (at
    least one must be given: E-ENV-004)."""
    if not name_part and not code:
        raise Refused("E-ENV-004", "input.medinsinfo.fixmedins_name or fixmedins_code "
                      "(at least one)")
    kind = KIND_BY_TYPE.get(fixmedins_type)
    if kind is None:
        return []
    return [Found(r["fixmedins_code"], r["name"], r["uscc"], fixmedins_type,
                  HOSP_LV_BY_TIER.get(r["level"], "") if kind == "hospital" else "")
            for r in institutions.search(conn, kind, name_part=name_part, code=code)]
