"""The replay's SQL on Spark: each DuckDB statement transpiled with sqlglot.

The replay keeps one copy of its SQL, in DuckDB's dialect (`sql/*.sql`,
`estimate.MATCH_PROBABILITIES`, the figure queries in `replay.py`). This engine
parses each text once with sqlglot (read="duckdb"), then for every execution:

- binds the `$name` parameters as typed literals (timestamps as TIMESTAMP_NTZ, floats
  as DOUBLE), so the same statement text works in queries and in CACHE TABLE;
- writes Spark SQL (write="spark"); sqlglot keeps DuckDB's NULLS LAST ordering,
  maps TIMESTAMP to TIMESTAMP_NTZ and date_diff to DATEDIFF(MICROSECOND, ...);
- turns `CREATE TEMP TABLE x AS SELECT ...` into `CACHE TABLE x AS SELECT ...`: an
  eagerly materialized, cached temporary view, the closest Spark has to a temp table.

Results come back through Arrow into polars (`DataFrame.toArrow`), with timestamps
made naive UTC as DuckDB returns them. Works with a classic session or Spark Connect.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import polars as pl
import sqlglot
from sqlglot import exp

from incidentscope.errors import IncidentScopeError
from incidentscope.spark import _sqlport

Params = Mapping[str, Any] | None


class TranspileError(IncidentScopeError):
    """A replay statement could not be carried to Spark SQL (a bug in incidentscope)."""


class SparkEngine:
    """An `incidentscope.engine.Engine` on a SparkSession (classic or Spark Connect)."""

    name = "spark"

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        # Timestamps are compared and returned in UTC, as in the DuckDB workspace.
        spark.conf.set("spark.sql.session.timeZone", "UTC")
        self._parsed: dict[str, exp.Expr] = {}
        self.transpile_seconds = 0.0  # parse + bind + generate, all statements
        self.statements: dict[str, str] = {}  # DuckDB text -> Spark text (last binding)

    # -- transpilation ---------------------------------------------------------------

    def transpile(self, sql: str, params: Params = None) -> str:
        """The Spark SQL text of one DuckDB statement, parameters bound as literals."""
        started = time.perf_counter()
        tree = self._parsed.get(sql)
        if tree is None:
            try:
                tree = sqlglot.parse_one(sql, read="duckdb")
            except sqlglot.errors.ParseError:
                raise TranspileError("a replay statement cannot be parsed by sqlglot") from None
            self._parsed[sql] = tree
        try:
            bound = _sqlport.bind(tree, params or {})  # a copy: the parsed tree stays unbound
        except _sqlport.PortError as exc:  # a fixed text naming a parameter or a type
            raise TranspileError(str(exc)) from None
        if isinstance(bound, exp.Create) and bound.kind == "TABLE":
            # CREATE TEMP TABLE x AS SELECT ... -> an eager, cached temporary view
            query = bound.expression
            if not isinstance(query, exp.Query):
                raise TranspileError("only CREATE TEMP TABLE ... AS SELECT is supported")
            text = f"CACHE TABLE {bound.this.name} AS {query.sql(dialect='spark')}"
        else:
            text = bound.sql(dialect="spark")
        self.transpile_seconds += time.perf_counter() - started
        self.statements[sql] = text
        return text

    # -- the Engine interface --------------------------------------------------------

    def execute(self, sql: str, params: Params = None) -> None:
        self.spark.sql(self.transpile(sql, params)).collect()

    def _collect(self, sql: str, params: Params, positional: bool = False) -> pl.DataFrame:
        table = self.spark.sql(self.transpile(sql, params)).toArrow()
        if positional:  # unnamed result columns may share a name in Spark
            table = table.rename_columns([f"c{i}" for i in range(table.num_columns)])
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        # Spark's TIMESTAMP (with local time zone) arrives zoned: make it naive UTC.
        zoned = [name for name, dtype in frame.schema.items()
                 if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None]
        if zoned:
            frame = frame.with_columns(
                pl.col(zoned).dt.convert_time_zone("UTC").dt.replace_time_zone(None))
        return frame

    def frame(self, sql: str, params: Params = None) -> pl.DataFrame:
        return self._collect(sql, params)

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        return list(self._collect(sql, params, positional=True).iter_rows())

    def register(self, name: str, frame: pl.DataFrame) -> None:
        self.spark.createDataFrame(frame.to_arrow()).createOrReplaceTempView(name)

    def unregister(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)

    def create_table(self, name: str, frame: pl.DataFrame) -> None:
        # the parameter tables are a few rows: a view over local data is enough
        self.register(name, frame)

    def drop_table(self, name: str) -> None:
        # `name` is one of the replay's fixed table names; dropping a view uncaches it
        self.spark.catalog.dropTempView(name)

    def lock_down(self) -> None:
        """Nothing to do: what Spark SQL may read is the cluster's access control."""
