"""Hostile input to reconciliation and clearing (3201, 3202, 3203), on both databases.

Whatever a field holds (an end date of 9999-12-31, year 0000, a superscript or
Arabic-Indic digit, NUL, huge numbers, any text), the answer is well formed; a refusal
names a specific catalogue code (never E-SYS, an internal error) and changes nothing."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flows import ok, refused
from test_errors import not_internal, snapshot
from test_reconciliation import zip_of

DATES = {"stmt_begndate": "2026-05-01", "stmt_enddate": "2026-05-31", "clr_type": "11"}
AMOUNTS = {"medfee_sumamt": "0", "fund_pay_sumamt": "0", "acct_pay": "0"}
VALID: dict[str, dict[str, Any]] = {
    "3201": {**DATES, **AMOUNTS, "insutype": "310", "setl_optins": "110000",
             "fixmedins_setl_cnt": "0", "fixmedins_refd_setl_flag": "1"},
    "3202": {**DATES, "setl_optins": "110000", "file_qury_no": "(uploaded)",
             "fixmedins_refd_setl_flag": "1"},
    "3203": {"setlym": "202605", "clr_type": "11", "psntime": "3", "medfee_sumamt": "300.00",
             "fund_appy_sum": "200.00", "acct_pay": "50.00", "cash_payamt": "50.00"},
}
ODD = st.sampled_from([
    "9999-12-31", "9999-12-31 23:59:59", "0000-01-01", "0001-01-01", "1-01-01",
    "2026-02-30", "2026-13-01", "20260511", "99991231235959", "٢٠٢٦-٠٥-١١", "２０２６-０５-１１",
    "2026-05-1１", "²", "1²", "٣", "３", "𝟏", "-1", "-0", "0.5", "1e3", "1e999999999", "NaN",
    "Infinity", "9" * 40, "000000", "000001", "999912", "202600", "202613", "٢٠٢٦٠٥",
    "²⁰²⁶⁰⁵", "20260５", "99", "x\x00", "\x00", "null", "", " ", "11\u200b", "\ufeff11",
])
OTHER = (st.text(max_size=12) | st.integers() | st.floats() | st.none() | st.booleans()
         | st.dates().map(str) | st.datetimes().map(str) | st.lists(st.integers(), max_size=2)
         | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
ANY = ODD | OTHER  # half of the values from the odd list


@pytest.fixture
def uploaded(his) -> str:
    content = zip_of([["S1", "M1", "P1", "1.00", "0.50", "0.00", "0"]])
    return str(ok(his.call("9101", {"fsUploadIn": {
        "in": base64.b64encode(content).decode(), "filename": "detail.zip",
        "fixmedins_code": his.code}}))["file_qury_no"])


def hostile(infno: str) -> st.SearchStrategy[dict[str, Any]]:
    """The valid input of ``infno`` with one to three of its fields replaced."""
    names = sorted(VALID[infno])
    return st.dictionaries(st.sampled_from(names), ANY, min_size=1, max_size=3)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=st.sampled_from(sorted(VALID)).flatmap(lambda n: st.tuples(st.just(n), hostile(n))))
@example(case=("3201", {"stmt_enddate": "9999-12-31"}))
@example(case=("3201", {"fixmedins_setl_cnt": "²"}))
@example(case=("3202", {"stmt_begndate": "0000-01-01", "stmt_enddate": "9999-12-31"}))
@example(case=("3203", {"setlym": "999912", "psntime": "²"}))
@example(case=("3203", {"acct_pay": "-0.01"}))  # a negative application: E-ENV-005, not E-SYS-002
def test_odd_fields_get_a_specific_answer_and_a_refusal_changes_nothing(db, his, uploaded, case):
    infno, changes = case
    data = VALID[infno] | {"file_qury_no": uploaded} if infno == "3202" else VALID[infno]
    before = snapshot(db)
    answer = his.call(infno, {"data": data | changes})
    assert answer["infcode"] in (0, -1), answer
    if answer["infcode"] == -1:
        not_internal(answer)
        assert snapshot(db) == before, f"a refused {infno} changed the database"


@pytest.mark.parametrize("changes", [
    {"stmt_enddate": "9999-12-31"}, {"stmt_begndate": "0001-01-01", "stmt_enddate": "9999-12-31"},
])
def test_reconciling_to_the_end_of_the_calendar(his, changes):
    answer = ok(his.call("3201", {"data": VALID["3201"] | changes}))
    assert answer["stmtinfo"]["stmt_rslt"] == "0"


@pytest.mark.parametrize("infno, changes", [
    ("3201", {"fixmedins_setl_cnt": "²"}), ("3201", {"fixmedins_setl_cnt": "٣"}),
    ("3201", {"stmt_begndate": "٢٠٢٦-٠٥-٠١"}), ("3201", {"stmt_begndate": "0000-01-01"}),
    ("3201", {"medfee_sumamt": "١٠٠"}), ("3203", {"psntime": "²"}),
    ("3203", {"setlym": "٢٠٢٦٠٥"}), ("3203", {"setlym": "²⁰²⁶⁰⁵"}),
])
def test_digits_other_than_ascii_are_refused_as_a_bad_format(db, his, infno, changes):
    before = snapshot(db)
    refused(his.call(infno, {"data": VALID[infno] | changes}), "E-ENV-005")
    assert snapshot(db) == before


@pytest.mark.parametrize("setlym", ["000001", "999912", "202613"])
def test_a_month_outside_the_calendar_is_refused(db, his, setlym):
    before = snapshot(db)
    refused(his.call("3203", {"data": VALID["3203"] | {"setlym": setlym}}), "E-CLR-002")
    assert snapshot(db) == before
