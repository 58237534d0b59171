"""Running the supervision rule library's SQL over a month's extract (issue 20).

Each rule's SQL is ``analytics/supervision/<rule id>.sql``: one SELECT, written once for
DuckDB and Spark SQL, over the extract's tables (docs/supervision.md lists them). Its
parameters appear as ``{name}`` and are filled from the library (numbers only, so the
text stays SQL); ``{month_begin}`` and ``{month_end}`` are the month's bounds as
``TIMESTAMP '...'`` literals. Every rule returns the columns ``clue_key``,
``fixmedins_code``, ``psn_no``, ``mdtrt_id``, ``amount_at_risk`` (fen) and ``summary``,
then any evidence columns. Rows sharing a clue_key are one clue: its amount is their sum
(a rule puts each row's own share on it), its evidence the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from yibao.analytics.extract import month_bounds
from yibao.domain.supervision import Rule
from yibao.store.clues import Found

CLUE_COLUMNS = ("clue_key", "fixmedins_code", "psn_no", "mdtrt_id", "amount_at_risk",
                "summary")


def _source(rule: Rule) -> Traversable:
    return resources.files("yibao") / "analytics" / "supervision" / f"{rule.id}.sql"


def has_sql(rule: Rule) -> bool:
    """Whether the rule's SQL file is there."""
    return _source(rule).is_file()


def rule_sql(rule: Rule, month: str) -> str:
    """The rule's SQL with its parameters and the month's bounds written in."""
    source = _source(rule)
    begin, end = month_bounds(month)
    values: dict[str, object] = {name: _literal(value) for name, value in rule.params.items()}
    values |= {"month_begin": f"TIMESTAMP '{begin:%Y-%m-%d %H:%M:%S}'",
               "month_end": f"TIMESTAMP '{end:%Y-%m-%d %H:%M:%S}'"}
    shared = resources.files("yibao") / "analytics" / "supervision" / "_visit_lines.sql"
    values["visit_lines"] = _sql_only(shared.read_text(encoding="utf-8")).format(**values)
    return source.read_text(encoding="utf-8").format(**values)


def _sql_only(text: str) -> str:
    """A shared SQL fragment without its leading comment lines."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("--"))


def _literal(value: int | Decimal) -> str:
    assert isinstance(value, (int, Decimal)) and not isinstance(value, bool), value
    return str(value)


def tables_in(directory: Path) -> list[str]:
    """The extract's tables: one Parquet file each."""
    return sorted(p.stem for p in directory.glob("*.parquet"))


def run_duckdb(directory: Path, rules: Sequence[Rule], month: str, *,
               settings: Mapping[str, str] | None = None) -> list[Found]:
    """The rules over the extract in ``directory``; ``settings``: DuckDB's (e.g.
    memory_limit, temp_directory, threads) for a large month on a shared machine."""
    import duckdb

    con = duckdb.connect()
    try:
        for name, value in (settings or {}).items():
            assert name.replace("_", "").isalnum() and "'" not in value, (name, value)
            con.execute(f"SET {name} = '{value}'")
        for table in tables_in(directory):
            path = directory / f"{table}.parquet"
            assert "'" not in str(path), path
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{path}')")
        found: list[Found] = []
        for rule in rules:
            result = con.execute(rule_sql(rule, month))
            names = [d[0] for d in result.description]
            found += clues_of(rule.id, month, (dict(zip(names, row, strict=True))
                                               for row in result.fetchall()))
        return found
    finally:
        con.close()


def run_spark(directory: Path, rules: Sequence[Rule], month: str) -> list[Found]:
    """The same SQL on Apache Spark (local[2] here; a cluster URL in production)."""
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("yibao-supervision")
             .config("spark.ui.enabled", "false")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.shuffle.partitions", "4").getOrCreate())
    try:
        for table in tables_in(directory):
            spark.read.parquet(str(directory / f"{table}.parquet")).createOrReplaceTempView(
                table)
        found: list[Found] = []
        for rule in rules:
            rows = spark.sql(rule_sql(rule, month)).collect()
            found += clues_of(rule.id, month, (row.asDict() for row in rows))
        return found
    finally:
        spark.stop()


def clues_of(rule_id: str, month: str, rows: Iterable[Mapping[str, Any]]) -> list[Found]:
    """Rows of one rule grouped into clues by clue_key, in the order keys first appear."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        missing = [c for c in CLUE_COLUMNS if c not in row]
        if missing:
            raise ValueError(f"rule {rule_id} returned no {', '.join(missing)}")
        grouped.setdefault(str(row["clue_key"]), []).append(
            {name: _plain(value) for name, value in row.items()})
    return [_found(rule_id, month, key, evidence) for key, evidence in grouped.items()]


def _found(rule_id: str, month: str, key: str, evidence: list[dict[str, Any]]) -> Found:
    first = evidence[0]
    return Found(
        rule_id=rule_id, clue_key=key, month=month,
        fixmedins_code=str(first["fixmedins_code"] or ""), psn_no=str(first["psn_no"] or ""),
        mdtrt_id=str(first["mdtrt_id"] or ""),
        amount_at_risk=sum(int(row["amount_at_risk"] or 0) for row in evidence),
        summary=str(first["summary"] or ""), evidence=evidence)


def _plain(value: Any) -> Any:
    """A value of an evidence row as JSON can hold it: text, int, None; times as ISO
    text, exact decimals as text. A float is refused unless it is a whole number of a
    measure (distances in km are computed in floating point: rounded to metres)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() \
            else str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
