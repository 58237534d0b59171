"""A month of settlements from the store into Parquet (``settlements``, ``funds``).

Rows are streamed out of the database into CSV, then DuckDB types and compresses them.
(DuckDB's SQLite and PostgreSQL readers are extensions fetched from the network, which
these machines do not reach; streaming keeps the store the only dependency.)
"""

from __future__ import annotations

import csv
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Select, select

from yibao.domain.errors import Refused
from yibao.domain.states import CLEARED_KINDS
from yibao.store.schema import settlement, settlement_fund

SETTLEMENT_COLUMNS = {
    "setl_id": "VARCHAR", "kind": "VARCHAR", "fixmedins_code": "VARCHAR",
    "insutype": "VARCHAR", "clr_type": "VARCHAR", "insuplc_admdvs": "VARCHAR",
    "mdtrtarea_admvs": "VARCHAR", "medfee_sumamt": "BIGINT", "fund_pay_sumamt": "BIGINT",
    "acct_pay": "BIGINT", "psn_cash_pay": "BIGINT",
}
FUND_COLUMNS = {"setl_id": "VARCHAR", "fund_pay_type": "VARCHAR", "fund_payamt": "BIGINT"}
BATCH_ROWS = 50_000


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """'2026-05' -> [2026-05-01 00:00, 2026-06-01 00:00) in China Standard Time."""
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", month):
        raise Refused("E-CLR-002", f"month {month!r} is not YYYY-MM")
    year, number = int(month[:4]), int(month[5:])
    try:
        return datetime(year, number, 1), datetime(year + number // 12, number % 12 + 1, 1)
    except ValueError as exc:  # year 0000, or 9999-12 (which would end in year 10000)
        raise Refused("E-CLR-002", f"month {month!r} is outside the years 0001..9999") from exc


def extract_month(conn: Connection, month: str, directory: Path) -> int:
    """Write the month's settle and cancel rows and their fund lines; returns the count."""
    begin, end = month_bounds(month)
    in_month = (settlement.c.setl_time >= begin, settlement.c.setl_time < end,
                settlement.c.kind.in_(CLEARED_KINDS))
    rows = select(*(settlement.c[name] for name in SETTLEMENT_COLUMNS)).where(*in_month)
    funds = select(settlement_fund.c.setl_id, settlement_fund.c.fund_pay_type,
                   settlement_fund.c.fund_payamt).join(
        settlement, settlement.c.setl_id == settlement_fund.c.setl_id).where(*in_month)
    directory.mkdir(parents=True, exist_ok=True)
    count = to_parquet(conn, rows, SETTLEMENT_COLUMNS, directory, "settlements")
    to_parquet(conn, funds, FUND_COLUMNS, directory, "funds")
    return count


def to_parquet(conn: Connection, query: Select[Any], columns: dict[str, str], directory: Path,
               name: str, *, text_not_null: bool = False) -> int:
    """Stream ``query``'s rows (its columns in the order of ``columns``: name -> DuckDB
    type) into ``directory/name.parquet``; the number of rows. CSV cannot tell an empty
    text from NULL (both backends' rows read as NULL): with ``text_not_null`` every
    VARCHAR column reads NULL as ''."""
    import duckdb

    staging = directory / f"{name}.csv"
    if conn.dialect.name == "postgresql":
        _copy_out(conn, query, staging)
    else:
        _stream_out(conn, query, columns, staging)
    types = ", ".join(f"'{column}': '{kind}'" for column, kind in columns.items())
    wanted = ", ".join(f'COALESCE("{column}", \'\') AS "{column}"'
                       if text_not_null and kind == "VARCHAR" else f'"{column}"'
                       for column, kind in columns.items())
    target = directory / f"{name}.parquet"
    assert "'" not in str(directory), directory
    con = duckdb.connect()  # its own: DuckDB's default connection is not for threads
    try:
        con.execute(f"COPY (SELECT {wanted} FROM read_csv('{staging}', header = true, "
                    f"columns = {{{types}}})) TO '{target}' (FORMAT parquet)")
        [(count,)] = con.execute(f"SELECT COUNT(*) FROM read_parquet('{target}')").fetchall()
    finally:
        con.close()
    staging.unlink()
    return int(count)


def _stream_out(conn: Connection, query: Select[Any], columns: dict[str, str],
                staging: Path) -> None:
    with staging.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        # on the statement, not the connection: Connection.execution_options changes the
        # connection itself, and later statements would run through server-side cursors
        result = conn.execute(query.execution_options(yield_per=BATCH_ROWS))
        for batch in result.partitions():
            writer.writerows(batch)


def _copy_out(conn: Connection, query: Select[Any], staging: Path) -> None:
    """PostgreSQL writes the CSV itself (COPY ... TO STDOUT), in the caller's transaction:
    about ten times faster than rows through Python."""
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    raw = conn.connection.driver_connection  # psycopg's connection
    assert raw is not None
    with staging.open("wb") as out, raw.cursor() as cursor, cursor.copy(
            f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER true)") as copy:
        for chunk in copy:
            out.write(chunk)
