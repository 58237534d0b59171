"""schemathesis over the OpenAPI of the HTTP app: generated requests never produce a
server error and every answer matches the documented schema (status codes, content
types, response bodies). Half the envelopes are
signed correctly, so generated transactions reach the dispatcher and the handlers.
(SQLite only: the app under test is built once for the module.)"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from yibao.api.app import create_app
from yibao.api.gateway import signature
from yibao.store.db import Database
from yibao.store.demo import demo_token, seed_demo

CODE = "H11010500001"


def _app():
    database = Database(str(Path(tempfile.mkdtemp()) / "fuzz.db"))
    database.migrate()
    with database.write() as conn:
        seed_demo(conn)
    return create_app(database)


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_answers_match_the_schema(case):
    if isinstance(case.body, dict) and hash(repr(case.body)) % 2 == 0:
        case.body["fixmedins_code"] = CODE
        ts, nonce = str(int(time.time())), f"n{time.perf_counter_ns()}"
        case.headers = {"x-tif-paasid": CODE, "x-tif-timestamp": ts, "x-tif-nonce": nonce,
                        "x-tif-signature": signature(ts, demo_token(CODE), nonce)}
    response = case.call()
    assert response.status_code < 500
    # The national interface refuses with HTTP 200 and infcode -1 (what HIS vendors
    # expect), so the checks that demand a 4xx for invalid input do not apply.
    case.validate_response(response, excluded_checks=[
        checks.negative_data_rejection, checks.missing_required_header, checks.ignored_auth,
        checks.positive_data_acceptance,
    ])
    if case.path.endswith("callService") and "json" in response.headers.get("content-type", ""):
        answer = response.json()
        assert answer["infcode"] in (0, -1)
        assert answer["infcode"] == 0 or answer["err_msg"].startswith("E-")
