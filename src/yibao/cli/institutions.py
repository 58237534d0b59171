"""Institutions' gateway credentials: ``yibao institutions gateway|schemes|issue-key|
rotate-token`` (docs/operations.md). Each change is a row of the operators' log naming
the command line; a running server sees it within the gateway's institution cache time
(60 s)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from yibao.cli.common import DB_OPTION, T, cli_call, console, write_step
from yibao.store.db import Database

if TYPE_CHECKING:
    from yibao.services.context import Call

app = typer.Typer(help="Institutions' gateway credentials: schemes, AK/SK pairs, x-tif token")
EFFECTIVE = "a running server uses it within 60 s (its institution cache)"
CODE_ARGUMENT = typer.Argument(..., help="the institution's fixmedins_code")


def _step(db: str, action: Callable[[Call], T]) -> T:
    """One write transaction as the command line (role administrator); a refusal exits 1
    with its code and message."""
    from yibao.services.operators import COMMAND_LINE

    return write_step(db, lambda conn: action(cli_call(conn, COMMAND_LINE)),
                      say=lambda refusal: refusal.message)


def _secret_from_stdin(wanted: bool) -> str:
    """The first line of standard input when ``wanted`` (a secret is never an argument:
    arguments show in the process list and the shell's history)."""
    return sys.stdin.readline().strip() if wanted else ""


@app.command("gateway")
def institutions_gateway(code: str = CODE_ARGUMENT, db: str = DB_OPTION) -> None:
    """The schemes the institution may sign with and its access keys (no secret)."""
    from yibao.services import institutions

    with Database(db).read() as conn:
        shown = institutions.gateway_of(conn, code)
    console.print(f"{code}: x-tif {'allowed' if shown['xtif_allowed'] else 'refused'}, "
                  f"AK/SK {'allowed' if shown['aksk_allowed'] else 'refused'}")
    console.print(f"access key: {shown['access_key'] or 'none'}")
    retiring = shown["retiring"]
    assert isinstance(retiring, list)
    for key in retiring:
        console.print(f"retiring: {key['access_key']} until unix {key['until_unix']}")


@app.command("schemes")
def institutions_schemes(
    code: str = CODE_ARGUMENT,
    xtif: bool = typer.Option(..., "--xtif/--no-xtif", help="may sign with x-tif-*"),
    aksk: bool = typer.Option(..., "--aksk/--no-aksk", help="may sign with AK/SK (_api_*)"),
    db: str = DB_OPTION,
) -> None:
    """Set which gateway schemes the institution may sign with (at least one)."""
    from yibao.services import institutions

    _step(db, lambda call: institutions.set_schemes(call, code, xtif=xtif, aksk=aksk))
    console.print(f"{code}: x-tif {'allowed' if xtif else 'refused'}, AK/SK "
                  f"{'allowed' if aksk else 'refused'}; {EFFECTIVE}")


@app.command("issue-key")
def institutions_issue_key(
    code: str = CODE_ARGUMENT,
    access_key: str = typer.Option("", "--access-key", help="the AK to issue (one the HIS "
                                   "already holds); default: a new random one"),
    secret_stdin: bool = typer.Option(False, "--secret-stdin", help="read the SK from the "
                                      "first line of standard input (default: a new one)"),
    grace_minutes: int = typer.Option(0, "--grace-minutes", help="the replaced pair keeps "
                                      "working this long (0..10080; 0: it stops at once)"),
    db: str = DB_OPTION,
) -> None:
    """Issue the institution a new AK/SK pair, printed once; the replaced pair stops, or
    keeps working --grace-minutes longer. Allow AK/SK with ``schemes`` as well."""
    from yibao.services import institutions

    secret = _secret_from_stdin(secret_stdin)
    issued = _step(db, lambda call: institutions.issue_key(
        call, code, now_unix=int(time.time()), grace_seconds=grace_minutes * 60,
        access_key=access_key, secret_key=secret))
    console.print(f"access key of {code}: {issued.access_key}")
    if not secret:
        console.print(f"secret key (shown once, store it now): {issued.secret_key}")
    if issued.previous:
        console.print(f"the previous access key {issued.previous} works until unix "
                      f"{issued.previous_until}")
    console.print(EFFECTIVE)


@app.command("rotate-token")
def institutions_rotate_token(
    code: str = CODE_ARGUMENT,
    token_stdin: bool = typer.Option(False, "--token-stdin", help="read the new token from "
                                     "the first line of standard input (default: a new one)"),
    db: str = DB_OPTION,
) -> None:
    """A new x-tif token for the institution, printed once; the old one stops."""
    from yibao.services import institutions

    given = _secret_from_stdin(token_stdin)
    token = _step(db, lambda call: institutions.rotate_token(call, code, token=given))
    if not given:
        console.print(f"x-tif token of {code} (shown once, store it now): {token}")
    else:
        console.print(f"x-tif token of {code} set")
    console.print(EFFECTIVE)
