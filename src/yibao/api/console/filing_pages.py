"""Filings (备案) in the console: a person's filings (or the newest of everyone), each
with its type, places, validity and status; registering one at the window and cancelling
one (clerk), through the same services as /admin/v1 (api/admin_filing.py)."""

# (no "from __future__ import annotations": FastAPI reads the closures' Annotated
# dependencies at definition time)

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from yibao.api.console import forms
from yibao.api.console.web import PREFIX, Console, Viewer, done
from yibao.api.filing_fields import CommitmentFields
from yibao.domain import filing as filing_rules
from yibao.domain.codes import INSUTYPES
from yibao.domain.errors import Refused
from yibao.domain.paging import REST_ROWS_MAX, Page
from yibao.services import filing, institutions
from yibao.services.context import Call

ROWS = REST_ROWS_MAX
PAGE = PREFIX + "/filings"
Field = Annotated[str, Form()]  # checked by forms (a refusal naming it, never a 422)
# the register form's fields (name -> longest text), as admin_filing.FilingIn
FIELDS = {"psn_no": 30, "filing_type": 20, "insutype": 6, "area": 6, "end_date": 10,
          "institution": 30, "disease_code": 30, "disease_name": 300, "reason": 500,
          "commitment_version": filing_rules.COMMITMENT_VERSION_LEN_MAX}


def new_filing(typed: dict[str, str]) -> filing.NewFiling:
    """The register form read as a new filing (E-ENV-004/005 naming a wrong field)."""
    read = {name: forms.text(typed[name], name, max_length=longest,
                             required=name in ("psn_no", "filing_type"))
            for name, longest in FIELDS.items()}
    return filing.NewFiling(
        psn_no=read["psn_no"], filing_type=read["filing_type"], insutype=read["insutype"],
        area=read["area"], end_date=forms.day(read["end_date"], "end_date"),
        institution=read["institution"], disease_code=read["disease_code"],
        disease_name=read["disease_name"], reason=read["reason"],
        commitment=CommitmentFields(
            commitment_signed=forms.ticked(typed.get("commitment_signed", "")),
            commitment_version=read["commitment_version"]).commitment())


def routes(console: Console, api: APIRouter) -> None:
    def listing(request: Request, viewer: Viewer, psn_no: str, *,
                error: Refused | None = None, typed: dict[str, str] | None = None) -> Response:
        now = console.clock()

        def read(conn: Any) -> dict[str, Any]:
            rows = (filing.of_person(conn, psn_no, Page(ROWS)) if psn_no
                    else filing.newest(conn, ROWS))
            return {"filings": [filing.describe(row, now) for row in rows],
                    "institutions": institutions.listing(conn)}

        return console.page(
            request, viewer, "filings.html", status=error.http_status if error else 200,
            error=error, psn_no=psn_no, typed=typed or {"psn_no": psn_no},
            types=filing_rules.TYPES, insutypes=INSUTYPES, **console.look(read))

    @api.get("/filings", response_class=HTMLResponse)
    def filings_page(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
                     psn_no: str = "") -> Response:
        return listing(request, console.needs(viewer, "read"), psn_no.strip()[:30])

    @api.post("/filings", response_class=HTMLResponse)
    def register(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
                 csrf: Field = "", psn_no: Field = "", filing_type: Field = "",
                 insutype: Field = "", area: Field = "", end_date: Field = "",
                 institution: Field = "", disease_code: Field = "", disease_name: Field = "",
                 reason: Field = "", commitment_signed: Field = "",
                 commitment_version: Field = "") -> Response:
        typed = {"psn_no": psn_no, "filing_type": filing_type, "insutype": insutype,
                 "area": area, "end_date": end_date, "institution": institution,
                 "disease_code": disease_code, "disease_name": disease_name,
                 "reason": reason, "commitment_signed": commitment_signed,
                 "commitment_version": commitment_version}
        try:
            serial = console.act(viewer, "filings.register", csrf, lambda call: (
                filing.register_at_window(call, new_filing(typed))))
        except Refused as refusal:
            return listing(request, viewer, psn_no.strip()[:30], error=refusal, typed=typed)
        return done(PAGE, "filing-registered", psn_no=psn_no.strip(), serial=serial)

    @api.post("/filings/{serial}/cancel", response_class=HTMLResponse)
    def cancel(request: Request, serial: str,
               viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Field = "",
               psn_no: Field = "", reason: Field = "") -> Response:
        def act(call: Call) -> None:
            filing.cancel_at_window(
                call, serial, forms.text(psn_no, "psn_no", max_length=30, required=True),
                forms.text(reason, "reason", max_length=500, required=True))
        try:
            console.act(viewer, "filings.cancel", csrf, act)
        except Refused as refusal:
            return listing(request, viewer, psn_no.strip()[:30], error=refusal)
        return done(PAGE, "filing-cancelled", psn_no=psn_no.strip(), serial=serial)
