"""Institutions as the operators change them: the networked and prepay flags, and the
gateway credentials (the schemes allowed, the AK/SK pairs, the x-tif token); each change
audited in its own transaction (docs/security.md, Operators); and as a HIS looks them up
(1201)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from yibao.domain import gateway_keys
from yibao.domain.designation import OPEN_KINDS
from yibao.domain.errors import Refused
from yibao.services import audit
from yibao.services.context import Call
from yibao.store import disease_services, institutions

GENERATED_ACCESS_KEY_HEX = 16  # bytes: 32 hex digits
GENERATED_SECRET_HEX = 24  # bytes: 48 hex digits, 192 bits


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """An AK/SK pair just issued: the secret is shown this once. ``previous`` is the
    pair it replaced when that one keeps working until ``previous_until`` (unix
    seconds); both empty when the replaced pair (if any) stopped at once."""

    access_key: str
    secret_key: str
    previous: str = ""
    previous_until: int | None = None


def set_flag(call: Call, code: str, flag: str, enabled: bool) -> None:
    """Set ``flag`` (networked, prepay) of the institution ``code``, with its audit rows."""
    if not institutions.set_flag(call.conn, code, flag, enabled):
        raise Refused("E-ADM-001", f"no such institution {code}")
    audit.record(call.conn, kind=flag, psn_no=None, actor=call.actor.name, at=call.now,
                 place=code, detail=str(enabled))
    audit.action(call, f"institution.{flag}", code, enabled=enabled)


def set_open_kind(call: Call, code: str, kind: str) -> None:
    """The kind that opens the institution to everyone without designation (a_class,
    specialist, tcm, community; '' none: persons must designate it): whether that kind
    is open is the insured place's policy (``[designation] open_to_all``)."""
    if kind not in ("", *OPEN_KINDS):
        raise Refused("E-DES-008", f"{kind[:20]!r}: one of {', '.join(OPEN_KINDS)} or empty")
    if not institutions.set_open_kind(call.conn, code, kind):
        raise Refused("E-ADM-001", f"no such institution {code}")
    audit.record(call.conn, kind="open_kind", psn_no=None, actor=call.actor.name,
                 at=call.now, place=code, detail=kind or "none")
    audit.action(call, "institution.open_kind", code, open_kind=kind)


DISEASE_CODE_LEN_MAX = 30
DiseaseService = disease_services.Service


def set_disease_service(call: Call, code: str, disease: str, *, opened: bool,
                        opened_from: datetime | None = None) -> None:
    """Open (from ``opened_from``, default now) or close (now) the institution's
    special-disease care away from home for ``disease`` (the 2022 notice), audited."""
    if not disease or len(disease) > DISEASE_CODE_LEN_MAX or not disease.isprintable():
        raise Refused("E-ADM-012", f"opsp_dise_code: 1..{DISEASE_CODE_LEN_MAX} characters")
    if not institutions.lock(call.conn, code):
        raise Refused("E-ADM-001", f"no such institution {code}")
    by = call.actor.name
    if opened:
        disease_services.open_service(call.conn, code, disease, by=by, at=call.now,
                                      opened_from=opened_from or call.now)
    elif not disease_services.close_service(call.conn, code, disease, by=by, at=call.now):
        raise Refused("E-ADM-012", f"{code} has not opened {disease}: nothing to close")
    detail = f"{disease} opened={opened} from={opened_from or call.now}"
    audit.record(call.conn, kind="disease_service", psn_no=None, actor=by, at=call.now,
                 place=code, detail=detail)
    audit.action(call, "institution.disease_service", code, disease=disease, opened=opened)


def disease_services_of(conn: Connection, code: str) -> list[DiseaseService]:
    """The diseases the institution opened or closed for care away from home (E-ADM-001
    when there is no such institution)."""
    if institutions.find(conn, code) is None:
        raise Refused("E-ADM-001", f"no such institution {code}")
    return disease_services.of_institution(conn, code)


def set_schemes(call: Call, code: str, *, xtif: bool, aksk: bool) -> None:
    """Which gateway schemes the institution may sign with (at least one)."""
    if not (xtif or aksk):
        raise Refused("E-ADM-008", "allow at least one gateway scheme (x-tif or AK/SK)")
    if not institutions.set_schemes(call.conn, code, xtif=xtif, aksk=aksk):
        raise Refused("E-ADM-001", f"no such institution {code}")
    detail = f"xtif={xtif} aksk={aksk}"
    audit.record(call.conn, kind="gateway_schemes", psn_no=None, actor=call.actor.name,
                 at=call.now, place=code, detail=detail)
    audit.action(call, "institution.gateway_schemes", code, xtif=xtif, aksk=aksk)


def issue_key(
    call: Call, code: str, *, now_unix: int, grace_seconds: int = 0, access_key: str = "",
    secret_key: str = "",
) -> IssuedKey:
    """A new current AK/SK pair for the institution: ``access_key`` and ``secret_key``
    as given (an existing pair a HIS already holds) or made here. The current pair stops
    at once, or keeps working ``grace_seconds`` longer (from ``now_unix``, the gateway
    clock); a pair already in its grace period stops at once. Whether AK/SK is allowed
    is set apart (``set_schemes``)."""
    problem = (gateway_keys.grace_problem(grace_seconds)
               or (access_key and gateway_keys.access_key_problem(access_key))
               or (secret_key and gateway_keys.secret_problem(secret_key)))
    if problem:
        raise Refused("E-ADM-008", problem)
    if not institutions.lock(call.conn, code):
        raise Refused("E-ADM-001", f"no such institution {code}")
    access_key = access_key or call.ids.random_hex(GENERATED_ACCESS_KEY_HEX)
    secret_key = secret_key or call.ids.random_hex(GENERATED_SECRET_HEX)
    if institutions.access_key_taken(call.conn, access_key):
        raise Refused("E-ADM-009", access_key)
    current = [key for key, retires in institutions.access_keys(call.conn, code)
               if retires is None]
    until = now_unix + grace_seconds if grace_seconds and current else None
    institutions.retire_keys(call.conn, code, retires_at_unix=until)
    institutions.add_key(call.conn, code, access_key, secret_key, call.now)
    detail = f"access_key={access_key} grace={grace_seconds}s"
    audit.record(call.conn, kind="gateway_key", psn_no=None, actor=call.actor.name,
                 at=call.now, place=code, detail=detail)
    audit.action(call, "institution.gateway_key", code, access_key=access_key,
                 replaced=current[0] if current else None, grace_seconds=grace_seconds)
    if until is None:
        return IssuedKey(access_key, secret_key)
    return IssuedKey(access_key, secret_key, previous=current[0], previous_until=until)


def rotate_token(call: Call, code: str, *, token: str = "") -> str:
    """A new x-tif token for the institution (``token`` as given, or made here); the old
    one stops at once (no grace: x-tif names no key, see docs/operations.md)."""
    problem = token and gateway_keys.secret_problem(token, what="token")
    if problem:
        raise Refused("E-ADM-008", problem)
    token = token or call.ids.random_hex(GENERATED_SECRET_HEX)
    if not institutions.set_token(call.conn, code, token):
        raise Refused("E-ADM-001", f"no such institution {code}")
    audit.record(call.conn, kind="gateway_token", psn_no=None, actor=call.actor.name,
                 at=call.now, place=code, detail="rotated")
    audit.action(call, "institution.gateway_token", code)
    return token


def gateway_of(conn: Connection, code: str) -> dict[str, object]:
    """What an operator sees of the institution's gateway settings (no secret)."""
    found = institutions.find(conn, code)
    if found is None:
        raise Refused("E-ADM-001", f"no such institution {code}")
    keys = institutions.access_keys(conn, code)
    return {
        "fixmedins_code": code, "xtif_allowed": found.xtif_allowed,
        "aksk_allowed": found.aksk_allowed,
        "access_key": next((key for key, retires in keys if retires is None), None),
        "retiring": [{"access_key": key, "until_unix": retires}
                     for key, retires in keys if retires is not None],
    }


listing = institutions.listing  # every institution with its flags, by code
FLAGS = tuple(sorted(institutions.FLAGS))  # the flags an operator switches (set_flag)
OPEN_KIND_CHOICES = ("", *OPEN_KINDS)  # an institution's open-to-all kinds (set_open_kind)


def listed(conn: Connection, code: str) -> institutions.Listed:
    """One institution with its flags (E-ADM-001 when there is none)."""
    found = institutions.listed(conn, code)
    if found is None:
        raise Refused("E-ADM-001", f"no such institution {code}")
    return found


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
