"""The partitioned schema (issue 21; store/partitioning.py, docs/scaling.md): ``yibao db
partition`` on a PostgreSQL database holding data moves its rows into partitions by
co-ordination area; the database still refuses a duplicate id across partitions, a
dangling reference and a bad amount; a HIS flow settles and cancels on it unchanged;
running it twice changes nothing; SQLite refuses it in one line.

The whole suite runs on the partitioned schema too: YIBAO_TEST_PG_PARTITIONED=1
(tests/conftest.py, docs/testing.md)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, delete, func, insert, make_url, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from typer.testing import CliRunner

from conftest import PG_URL, FakeClock
from flows import LI_JIANGUO, WANG_FANG, ZHAO_LEI, ok, settle_once
from yibao.api.app import create_app
from yibao.cli import app as cli
from yibao.client import HisClient, httpx_transport
from yibao.services import ledger
from yibao.store import partitioning
from yibao.store.db import Database, Failure, classify, constraint_of
from yibao.store.demo import demo_token, seed_demo
from yibao.store.schema import account_entry, fee_line, settlement, visit

AT = datetime(2026, 5, 11, 9, 30)
pg = pytest.mark.skipif(not PG_URL, reason="partitioning is PostgreSQL's: set "
                        "YIBAO_TEST_PG_URL")


def test_sqlite_refuses_in_one_line(tmp_path):
    db = Database(str(tmp_path / "yibao.db"))
    db.migrate()
    with pytest.raises(partitioning.NotApplicable, match="SQLite has no table partitioning"):
        partitioning.partition(db)
    result = CliRunner().invoke(cli, ["db", "partition", "--db", db.url])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "SQLite has no table partitioning: `yibao db partition` needs PostgreSQL (the "
        "SQLite schema stays as migrated)"]


def _own_database(suffix: str) -> str:
    """A PostgreSQL database of this module beside the tests' one, made empty."""
    base = make_url(PG_URL)
    own = base.set(database=f"{base.database}_{suffix}")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{own.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{own.database}"'))
    finally:
        admin.dispose()
    return own.render_as_string(hide_password=False)


# one msgid series for every client of the module: two clients of an institution in one
# second (the fixture's and a test's) never repeat a msgid
_SERIAL = itertools.count(1)


@contextmanager
def _his(db: Database, code: str = "H11010500001") -> Iterator[HisClient]:
    app = create_app(db, clock=FakeClock(AT))
    with TestClient(app) as client:
        his = HisClient(httpx_transport(client), code, demo_token(code))
        his._serial = _SERIAL
        his.sign_in()
        yield his


@pytest.fixture(scope="module")
def held() -> Iterator[dict[str, Any]]:
    """A migrated database with the demo dataset and a settled visit (rows to move),
    then partitioned: the database, what it held before and the outcome."""
    if not PG_URL:
        pytest.skip("partitioning is PostgreSQL's: set YIBAO_TEST_PG_URL")
    db = Database(_own_database("partition"))
    db.migrate()
    with db.write() as conn:
        seed_demo(conn)
    with _his(db) as his:
        setl = settle_once(his, WANG_FANG, "100.00")
    with db.read() as conn:
        before = {table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                  for table in partitioning.TABLES}
    outcome = partitioning.partition(db, areas=["310000"])
    yield {"db": db, "before": before, "outcome": outcome, "setl": setl}
    db.dispose()


def _one(db: Database, sql: str, **params: Any) -> Any:
    with db.read() as conn:
        return conn.execute(text(sql), params).scalar_one()


@pg
def test_the_rows_move_into_partitions_the_catalog_shows(held):
    db, outcome = held["db"], held["outcome"]
    assert not outcome.already
    assert outcome.moved == held["before"]
    assert held["before"]["visit"] == 1 and held["before"]["settlement"] == 1
    with db.read() as conn:
        kinds = dict(conn.execute(text(
            "SELECT relname, relkind FROM pg_class WHERE relname = ANY(:names)"),
            {"names": list(partitioning.TABLES)}).all())
        assert kinds == dict.fromkeys(partitioning.TABLES, "p")
        parts = {(p.table, p.name): p for p in partitioning.layout(conn)}
    # the institutions' areas (Beijing, Hebei), the one asked for, and DEFAULT
    for table in ("visit", "settlement"):
        assert {name for t, name in parts if t == table} == {
            f"{table}_110000", f"{table}_130102", f"{table}_310000", f"{table}_default"}
        assert parts[table, f"{table}_default"].bound == "DEFAULT"
        assert parts[table, f"{table}_110000"].bound == "FOR VALUES IN ('110000')"
        assert parts[table, f"{table}_110000"].rows == 1
    assert {name for t, name in parts if t == "message"} >= {
        "message_h11", "message_p11", "message_h13", "message_h31", "message_default"}
    assert parts["message", "message_h11"].bound == "FOR VALUES FROM ('H11') TO ('H11Z')"
    assert parts["message", "message_h11"].rows == held["before"]["message"]
    assert outcome.unplaced == ()


@pg
def test_a_row_lands_in_its_areas_partition_and_an_unknown_area_in_default(held):
    db, setl = held["db"], held["setl"]
    assert _one(db, "SELECT count(*) FROM settlement_110000 WHERE setl_id = :s",
                s=setl["setl_id"]) == 1
    row = _visit_row(db)
    with db.write() as conn:
        for mdtrt_id, area in (("M-SZ", "440300"), ("M-HB", "130102")):
            conn.execute(insert(visit).values(
                **(row | {"mdtrt_id": mdtrt_id, "mdtrtarea_admvs": area})))
    assert _one(db, "SELECT mdtrtarea_admvs FROM visit_default WHERE mdtrt_id = 'M-SZ'") \
        == "440300"
    assert _one(db, "SELECT count(*) FROM visit_130102 WHERE mdtrt_id = 'M-HB'") == 1
    with db.read() as conn:  # the application's look-up by id alone finds both
        found = conn.execute(select(visit.c.mdtrt_id).where(
            visit.c.mdtrt_id.in_(["M-SZ", "M-HB"]))).scalars().all()
    assert sorted(found) == ["M-HB", "M-SZ"]
    with db.write() as conn:
        conn.execute(delete(visit).where(visit.c.mdtrt_id.in_(["M-SZ", "M-HB"])))
    assert _one(db, "SELECT count(*) FROM visit_key WHERE mdtrt_id IN ('M-SZ', 'M-HB')") == 0


def _visit_row(db: Database) -> dict[str, Any]:
    with db.read() as conn:
        return dict(conn.execute(select(visit).limit(1)).mappings().one())


def _settlement_row(db: Database) -> dict[str, Any]:
    with db.read() as conn:
        return dict(conn.execute(select(settlement).where(settlement.c.kind == "settle")
                                 .limit(1)).mappings().one())


def _refused(db: Database, statement: Any) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught, db.write() as conn:
        conn.execute(statement)
    return caught.value


@pg
def test_an_id_stays_unique_across_partitions(held):
    """The same mdtrt_id or setl_id in another area's partition, and a second row
    reversing the same settlement: refused by the database, by the old names."""
    db = held["db"]
    row = _visit_row(db)
    error = _refused(db, insert(visit).values(**(row | {"mdtrtarea_admvs": "130102"})))
    assert (classify(error), constraint_of(error)) == (Failure.DUPLICATE, "pk_visit")
    settled = _settlement_row(db)
    error = _refused(db, insert(settlement).values(**(settled | {"mdtrtarea_admvs": "440300"})))
    assert (classify(error), constraint_of(error)) == (Failure.DUPLICATE, "pk_settlement")
    cancel = dict(settled, kind="cancel", reverses=settled["setl_id"], **{
        name: -settled[name] for name in ("medfee_sumamt", "hifp_pay", "fund_pay_sumamt",
                                          "psn_part_amt", "acct_pay", "psn_cash_pay",
                                          "inscp_scp_amt", "act_pay_dedc", "cvlserv_pay",
                                          "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay",
                                          "oth_pay", "fulamt_ownpay_amt", "overlmt_selfpay",
                                          "preselfpay_amt", "hosp_part_amt",
                                          "acct_mulaid_pay")})
    with db.write() as conn:  # one cancellation is accepted (then undone: nothing else)
        conn.execute(insert(settlement).values(**(cancel | {"setl_id": "C-1"})))
        error = _refused_nested(conn, insert(settlement).values(
            **(cancel | {"setl_id": "C-2", "mdtrtarea_admvs": "130102"})))
        conn.execute(delete(settlement).where(settlement.c.setl_id == "C-1"))
    assert (classify(error), constraint_of(error)) == (Failure.DUPLICATE,
                                                       "uq_settlement_reverses")
    assert _one(db, "SELECT count(*) FROM settlement_key") == _one(
        db, "SELECT count(*) FROM settlement")


def _refused_nested(conn: Any, statement: Any) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught, conn.begin_nested():
        conn.execute(statement)
    return caught.value


@pg
def test_references_and_amounts_are_still_enforced(held):
    db = held["db"]
    row, settled = _visit_row(db), _settlement_row(db)
    line = dict(psn_no=row["psn_no"], mdtrt_id="M-NONE", feedetl_sn="9", chrg_bchno="B",
                med_list_codg="X", medins_list_codg="X", cnt="1", pric="1.00",
                chrgitm_lv="01", selfpay_prop="0", status="active", msgid="m")
    error = _refused(db, insert(fee_line).values(line))
    assert constraint_of(error) == "fk_fee_line_mdtrt_id_visit"
    error = _refused(db, insert(account_entry).values(
        setl_id="S-NONE", psn_no=row["psn_no"], amount=-1, balance_after=0, created_at=AT))
    assert constraint_of(error) == "fk_account_entry_setl_id_settlement"
    # a visit with fee lines and a settlement cannot go; neither can its settlement
    error = _refused(db, delete(visit).where(visit.c.mdtrt_id == row["mdtrt_id"]))
    assert constraint_of(error).startswith("fk_")
    error = _refused(db, delete(settlement).where(settlement.c.setl_id == settled["setl_id"]))
    assert constraint_of(error).startswith("fk_")
    # a row never moves to another area (its key would go from under its children)
    error = _refused(db, update(visit).where(visit.c.mdtrt_id == row["mdtrt_id"])
                     .values(mdtrtarea_admvs="130102"))
    assert constraint_of(error) == "ct_visit_area_fixed"
    # the CHECKs of the amounts hold in every partition
    error = _refused(db, update(settlement).where(settlement.c.setl_id == settled["setl_id"])
                     .values(hifp_pay=settled["hifp_pay"] + 1))
    assert constraint_of(error) == "ck_settlement_parts"
    error = _refused(db, insert(settlement).values(
        **(settled | {"setl_id": "S-BAD", "mdtrtarea_admvs": "999999", "balc": -1})))
    assert constraint_of(error) == "ck_settlement_balc"


@pg
def test_a_his_flow_settles_and_cancels_on_it(held):
    db = held["db"]
    with _his(db) as his:
        setl = settle_once(his, LI_JIANGUO, "80.00")
        psn_no = setl["psn_no"]
        mdtrt_id = setl["mdtrt_id"]
        ok(his.call("2208", {"data": {"setl_id": setl["setl_id"], "mdtrt_id": mdtrt_id,
                                      "psn_no": psn_no}}))
    with _his(db, "H13010200001") as hebei:  # a Hebei institution: Hebei's partitions
        there = settle_once(hebei, ZHAO_LEI, "20.00")
    assert _one(db, "SELECT count(*) FROM settlement_110000 WHERE mdtrt_id = :m",
                m=mdtrt_id) == 2
    assert _one(db, "SELECT count(*) FROM settlement_130102 WHERE setl_id = :s",
                s=there["setl_id"]) == 1
    assert _one(db, "SELECT count(*) FROM message_h13") >= 1
    with db.read() as conn:
        assert ledger.verify(conn) == []
        assert conn.execute(select(func.count()).select_from(settlement)).scalar_one() \
            == _one(db, "SELECT count(*) FROM settlement_key")


@pg
def test_running_it_twice_changes_nothing_and_says_so(held):
    db = held["db"]
    with db.read() as conn:
        before = partitioning.layout(conn)
    again = partitioning.partition(db)
    assert again.already and again.moved == {}
    assert again.partitions == before
    result = CliRunner().invoke(cli, ["db", "partition", "--db", db.url])
    assert result.exit_code == 0, result.output
    assert "is already partitioned: nothing changed" in result.output.splitlines()[0]


@pg
def test_an_area_that_joins_later_gets_its_partitions_and_its_rows(held):
    """Run again with an area whose rows are in DEFAULT: its partitions are added and
    its rows moved there, the keys untouched (a duplicate id is still refused)."""
    db = held["db"]
    row = _visit_row(db)
    with db.write() as conn:
        conn.execute(insert(visit).values(
            **(row | {"mdtrt_id": "M-GZ", "mdtrtarea_admvs": "440100"})))
    assert _one(db, "SELECT count(*) FROM visit_default WHERE mdtrt_id = 'M-GZ'") == 1
    outcome = partitioning.partition(db, areas=["440100"])
    assert outcome.already
    assert outcome.added == ("visit_440100", "settlement_440100", "message_h44",
                             "message_p44")
    assert outcome.moved == {"visit": 1, "settlement": 0, "message": 0}
    assert _one(db, "SELECT count(*) FROM visit_440100 WHERE mdtrt_id = 'M-GZ'") == 1
    assert _one(db, "SELECT count(*) FROM visit_default") == 0
    error = _refused(db, insert(visit).values(**(row | {"mdtrt_id": "M-GZ"})))
    assert constraint_of(error) == "pk_visit"
    with db.write() as conn:  # the triggers reach the new partition: the key goes too
        conn.execute(delete(visit).where(visit.c.mdtrt_id == "M-GZ"))
    assert _one(db, "SELECT count(*) FROM visit_key WHERE mdtrt_id = 'M-GZ'") == 0
    assert partitioning.partition(db).added == ()


ROLE = "part_test_writer"  # a role of the cluster, granted on one database's tables


@pg
def test_an_empty_migrated_database_gets_default_partitions_and_the_areas_asked():
    """And the privileges another role held on a table: on the partitioned table and
    its key table (the key triggers run as the role that writes)."""
    db = Database(_own_database("partition_empty"))
    try:
        db.migrate()
        with db.write() as conn:
            if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"),
                            {"r": ROLE}).first() is None:
                conn.exec_driver_sql(f"CREATE ROLE {ROLE}")
            conn.exec_driver_sql(f"GRANT SELECT, INSERT ON visit, message TO {ROLE}")
        result = CliRunner().invoke(cli, ["db", "partition", "--db", db.url,
                                          "--area", "110000"])
        assert result.exit_code == 0, result.output
        assert "rows moved: visit 0, settlement 0, message 0" in result.output
        with db.read() as conn:
            names = {p.name for p in partitioning.layout(conn)}
        assert names == {"visit_110000", "visit_default", "settlement_110000",
                         "settlement_default", "message_h11", "message_p11",
                         "message_default"}
        bad = CliRunner().invoke(cli, ["db", "partition", "--db", db.url, "--area", "11"])
        assert bad.exit_code == 2 and "six digits" in bad.output
        held_by = "SELECT has_table_privilege(:r, :t, :p)"
        for table, privilege, held in (("visit", "INSERT", True), ("visit_key", "INSERT", True),
                                       ("visit", "DELETE", False), ("message", "SELECT", True),
                                       ("settlement_key", "INSERT", False)):
            assert _one(db, held_by, r=ROLE, t=table, p=privilege) is held, (table, privilege)
    finally:
        with db.write() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {ROLE}")
        with suppress(DBAPIError), db.write() as conn:  # still granted in another database
            conn.exec_driver_sql(f"DROP ROLE {ROLE}")
        db.dispose()


@pg
def test_message_can_be_left_unpartitioned_and_stays_so():
    db = Database(_own_database("partition_no_message"))
    try:
        db.migrate()
        result = CliRunner().invoke(cli, ["db", "partition", "--db", db.url, "--no-message"])
        assert result.exit_code == 0, result.output
        assert result.output.splitlines()[0].endswith("rows moved: visit 0, settlement 0")
        with db.read() as conn:
            assert partitioning.partitioned_tables(conn) == {"visit", "settlement"}
            assert partitioning.is_partitioned(conn)
        again = partitioning.partition(db, areas=["130102"])
        assert again.already and again.added == ("visit_130102", "settlement_130102")
        assert {p.table for p in again.partitions} == {"visit", "settlement"}
    finally:
        db.dispose()
