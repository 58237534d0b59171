"""Online orders: ``yibao orders sweep|reconcile`` (docs/online-payment.md)."""

from __future__ import annotations

from datetime import date

import typer

from yibao.cli.common import DB_OPTION, console
from yibao.store.db import Database
from yibao.thirdpay.platform import Platform

app = typer.Typer(help="Online orders of the mobile-payment centre: sweep, reconcile")


def _platform() -> Platform:
    from yibao.api.app import online_from_env

    platform = online_from_env().platform
    if platform is None:
        raise typer.BadParameter("set YIBAO_WECHATPAY_URL (docs/online-payment-platform.md)")
    return platform


@app.command("sweep")
def orders_sweep(db: str = DB_OPTION) -> None:
    """One pass of the sweeper: orders past their lifetime, held orders unheard of,
    refunds still pending at the platform."""
    from yibao.services.context import Ids, china_now
    from yibao.services.online_payment import Sweeper
    from yibao.store.policy_files import load_policies

    sweeper = Sweeper(Database(db), _platform(), clock=china_now, ids=Ids(china_now),
                      policies=load_policies())
    counts = sweeper.run_once()
    console.print(", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing due")


@app.command("reconcile")
def orders_reconcile(
    day: str = typer.Option(..., "--day", help="the bill's day, YYYY-MM-DD (China time)"),
    db: str = DB_OPTION,
) -> None:
    """The payment platform's bill of a day against yibao's orders; exit 1 when they
    differ (each difference printed with its kind)."""
    from yibao.services.online_reconcile import reconcile

    with Database(db).read() as conn:
        found = reconcile(conn, _platform(), date.fromisoformat(day))
    for d in found:
        console.print(f"{d.kind.value}\t{d.out_trade_no}\tyibao {d.ours}\tplatform {d.theirs}")
    if found:
        raise typer.Exit(1)
    console.print(f"{day}: the bill and the orders agree")
