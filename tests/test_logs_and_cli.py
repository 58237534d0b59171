"""Logs carry no personal data; the CLI migrates, seeds and documents."""

from __future__ import annotations

import json
import logging

import pytest
from typer.testing import CliRunner

from flows import WANG_FANG, line, ok, person, register, settle_payload, upload
from yibao import log
from yibao.cli import app as cli


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
    assert first.exit_code == 0 and "(80 rows added)" in first.output
    assert again.exit_code == 0 and "(0 rows added)" in again.output
    errors = runner.invoke(cli, ["errors"])
    assert "E-PSN-002" in errors.output
