"""The operator window for institutions (/admin/v1/institutions): networked for
inter-provincial direct settlement, prepaid each month (clearing nets it off), and the
gateway credentials a HIS signs with (the schemes allowed, AK/SK pairs, the x-tif token;
docs/operations.md)."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from yibao.api.admin import DENIED, Gate, Window
from yibao.api.gateway import INSTITUTION_CACHE_SECONDS
from yibao.api.rest import ChinaTime, DecimalRoute
from yibao.domain.roles import Operator
from yibao.services import institutions
from yibao.services.context import Call

# (no "from __future__ import annotations": FastAPI reads the Annotated dependencies)


class Flag(BaseModel):
    enabled: bool


class OpenKindIn(BaseModel):
    kind: str = Field(max_length=20, examples=["a_class"], description=(
        "a_class (A类定点), specialist (专科), tcm (中医), community (社区/一级), or empty: "
        "persons use it only when they designated it (docs/designation.md)"))
class DiseaseService(BaseModel):
    opened: bool = Field(description="true: opened for special-disease care away from "
                         "home; false: closed from now")
    opened_from: ChinaTime | None = Field(None, description="opened from this moment "
                                          "(China Standard Time); empty: now")


class Schemes(BaseModel):
    xtif: bool = Field(description="may sign with x-tif-* (SHA-256 with the token)")
    aksk: bool = Field(description="may sign with AK/SK (_api_*, HmacSHA1 with the SK)")


class KeyIn(BaseModel):
    access_key: str = Field("", description="the AK to issue (an existing pair a HIS holds); "
                            "empty: yibao makes one", examples=[""])
    secret_key: str = Field("", description="the SK to issue with it; empty: yibao makes "
                            "one (shown in the answer, this once)", examples=[""])
    grace_seconds: int = Field(0, description="how long the replaced pair keeps working "
                               "(0..604800; 0: it stops at once)", examples=[0])


class TokenIn(BaseModel):
    token: str = Field("", description="the new x-tif token; empty: yibao makes one (shown "
                       "in the answer, this once)", examples=[""])


FLAGS = {"networked": "networked", "prepay": "prepay"}  # path segment -> column


def _service_view(service: institutions.DiseaseService) -> dict[str, Any]:
    return {"opsp_dise_code": service.disease,
            "opened_from": service.opened_from.isoformat(sep=" "),
            "opened_by": service.opened_by, "opened_at": service.opened_at.isoformat(sep=" "),
            "closed_at": None if service.closed_at is None
            else service.closed_at.isoformat(sep=" "), "closed_by": service.closed_by}


def router(window: Window, gate: Gate, *, forget_institution: Callable[[str], None],
           gateway_now: Callable[[], int]) -> APIRouter:
    """``forget_institution`` drops this process's cached copy of a changed institution
    (other server processes see the change within the gateway's cache time);
    ``gateway_now`` is the gateway's clock (unix seconds) a grace period runs on."""
    api = APIRouter(route_class=DecimalRoute,
                    prefix="/admin/v1/institutions", tags=["admin: institutions"], responses={
        400: {"description": "the body is not JSON"}, **DENIED,
        404: {"description": "no such institution"},
    })

    admin = gate.needs("institutions.flags")

    def set_flag(code: str, column: str, enabled: bool, op: Operator) -> Any:
        def act(call: Call) -> dict[str, Any]:
            institutions.set_flag(call, code, column, enabled)
            forget_institution(code)
            return {"fixmedins_code": code, column: enabled,
                    "effective_within_seconds": INSTITUTION_CACHE_SECONDS}
        return window.run(op, act)

    @api.put("/{code}/networked",
             summary="Networked (or not) for inter-provincial direct settlement (administrator)")
    def networked(code: str, body: Flag, op: Annotated[Operator, admin]) -> Any:
        return set_flag(code, "networked", body.enabled, op)

    @api.put("/{code}/prepay", summary="Prepaid each month (average of recent clearings; "
             "administrator)")
    def prepay(code: str, body: Flag, op: Annotated[Operator, admin]) -> Any:
        return set_flag(code, "prepay", body.enabled, op)

    @api.put("/{code}/open-to-all", summary="The kind that opens the institution to every "
             "insured person without designation, or empty (administrator)")
    def open_to_all(code: str, body: OpenKindIn, op: Annotated[Operator, admin]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            institutions.set_open_kind(call, code, body.kind)
            forget_institution(code)
            return {"fixmedins_code": code, "open_kind": body.kind,
                    "effective_within_seconds": INSTITUTION_CACHE_SECONDS}
        return window.run(op, act)

    @api.get("/{code}/diseases", summary="The special diseases the institution settles "
             "away from home, opened or closed (any operator)")
    def diseases(code: str, op: Annotated[Operator, gate.needs("read")]) -> Any:
        return window.run(op, lambda call: [
            _service_view(s) for s in institutions.disease_services_of(call.conn, code)],
            read_only=True)

    @api.put("/{code}/diseases/{disease}", summary="Open or close special-disease care "
             "away from home for one disease (administrator)")
    def disease_service(code: str, disease: str, body: DiseaseService,
                        op: Annotated[Operator, gate.needs("institutions.diseases")]) -> Any:
        def act(call: Call) -> list[dict[str, Any]]:
            institutions.set_disease_service(call, code, disease, opened=body.opened,
                                             opened_from=body.opened_from)
            return [_service_view(s)
                    for s in institutions.disease_services_of(call.conn, code)]
        return window.run(op, act)

    gateway = gate.needs("institutions.gateway")
    effective = {"effective_within_seconds": INSTITUTION_CACHE_SECONDS}

    def change(op: Operator, code: str, act: Callable[[Call], Any]) -> Any:
        result = window.run(op, act)
        forget_institution(code)  # after the commit: nothing re-reads the old row
        return result

    @api.get("/{code}/gateway", summary="The gateway schemes allowed and the access keys "
             "(no secret; any operator)")
    def gateway_settings(code: str, op: Annotated[Operator, gate.needs("read")]) -> Any:
        return window.run(op, lambda call: institutions.gateway_of(call.conn, code),
                          read_only=True)

    @api.put("/{code}/gateway/schemes", summary="The gateway schemes the institution may "
             "sign with: x-tif, AK/SK or both (administrator)")
    def gateway_schemes(code: str, body: Schemes,
                        op: Annotated[Operator, gateway]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            institutions.set_schemes(call, code, xtif=body.xtif, aksk=body.aksk)
            return {"fixmedins_code": code, "xtif_allowed": body.xtif,
                    "aksk_allowed": body.aksk, **effective}
        return change(op, code, act)

    @api.post("/{code}/gateway/keys", summary="Issue a new AK/SK pair (the SK is shown "
              "this once); the replaced pair stops, or works grace_seconds longer "
              "(administrator)")
    def gateway_key(code: str, body: KeyIn, op: Annotated[Operator, gateway]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            issued = institutions.issue_key(
                call, code, now_unix=gateway_now(), grace_seconds=body.grace_seconds,
                access_key=body.access_key, secret_key=body.secret_key)
            return {"fixmedins_code": code, "access_key": issued.access_key,
                    "secret_key": issued.secret_key,
                    "previous_access_key": issued.previous or None,
                    "previous_until_unix": issued.previous_until, **effective}
        return change(op, code, act)

    @api.post("/{code}/gateway/token", summary="Rotate the x-tif token (shown this once); "
              "the old one stops (administrator)")
    def gateway_token(code: str, body: TokenIn, op: Annotated[Operator, gateway]) -> Any:
        def act(call: Call) -> dict[str, Any]:
            token = institutions.rotate_token(call, code, token=body.token)
            return {"fixmedins_code": code, "token": token, **effective}
        return change(op, code, act)

    return api
