"""Copy a loaded DuckDB workspace into Spark temp views, as the Spark ingest registers them.

Used to test the replay on Spark on its own ("replay-only"): the input tables are
exactly the DuckDB ones, so any difference in the figures comes from the replay.
"""

from __future__ import annotations

from typing import Any

import duckdb

from incidentscope.spark.ingest import VIEW_SCHEMAS

# The tables the Spark ingest registers (workspace.schema_sql()), in that order.
TABLES = tuple(VIEW_SCHEMAS)


def _spark_type(duckdb_type: str) -> Any:
    from pyspark.sql import types as T

    return {
        "VARCHAR": T.StringType(), "BIGINT": T.LongType(), "INTEGER": T.IntegerType(),
        "DATE": T.DateType(), "TIMESTAMP": T.TimestampNTZType(), "BOOLEAN": T.BooleanType(),
        "DOUBLE": T.DoubleType(),
        # the pseudonym becomes 32 lowercase hex digits (see `copy_workspace`)
        "UHUGEINT": T.StringType(),
    }[duckdb_type]


def copy_workspace(con: duckdb.DuckDBPyConnection, spark: Any) -> None:
    """Register every input table of the workspace as a Spark temp view of the same name."""
    from pyspark.sql import types as T

    for table in TABLES:
        described = con.execute(f"DESCRIBE {table}").fetchall()
        columns = [(str(name), str(kind), nullable == "YES")
                   for name, kind, nullable, *_ in described]
        select = ", ".join(f"lower(printf('%032x', {name})) AS {name}" if kind == "UHUGEINT"
                           else name for name, kind, _ in columns)
        arrow = con.sql(f"SELECT {select} FROM {table}").to_arrow_table()
        schema = T.StructType([T.StructField(name, _spark_type(kind), True)
                               for name, kind, _ in columns])
        frame = spark.createDataFrame(arrow, schema=schema)
        frame.createOrReplaceTempView(table)
