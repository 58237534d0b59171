"""Running the clearing SQL over a month's Parquet files: DuckDB by default, Spark when
one machine is outgrown. Both get the same SQL text and return the same rows."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from yibao.analytics.sql import QUERIES

TABLES = ("settlements", "funds")
Results = dict[str, list[tuple[Any, ...]]]


def unavailable(engine: str) -> str | None:
    """Why ``engine`` cannot run here, in one line naming the fix; None when it can.
    Spark is the optional extra ``yibao[spark]`` (pyspark); DuckDB is always installed."""
    if engine not in ("duckdb", "spark"):
        return f"no clearing engine {engine!r}: choose duckdb or spark"
    if engine == "spark" and importlib.util.find_spec("pyspark") is None:
        return "the Spark engine needs pyspark, which is not installed: pip install 'yibao[spark]'"
    return None


def run_duckdb(directory: Path, queries: dict[str, str] = QUERIES) -> Results:
    import duckdb

    con = duckdb.connect()
    try:
        for table in TABLES:
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM "
                        f"read_parquet('{_parquet(directory, table)}')")
        return {name: [tuple(_plain(v) for v in row) for row in con.execute(query).fetchall()]
                for name, query in queries.items()}
    finally:
        con.close()


def run_spark(directory: Path, queries: dict[str, str] = QUERIES) -> Results:
    """The same queries on Apache Spark (local[2] here; a cluster URL in production)."""
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("yibao-clearing")
             .config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "4").getOrCreate())
    try:
        for table in TABLES:
            spark.read.parquet(str(_parquet(directory, table))).createOrReplaceTempView(table)
        return {name: [tuple(_plain(v) for v in row) for row in spark.sql(query).collect()]
                for name, query in queries.items()}
    finally:
        spark.stop()


def _parquet(directory: Path, table: str) -> Path:
    path = directory / f"{table}.parquet"
    assert "'" not in str(path), path
    return path


def _plain(value: Any) -> Any:
    """DuckDB sums BIGINT into HUGEINT and Spark into Decimal or int: make both int. A
    float here would be money that went through floating point: refuse it."""
    if isinstance(value, (str, type(None))):
        return value
    if isinstance(value, float):
        raise TypeError(f"a float reached the clearing results: {value!r}")
    assert value == int(value), value
    return int(value)
