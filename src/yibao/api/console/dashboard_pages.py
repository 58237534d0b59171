"""The dashboard: charts of the settlements of a period (per day, institution level, pair
of regions, med_type), the claims waiting and the outbox's backlog by age, and the
refused national messages per institution (docs/console.md, Dashboard). Every chart
comes with its numbers as a table."""

# (no "from __future__ import annotations": FastAPI reads the closures' Annotated
# dependencies at definition time)

from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from yibao.api.console import forms
from yibao.api.console.charts import Figure, chart, yuan_of
from yibao.api.console.i18n import gettext_of
from yibao.api.console.web import Console, Viewer, yuan
from yibao.domain.codes import MED_TYPES
from yibao.domain.errors import Refused
from yibao.services import advance, dashboard, fever
from yibao.services.dashboard import Period, Refusals, Tally, Waiting
from yibao.services.fever import FeverDay

Text = Callable[..., str]


def routes(console: Console, api: APIRouter) -> None:
    @api.get("/dashboard", response_class=HTMLResponse)
    def dashboard_page(request: Request, viewer: Annotated[Viewer, Depends(console.viewer)],
                       first: Annotated[str, Query(alias="from")] = "",
                       last: Annotated[str, Query(alias="to")] = "") -> Response:
        console.needs(viewer, "read")
        now = console.clock()
        error: Refused | None = None
        try:
            chosen = dashboard.period(forms.day(first, "from"), forms.day(last, "to"), now.date())
        except Refused as refusal:
            error, chosen = refusal, dashboard.period(None, None, now.date())
        figures = console.look(lambda conn: _figures(gettext_of(viewer.lang), chosen, {
            "day": dashboard.per_day(conn, chosen), "level": dashboard.per_level(conn, chosen),
            "region": dashboard.per_region_pair(conn, chosen),
            "med_type": dashboard.per_med_type(conn, chosen)},
            dashboard.claims_waiting(conn, now), dashboard.outbox_backlog(conn, now),
            dashboard.refusals(conn, chosen), fever.report(conn, chosen)))
        low = console.look(lambda conn: advance.low(conn, console.policies, now.date()))
        return console.page(request, viewer, "dashboard.html", period=chosen,
                            figures=figures, error=error, low_advances=low,
                            status=error.http_status if error else 200)


def _figures(_: Text, chosen: Period, tallies: dict[str, list[Tally]],
             claims: list[Waiting], backlog: list[Waiting],
             refused: list[Refusals], fevers: list[FeverDay]) -> list[Figure]:
    return [
        _per_day(_, tallies["day"]),
        _tallied(_, "per-level", _("Settlements by institution level"), _("Level"),
                 tallies["level"], lambda key: _("level:" + key)),
        _tallied(_, "per-region", _("Settlements by insured place → treatment place"),
                 _("Insured place → treatment place"), tallies["region"], _pair,
                 kind="hbar"),
        _tallied(_, "per-med-type", _("Settlements by med_type"), _("med_type"),
                 tallies["med_type"], _med_type),
        _waiting(_, "claims-waiting", _("Claims waiting, by age since they were made"),
                 claims, "claim:"),
        _waiting(_, "outbox-backlog", _("Outbox messages not delivered, by age"), backlog,
                 "status:"),
        _refusals(_, chosen, refused),
        _fever(_, chosen, fevers),
    ]


def _pair(key: str) -> str:
    """``110000>130100`` as the page shows it."""
    return key.replace(">", " → ")


def _med_type(code: str) -> str:
    return f"{code} {MED_TYPES.get(code, '')}".strip()


def _tally_header(_: Text, first: str) -> tuple[str, ...]:
    return (first, _("Settlements"), _("Cancellations"), _("Medical fees, net (yuan)"),
            _("Fund paid, net (yuan)"))


def _tally_rows(tallies: Sequence[Tally], label: Callable[[str], str]
                ) -> tuple[tuple[str, ...], ...]:
    return tuple((label(t.key), str(t.settlements), str(t.cancellations), yuan(t.medfee),
                  yuan(t.fund)) for t in tallies)


def _per_day(_: Text, days: list[Tally]) -> Figure:
    svg = chart("line", [t.key[5:] for t in days],
                [(_("Settlements"), [t.settlements for t in days]),
                 (_("Cancellations"), [t.cancellations for t in days])],
                secondary=[(_("Fund paid, net (yuan)"), [yuan_of(t.fund) for t in days])])
    return Figure("per-day", _("Settlements and fund paid per day"), svg,
                  _tally_header(_, _("Day")), _tally_rows(days, str))


def _tallied(_: Text, name: str, caption: str, first: str, tallies: list[Tally],
             label: Callable[[str], str], *, kind: str = "bar") -> Figure:
    labels = [label(t.key) for t in tallies]
    svg = chart(kind, labels,
                [(_("Settlements"), [t.settlements for t in tallies]),
                 (_("Cancellations"), [t.cancellations for t in tallies])],
                secondary=[(_("Fund paid, net (yuan)"), [yuan_of(t.fund) for t in tallies])])
    return Figure(name, caption, svg, _tally_header(_, first), _tally_rows(tallies, label))


def _waiting(_: Text, name: str, caption: str, rows: list[Waiting], status: str) -> Figure:
    ages = list(dict.fromkeys(w.age for w in rows))
    statuses = list(dict.fromkeys(w.status for w in rows))
    count = {(w.status, w.age): w.count for w in rows}
    svg = chart("bar", [_("age:" + a) for a in ages],
                [(_(status + s), [count[s, a] for a in ages]) for s in statuses], stacked=True)
    header = (_("Status"), *(_("age:" + a) for a in ages))
    table = tuple((_(status + s), *(str(count[s, a]) for a in ages)) for s in statuses)
    return Figure(name, caption, svg, header, table)


def _refusals(_: Text, chosen: Period, rows: list[Refusals]) -> Figure:
    days = chosen.days
    per: dict[str, dict[date, int]] = {}
    for r in rows:
        day = per.setdefault(r.fixmedins_code, {})
        day[r.day] = day.get(r.day, 0) + r.count
    svg = chart("line", [d.isoformat()[5:] for d in days],
                [(code, [per[code].get(d, 0) for d in days]) for code in sorted(per)])
    table = tuple((r.day.isoformat(), r.fixmedins_code, r.code, str(r.count)) for r in rows)
    return Figure("refusals", _("Refused national messages per institution and day"), svg,
                  (_("Day"), _("Institution"), _("Error code"), _("Refusals")), table)


def _fever(_: Text, chosen: Period, rows: list[FeverDay]) -> Figure:
    """Fever-clinic settlements (docs/fever.md): per day in the chart, per institution and
    day in the table."""
    days = chosen.days
    count: dict[date, int] = {}
    fund: dict[date, int] = {}
    for r in rows:
        count[r.day] = count.get(r.day, 0) + r.settlements
        fund[r.day] = fund.get(r.day, 0) + r.fund
    svg = chart("line", [d.isoformat()[5:] for d in days],
                [(_("Settlements"), [count.get(d, 0) for d in days])],
                secondary=[(_("Fund paid, net (yuan)"), [yuan_of(fund.get(d, 0)) for d in days])])
    header = (_("Day"), _("Institution"), _("Settlements"), _("Cancellations"),
              _("Medical fees, net (yuan)"), _("Fund paid, net (yuan)"),
              _("Person's part, net (yuan)"))
    table = tuple((r.day.isoformat(), r.fixmedins_code, str(r.settlements),
                   str(r.cancellations), yuan(r.medfee), yuan(r.fund), yuan(r.person))
                  for r in rows)
    return Figure("fever", _("Fever-clinic settlements per institution and day"), svg,
                  header, table)
