"""Set-based analytics over the store: monthly clearing and detail reconciliation.

The SQL in ``sql.py`` is plain ANSI SQL over two tables (``settlements``, ``funds``) and
runs unchanged on DuckDB (one machine) and Apache Spark (``engines.py``)."""
