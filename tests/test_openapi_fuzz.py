"""schemathesis over the OpenAPI of the HTTP app: generated requests never produce a
server error and every answer matches the documented schema (status codes, content
types, response bodies). Half the envelopes are
signed correctly, so generated transactions reach the dispatcher and the handlers.
Runs on SQLite and, when YIBAO_TEST_PG_URL is set, on PostgreSQL too, in a schema of its
own (the app under test is built once, when the module is collected)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from sqlalchemy import text

from yibao.api.app import create_app
from yibao.api.gateway import signature
from yibao.api.hospital import ROUTE
from yibao.store.db import Database
from yibao.store.demo import demo_token, seed_demo

CODE = "H11010500001"


PG_URL = os.environ.get("YIBAO_TEST_PG_URL", "")
FUZZ_SCHEMA = "yibao_fuzz"  # the suite's own fixtures recreate "public"


def _app(url: str):
    database = Database(url)
    if not database.is_sqlite:
        with database.engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {FUZZ_SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {FUZZ_SCHEMA}"))
    database.migrate()
    with database.write() as conn:
        seed_demo(conn)
    return create_app(database)


def _pg_url() -> str:
    return f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{FUZZ_SCHEMA}"


sqlite_schema = schemathesis.openapi.from_asgi(
    "/openapi.json", _app(str(Path(tempfile.mkdtemp()) / "fuzz.db")))
pg_schema = schemathesis.openapi.from_asgi("/openapi.json", _app(_pg_url())) if PG_URL else None


@sqlite_schema.parametrize()
@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_answers_match_the_schema(case):
    check(case)


if pg_schema is not None:
    @pg_schema.parametrize()
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    def test_no_server_error_on_postgresql(case):
        check(case)
else:
    @pytest.mark.skip(reason="YIBAO_TEST_PG_URL is not set")
    def test_no_server_error_on_postgresql():
        pass


def check(case) -> None:
    if isinstance(case.body, dict) and hash(repr(case.body)) % 2 == 0:
        case.body["fixmedins_code"] = CODE
        ts, nonce = str(int(time.time())), f"n{time.perf_counter_ns()}"
        case.headers = {"x-tif-paasid": CODE, "x-tif-timestamp": ts, "x-tif-nonce": nonce,
                        "x-tif-signature": signature(ts, demo_token(CODE), nonce)}
    response = case.call()
    assert response.status_code < 500
    # The national interface refuses with HTTP 200 and infcode -1 (what HIS vendors
    # expect), so the checks that demand a 4xx for invalid input do not apply; nor, on its
    # route, the check demanding 405 for another method: a GET or PUT is answered with an
    # envelope too (E-ENV-010, tests/test_url_forms.py).
    national = [checks.unsupported_method] if case.path == ROUTE else []
    case.validate_response(response, excluded_checks=[
        checks.negative_data_rejection, checks.missing_required_header, checks.ignored_auth,
        checks.positive_data_acceptance, *national,
    ])
    if case.path.endswith("callService") and "json" in response.headers.get("content-type", ""):
        answer = response.json()
        assert answer["infcode"] in (0, -1)
        assert answer["infcode"] == 0 or answer["err_msg"].startswith("E-")
