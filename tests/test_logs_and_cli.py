"""Logs carry no personal data; the CLI migrates, seeds and documents."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from conftest import ROOT
from flows import WANG_FANG, line, ok, person, register, settle_payload, upload
from yibao import log
from yibao.cli import app as cli
from yibao.cli import common
from yibao.domain.errors import CATALOGUE, Refused


def test_a_settlement_logs_no_name_id_number_or_token(his, capsys):
    log.configure("INFO")
    try:
        psn_no = person(his, WANG_FANG)["baseinfo"]["psn_no"]
        mdtrt_id = register(his, psn_no, WANG_FANG)
        upload(his, mdtrt_id, psn_no, [line("1", "XA01AAA0001", "10.00")])
        ok(his.call("2207", settle_payload(psn_no, mdtrt_id, WANG_FANG, "10.00")))
    finally:
        logging.getLogger().handlers.clear()
    text = capsys.readouterr().err
    records = [json.loads(row) for row in text.splitlines() if row.startswith("{")]
    assert {r.get("infno") for r in records} >= {"1101", "2201", "2204", "2207"}
    for secret in (WANG_FANG, "王芳", "demo-H11010500001"):
        assert secret not in text


@pytest.mark.parametrize(
    ("value", "masked"), [("110105198503150027", "11**************27"), ("abc", "***")])
def test_mask(value, masked):
    assert log.mask(value) == masked


def test_cli_migrates_seeds_and_prints_the_error_catalogue(tmp_path):
    runner = CliRunner()
    url = str(tmp_path / "cli.db")
    assert runner.invoke(cli, ["migrate", "--db", url]).exit_code == 0
    first = runner.invoke(cli, ["seed", "--demo", "--db", url])
    again = runner.invoke(cli, ["seed", "--demo", "--db", url])
    # among them 7 mpc_app, 1 the sandbox channel, 7 the institutions' AK/SK pairs, the
    # online pharmacy and the practitioners of the prescriptions
    assert first.exit_code == 0 and "(95 rows added)" in first.output
    assert again.exit_code == 0 and "(0 rows added)" in again.output
    errors = runner.invoke(cli, ["errors"])
    assert "E-PSN-002" in errors.output


def test_errors_piped_is_one_plain_line_per_code():
    """Piped, `yibao errors` writes one unwrapped line per code, four tab-separated
    columns, no colour codes (a real pipe: the command runs in its own process)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR")}
    env["PYTHONPATH"] = str(ROOT / "src")
    done = subprocess.run([sys.executable, "-m", "yibao.cli", "errors"], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    assert "\x1b[" not in done.stdout
    lines = done.stdout.splitlines()
    assert [line.split("\t") for line in lines] == [
        [e.code, e.title, e.hint, str(e.http)] for e in CATALOGUE.values()]
    assert max(len(line) for line in lines) > 120  # long lines stay whole


def test_errors_in_a_terminal_show_every_code_verbatim(monkeypatch):
    """In a terminal the table is styled, but never inside a code (rich's highlighter
    would colour the digits of E-ENV-005)."""
    screen = io.StringIO()
    monkeypatch.setattr(common, "console", Console(file=screen, force_terminal=True,
                                                   color_system="truecolor", width=100))
    assert CliRunner().invoke(cli, ["errors"]).exit_code == 0
    shown = screen.getvalue()
    assert "\x1b[" in shown  # a terminal: the header is styled
    for code in CATALOGUE:
        assert f" {code} " in shown, code


def test_a_refusal_prints_verbatim(monkeypatch):
    """A refusal's message with [brackets] and a code prints as it is, in a terminal too."""
    screen = io.StringIO()
    monkeypatch.setattr(common, "console", Console(file=screen, force_terminal=True,
                                                   color_system="truecolor", width=200))
    refusal = Refused("E-CLR-002", "[red]month[/] 2026-13 [bold]not[/bold] valid")

    def refuse(_):
        raise refusal

    with pytest.raises(typer.Exit):
        common.write_step("sqlite:///:memory:", refuse)
    assert refusal.message.endswith("[red]month[/] 2026-13 [bold]not[/bold] valid")
    assert refusal.message in screen.getvalue()


def test_every_option_and_argument_of_every_command_has_a_help_text():
    walked = list(_parameters(typer.main.get_command(cli), "yibao"))
    assert {path for path, _, _ in walked} >= {
        "yibao serve", "yibao errors", "yibao ledger verify", "yibao clearing run",
        "yibao bench engine", "yibao institutions issue-key", "yibao channels webhook"}
    assert [f"{path} {name}" for path, name, text in walked if not text] == []


def _parameters(command: Any, path: str) -> Iterator[tuple[str, str, str]]:
    """(command path, option or argument, its help) of every command under ``command``
    (typer's own click: groups have ``commands``)."""
    for name, sub in getattr(command, "commands", {}).items():
        yield from _parameters(sub, f"{path} {name}")
    for param in command.params:
        shown = param.opts[0] if param.param_type_name == "option" else param.name.upper()
        yield path, shown, getattr(param, "help", None) or ""


def test_bench_engine_reports_each_round():
    result = CliRunner().invoke(cli, ["bench", "engine", "--count", "50", "--rounds", "2"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "making 50 settlement inputs ..."
    assert [line.split(":")[0] for line in lines[2:4]] == ["round 1/2", "round 2/2"]
    assert lines[-1].startswith("engine: ") and "best of 2" in lines[-1]


def test_a_line_is_the_line_structlog_wrote(monkeypatch):
    """The logger writes its line itself (log.py): the fields, their order and their
    masking are those of structlog's JSON renderer, an exception's traceback included;
    a level below the configured one writes nothing."""
    import structlog

    def lines(logger: Any) -> list[dict[str, Any]]:
        stream = io.StringIO()
        monkeypatch.setattr(sys, "stderr", stream)
        log.configure("INFO")
        try:
            logger().info("message", infno="2207", certno=WANG_FANG, token="secret-token",
                          ms=1.5, infcode=0, other=object)
            logger().debug("hidden", certno=WANG_FANG)
            try:
                raise ZeroDivisionError("x")
            except ZeroDivisionError:
                logger().exception("internal_error", refmsgid="R1")
            logger().warning("w", error="E")
        finally:
            logging.getLogger().handlers.clear()
        rows = [json.loads(row) for row in stream.getvalue().splitlines()
                if row.startswith("{")]
        for row in rows:
            assert row.pop("timestamp").endswith("Z")
        return rows

    ours = lines(lambda: log.get("yibao.test"))
    theirs = lines(lambda: structlog.get_logger("yibao.test"))
    assert [list(row) for row in ours] == [list(row) for row in theirs]
    assert ours == theirs and len(ours) == 3
    assert ours[0]["certno"] == log.mask(WANG_FANG) and ours[0]["token"] == "se********en"
    assert "ZeroDivisionError: x" in ours[1]["exception"]
