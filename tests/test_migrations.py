"""The schema's migrations run down to nothing and back up on both databases, keeping
what a downgrade can keep."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, insert, inspect, make_url, select, text

from conftest import BACKENDS, PG_URL
from yibao.store.db import Database
from yibao.store.demo import seed_demo
from yibao.store.schema import claim, fault_period, metadata, person, visit

# beside the test database (one per pytest-xdist worker: tests/conftest.py)
SCRATCH = f"{make_url(PG_URL).database}_migrations" if PG_URL else ""


@pytest.fixture(params=BACKENDS)
def scratch(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:
    """An empty database of its own (the shared test database keeps its schema)."""
    if request.param == "sqlite":
        database = Database(str(tmp_path / "migrations.db"))
        yield database
        database.dispose()
        return
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{SCRATCH}"'))
    database = Database(make_url(PG_URL).set(database=SCRATCH)
                        .render_as_string(hide_password=False))
    yield database
    database.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)'))
    admin.dispose()


def _claims_of_one_invoice(database: Database) -> None:
    """A withdrawn claim and the live claim made after it, for the same invoice; a fault
    period cancelled and the one declared in its place."""
    at = datetime(2026, 11, 2, 9, 0)
    with database.write() as conn:
        seed_demo(conn)
        period = dict(fixmedins_code="H11010500001", begin_at=at, end_at=at + timedelta(hours=1),
                      reason="link down", actor="H11010500001", created_at=at)
        conn.execute(insert(fault_period).values(fault_id="F1", cancelled_at=at,
                                                 cancelled_reason="wrong day", **period))
        conn.execute(insert(fault_period).values(fault_id="F2", **period))
        psn_no = conn.execute(select(person.c.psn_no).limit(1)).scalar_one()
        conn.execute(insert(visit).values(
            mdtrt_id="M1", psn_no=psn_no, fixmedins_code="H11010500001", insutype="310",
            med_type="11", visit_class="outpatient", status="discharged", begntime=at,
            ipt_otp_no="O1", mdtrt_cert_type="02", insuplc_admdvs="110000",
            mdtrtarea_admvs="110000", msgid="m1"))
        common = dict(psn_no=psn_no, mdtrt_id="M1", fixmedins_code="H11010500001",
                      invono="INV1", insutype="310", med_type="11", reason="fault",
                      source="01", medfee_sumamt=10_000, approved_amount=0,
                      created_at=at, updated_at=at)
        conn.execute(insert(claim).values(claim_id="C1", status="withdrawn", **common))
        conn.execute(insert(claim).values(claim_id="C2", status="submitted", **common))


def test_the_schema_goes_down_to_nothing_and_back_up_to_what_the_code_expects(scratch):
    scratch.migrate()
    scratch.downgrade("base")
    assert set(inspect(scratch.engine).get_table_names()) <= {"alembic_version"}
    scratch.migrate()
    with scratch.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_going_below_withdrawals_keeps_the_live_claim_and_the_period_in_force(scratch):
    """Below 0010 nothing is withdrawn or cancelled: a withdrawn claim becomes rejected
    (it frees its invoice), a cancelled fault period goes (it would be in force again)."""
    scratch.migrate()
    _claims_of_one_invoice(scratch)
    scratch.downgrade("0009")
    with scratch.read() as conn:
        statuses = dict(conn.execute(text("SELECT claim_id, status FROM claim")).all())
        periods = conn.execute(text("SELECT fault_id FROM fault_period")).scalars().all()
    assert statuses == {"C1": "rejected", "C2": "submitted"}
    assert periods == ["F2"]
    scratch.migrate()
    with scratch.read() as conn:
        assert conn.execute(select(claim.c.status).where(claim.c.claim_id == "C2")
                            ).scalar_one() == "submitted"


LATER_VISIT_COLUMNS = ("fever", "mdtrt_grp_type")  # added by 0030


def test_upgrading_hashes_the_raw_ectokens_visits_held(scratch):
    """Before 0014 a visit registered with an ecToken held the raw token; the upgrade keeps
    only its SHA-256 (and leaves other credentials, and hashes already made, alone)."""
    import hashlib
    import importlib

    below = importlib.import_module(
        "yibao.store.migrations.versions.0014_token_revocation_face_attempts").down_revision
    scratch.migrate()
    _claims_of_one_invoice(scratch)  # M1: registered by ID number
    scratch.downgrade(below)
    raw = "q" * 43
    with scratch.write() as conn:
        then = [c for c in visit.c if c.name not in LATER_VISIT_COLUMNS]  # as in 0013
        row = conn.execute(select(*then).where(visit.c.mdtrt_id == "M1")).mappings().one()
        conn.execute(insert(visit).values(dict(row, mdtrt_id="M2", mdtrt_cert_type="01",
                                               mdtrt_cert_no=raw, msgid="m2")))
    scratch.migrate()
    with scratch.read() as conn:
        stored = dict(conn.execute(select(visit.c.mdtrt_id, visit.c.mdtrt_cert_no)).all())
    assert stored == {"M1": "", "M2": hashlib.sha256(raw.encode()).hexdigest()}
