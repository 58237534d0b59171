"""Bureau operators: ``yibao operators create|list|rotate|revoke`` (docs/security.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from yibao.cli.common import DB_OPTION, T, cli_call, console, show_table, write_step
from yibao.store.db import Database

if TYPE_CHECKING:
    from yibao.services.context import Call
    from yibao.services.operators import Issued

app = typer.Typer(help="Bureau operators: roles and bearer tokens (docs/security.md)")
DAYS_OPTION = typer.Option(90, "--days", help="the token expires after this many days")
NAME_ARGUMENT = typer.Argument(..., help="the operator's name")


def _step(db: str, action: Callable[[Call], T]) -> T:
    """One write transaction, as the command line administering operators (the
    operators' log names ``cli``, role administrator); a refusal (unknown operator, name
    taken) exits 1 with its code."""
    from yibao.services.operators import COMMAND_LINE

    return write_step(db, lambda conn: action(cli_call(conn, COMMAND_LINE)),
                      say=lambda refusal: f"{refusal.code} {refusal.message}")


def _show_token(issued: Issued) -> None:
    console.print(f"token of {issued.name} (shown once, store it now): {issued.token}")
    console.print(f"expires {issued.expires_at:%Y-%m-%d %H:%M}")


@app.command("create")
def operators_create(
    name: str = typer.Argument(..., help="the new operator's name: 1..60 letters, digits, "
                               "'.', '_' or '-'"),
    role: list[str] = typer.Option(..., "--role", help="clerk, reviewer, "
                                              "approver, finance, auditor, administrator"),
    days: int = DAYS_OPTION, db: str = DB_OPTION,
) -> None:
    """Create an operator with one or more roles; prints its token once."""
    from yibao.services import operators

    _show_token(_step(db, lambda call: operators.create(call, name, role, days=days)))


@app.command("list")
def operators_list(db: str = DB_OPTION) -> None:
    """Every operator: roles, status, when its live token expires (tokens never shown)."""
    from yibao.services import operators
    from yibao.services.context import china_now

    with Database(db).read() as conn:
        rows = operators.listing(conn, china_now())
    show_table(("name", "roles", "status", "token expires"),
               [(row["name"], row["roles"], row["status"], row["expires_at"] or "-")
                for row in rows])


@app.command("rotate")
def operators_rotate(name: str = NAME_ARGUMENT, days: int = DAYS_OPTION,
                     db: str = DB_OPTION) -> None:
    """A new token for the operator (printed once); the old ones stop working at once."""
    from yibao.services import operators

    _show_token(_step(db, lambda call: operators.rotate(call, name, days=days)))


@app.command("revoke")
def operators_revoke(name: str = NAME_ARGUMENT, db: str = DB_OPTION) -> None:
    """Revoke every token of the operator (effective on the next request)."""
    from yibao.services import operators

    revoked = _step(db, lambda call: operators.revoke(call, name))
    console.print(f"{revoked} token(s) of {name} revoked")
