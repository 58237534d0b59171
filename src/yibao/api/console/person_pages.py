"""Persons in the console: a search (psn_no, ID number or social security card number)
and one person's page: identity, insurance, credentials and their history, filings, the
year's accumulators, settlements explained, claims, suspensions, the contribution
history, online orders and (for auditors and administrators) the audit trail, and the
personal numbers retired into the person's. The changes: a card reported lost or replaced
(clerk), a suspension of direct settlement begun or lifted, a new personal number, a
duplicate record merged into this one (administrator), by the services /admin/v1 calls."""

# (no "from __future__ import annotations": FastAPI reads the closures' Annotated
# dependencies at definition time)

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from yibao.api.admin import AUDIT_ROWS_MAX
from yibao.api.console import forms
from yibao.api.console.web import PREFIX, Console, Viewer, done
from yibao.domain import person_numbers as rules
from yibao.domain.errors import Refused
from yibao.domain.paging import Page
from yibao.services import (
    accumulators,
    audit,
    cards,
    claims,
    contribution,
    designation,
    ecert,
    filing,
    own_data,
    person_numbers,
    persons,
    trust,
)
from yibao.services.context import Call

ROWS = 50  # rows of each list on the person's page (newest first)
EVENTS_SHOWN = 100  # the credentials' identity events shown
CARD_SN_LENGTH_MAX = 50
QUERY_LENGTH_MAX = 60
NUMBER_LENGTH_MAX = rules.PSN_NO_LENGTH_MAX
REASON_LENGTH_MAX = rules.REASON_LENGTH_MAX


def person_view(conn: Connection, psn_no: str, viewer: Viewer,
                now: datetime) -> dict[str, Any]:
    """Everything the person's page shows, read in one snapshot (the audit trail only
    for a viewer allowed to read it); E-PSN-001 for an unknown psn_no."""
    page = Page(ROWS)
    view: dict[str, Any] = {
        "person": persons.get_person(conn, psn_no),
        "insurances": persons.insurances(conn, psn_no),
        "cards": cards.of_person(conn, psn_no),
        "certificates": ecert.certificates_of(conn, psn_no),
        "credential_events": audit.events_of(conn, psn_no, limit=EVENTS_SHOWN,
                                             kinds=audit.CREDENTIAL_EVENTS),
        "filings": [filing.describe(row, now) for row in filing.of_person(conn, psn_no, page)],
        "designations": designation.described(conn, psn_no, now.date())[:ROWS],
        "year": now.year,
        "accumulators": accumulators.for_person(conn, psn_no, year=now.year),
        "settlements": own_data.settlements_of(conn, psn_no, page),
        "claims": claims.of_person(conn, psn_no, page),
        "suspensions": cards.suspensions_of(conn, psn_no, now.date()),
        "orders": own_data.orders_of(conn, psn_no, page),
        "number_changes": person_numbers.history(conn, psn_no),
        "contributions": contribution.history(conn, psn_no),
    }
    if viewer.may("audit.read"):
        view["trail"] = audit.events_of(conn, psn_no, limit=AUDIT_ROWS_MAX)
        view["attestations"] = trust.attestations_of(conn, psn_no)
    return view


def own_card(conn: Connection, psn_no: str, card_no: str) -> None:
    """The card is one of the person's (E-PSN-007 otherwise)."""
    if cards.holder_of(conn, card_no) != psn_no:
        raise Refused("E-PSN-007", f"the person has no card {card_no}")


def own_suspension(conn: Connection, psn_no: str, suspension_id: str, now: datetime) -> int:
    """The id of one of the person's suspensions (E-PSN-008 otherwise)."""
    mine = {str(row["id"]): int(row["id"])
            for row in cards.suspensions_of(conn, psn_no, now.date())}
    if suspension_id not in mine:
        raise Refused("E-PSN-008", f"the person has no suspension {suspension_id[:20]}")
    return mine[suspension_id]


def suspension_of(psn_no: str, begin_date: str, end_date: str,
                  reason: str) -> Callable[[Call], int]:
    """The suspension an administrator typed, checked field by field before the service
    checks the period (the same service as POST /admin/v1/persons/{psn_no}/suspensions)."""
    begin = forms.required_day(begin_date, "begin_date")
    end = forms.required_day(end_date, "end_date")
    why = forms.text(reason, "reason", max_length=cards.REASON_LENGTH_MAX, required=True)

    def act(call: Call) -> int:
        persons.get_person(call.conn, psn_no)
        return cards.suspend(call, psn_no, begin, end, why)
    return act


def routes(console: Console, api: APIRouter) -> None:
    Csrf = Annotated[str, Form(max_length=100)]

    def show(request: Request, viewer: Viewer, psn_no: str, error: Refused | None = None,
             **typed: str) -> Response:
        try:
            view = console.look(lambda conn: person_view(conn, psn_no, viewer, console.clock()))
        except Refused as refusal:
            return console.page(request, viewer, "missing.html",
                                status=refusal.http_status, error=refusal)
        return console.page(request, viewer, "person.html", status=error.http_status
                            if error else 200, error=error, typed=typed, **view)

    def change(request: Request, viewer: Viewer, psn_no: str, permission: str, csrf: str,
               action: Callable[[Call], object], what: str, **typed: str) -> Response:
        try:
            console.act(viewer, permission, csrf, action)
        except Refused as refusal:
            return show(request, viewer, psn_no, refusal, **typed)
        return done(f"{PREFIX}/persons/{psn_no}", what)

    @api.get("/persons", response_class=HTMLResponse)
    def search_form(request: Request,
                    viewer: Annotated[Viewer, Depends(console.viewer)]) -> Response:
        return console.page(request, console.needs(viewer, "read"), "persons.html", q="",
                            found=[])

    # a POST: an ID number searched for stays out of URLs, histories and access logs
    @api.post("/persons", response_class=HTMLResponse)
    def search(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
               q: Annotated[str, Form()] = "") -> Response:
        console.needs(viewer, "read")
        wanted = q.strip()[:QUERY_LENGTH_MAX]
        found = console.look(lambda conn: persons.search(conn, wanted)) if wanted else []
        return console.page(request, viewer, "persons.html", q=wanted, found=found)

    @api.get("/persons/{psn_no}", response_class=HTMLResponse)
    def person_page(request: Request, psn_no: str,
                    viewer: Annotated[Viewer, Depends(console.viewer)]) -> Response:
        return show(request, console.needs(viewer, "read"), psn_no)

    @api.post("/persons/{psn_no}/cards/{card_no}/loss")
    def report_lost(request: Request, psn_no: str, card_no: str,
                    viewer: Annotated[Viewer, Depends(console.viewer)],
                    csrf: Csrf = "") -> Response:
        def act(call: Call) -> None:
            own_card(call.conn, psn_no, card_no)
            cards.report_lost(call, card_no)
        return change(request, viewer, psn_no, "cards.loss", csrf, act, "card-lost")

    @api.post("/persons/{psn_no}/cards/{card_no}/replacement")
    def replace_card(request: Request, psn_no: str, card_no: str,
                     viewer: Annotated[Viewer, Depends(console.viewer)],
                     csrf: Csrf = "", card_sn: Annotated[str, Form()] = "") -> Response:
        def act(call: Call) -> None:
            own_card(call.conn, psn_no, card_no)
            cards.replace(call, card_no, forms.text(card_sn, "card_sn", required=True,
                                                    max_length=CARD_SN_LENGTH_MAX))
        return change(request, viewer, psn_no, "cards.replace", csrf, act, "card-replaced")

    @api.post("/persons/{psn_no}/suspensions")
    def suspend(request: Request, psn_no: str,
                viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Csrf = "",
                begin_date: Annotated[str, Form()] = "", end_date: Annotated[str, Form()] = "",
                reason: Annotated[str, Form()] = "") -> Response:
        typed = {"begin_date": begin_date[:10], "end_date": end_date[:10],
                 "reason": reason[:cards.REASON_LENGTH_MAX]}

        def act(call: Call) -> int:
            return suspension_of(psn_no, begin_date, end_date, reason)(call)
        return change(request, viewer, psn_no, "suspensions.change", csrf, act, "suspended",
                      **typed)

    def renumber_or_merge(request: Request, viewer: Viewer, psn_no: str, permission: str,
                          csrf: str, action: Callable[[Call], person_numbers.Changed],
                          **typed: str) -> Response:
        """After the change, the surviving person's page (a renumbered person's new one)."""
        try:
            changed = console.act(viewer, permission, csrf, action)
        except Refused as refusal:
            return show(request, viewer, psn_no, refusal, **typed)
        what = "renumbered" if changed.kind is rules.ChangeKind.RENUMBER else "merged"
        return done(f"{PREFIX}/persons/{changed.new_psn_no}", what)

    @api.post("/persons/{psn_no}/number-change")
    def number_change(request: Request, psn_no: str,
                      viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Csrf = "",
                      new_psn_no: Annotated[str, Form()] = "",
                      reason: Annotated[str, Form()] = "") -> Response:
        typed = {"new_psn_no": new_psn_no[:NUMBER_LENGTH_MAX],
                 "number_reason": reason[:REASON_LENGTH_MAX]}

        def act(call: Call) -> person_numbers.Changed:
            return person_numbers.renumber(call, psn_no, new_psn_no, reason)
        return renumber_or_merge(request, viewer, psn_no, "persons.renumber", csrf, act,
                                 **typed)

    @api.post("/persons/{psn_no}/merge")
    def merge(request: Request, psn_no: str,
              viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Csrf = "",
              duplicate_psn_no: Annotated[str, Form()] = "",
              reason: Annotated[str, Form()] = "") -> Response:
        typed = {"duplicate_psn_no": duplicate_psn_no[:NUMBER_LENGTH_MAX],
                 "merge_reason": reason[:REASON_LENGTH_MAX]}

        def act(call: Call) -> person_numbers.Changed:
            duplicate = forms.text(duplicate_psn_no, "duplicate_psn_no", required=True,
                                   max_length=NUMBER_LENGTH_MAX)
            return person_numbers.merge(call, duplicate, psn_no, reason)
        return renumber_or_merge(request, viewer, psn_no, "persons.merge", csrf, act, **typed)

    @api.post("/persons/{psn_no}/suspensions/{suspension_id}/lift")
    def lift(request: Request, psn_no: str, suspension_id: str,
             viewer: Annotated[Viewer, Depends(console.viewer)], csrf: Csrf = "") -> Response:
        def act(call: Call) -> None:
            cards.lift(call, own_suspension(call.conn, psn_no, suspension_id, call.now))
        return change(request, viewer, psn_no, "suspensions.change", csrf, act, "lifted")
