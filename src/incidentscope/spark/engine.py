"""The replay's and the loaders' shared SQL on Spark: each DuckDB statement transpiled
with sqlglot.

The replay keeps one copy of its SQL, in DuckDB's dialect (`sql/*.sql`,
`estimate.MATCH_PROBABILITIES`, the figure queries in `sql/figures/`), and so do the
loaders' finishing (`finishing.py`) and compaction (`compaction.py`). This engine
parses each text once with sqlglot (read="duckdb"), then for every execution:

- binds the `$name` parameters as typed literals (timestamps as TIMESTAMP_NTZ, floats
  as DOUBLE), so the same statement text works in queries and in CACHE TABLE;
- rewrites the DuckDB functions whose Spark namesakes mean something else
  (`_sqlport.rewrite`: trim, lower, regular expressions, time zones);
- writes Spark SQL (write="spark"); sqlglot keeps DuckDB's NULLS LAST ordering,
  maps TIMESTAMP to TIMESTAMP_NTZ and date_diff to DATEDIFF(MICROSECOND, ...);
- turns `CREATE TEMP TABLE x AS SELECT ...` into an eagerly materialized, cached
  temporary view of the query as it reads when it is made (`CACHE TABLE x AS SELECT
  ...`, but made from a DataFrame, see `_create`), the closest Spark has to a temp table;
- runs `INSERT INTO view SELECT`, `DELETE FROM view` and `DROP TABLE` on temporary
  views (see `execute`), which Spark SQL does not do itself.

Results come back through Arrow into polars (`DataFrame.toArrow`), with timestamps
made naive UTC as DuckDB returns them. Works with a classic session or Spark Connect.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import Any

import polars as pl
import sqlglot
from sqlglot import exp

from incidentscope.errors import IncidentScopeError
from incidentscope.spark import _sqlport

Params = Mapping[str, Any] | None


class TranspileError(IncidentScopeError):
    """A replay statement could not be carried to Spark SQL (a bug in incidentscope)."""


def statement_label(bound: exp.Expr) -> str:
    """What a statement makes and reads, by table name ("incidentscope: create classified
    from candidate_states, ..."): the name its Spark jobs carry (SparkEngine._described)."""
    read = {table.name for table in bound.find_all(exp.Table)}
    if isinstance(bound, (exp.Create, exp.Insert)):
        made = bound.this.name
        verb = "create" if isinstance(bound, exp.Create) else "insert into"
        label = f"{verb} {made} from {', '.join(sorted(read - {made}))}"
    else:
        label = f"query from {', '.join(sorted(read))}"
    return f"incidentscope: {label}"[:200]


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

    def _bound(self, sql: str, params: Params) -> exp.Expr:
        """One DuckDB statement as a tree for Spark: parsed once, then for this execution its
        parameters bound and the DuckDB functions whose meaning Spark's namesakes do not
        share rewritten (`_sqlport`: trim, lower, regular expressions, time zones)."""
        tree = self._parsed.get(sql)
        if tree is None:
            try:
                tree = sqlglot.parse_one(sql, read="duckdb")
            except sqlglot.errors.ParseError:
                raise TranspileError("a replay statement cannot be parsed by sqlglot") from None
            self._parsed[sql] = tree
        try:
            bound = _sqlport.bind(tree, params or {})  # a copy: the parsed tree stays unbound
            return bound.transform(_sqlport.rewrite, copy=False)
        except _sqlport.PortError as exc:  # a fixed text naming a parameter or a type
            raise TranspileError(str(exc)) from None

    def transpile(self, sql: str, params: Params = None) -> str:
        """The Spark SQL text of one DuckDB statement, parameters bound as literals."""
        started = time.perf_counter()
        return self._text(sql, self._bound(sql, params), started)

    def _text(self, sql: str, bound: exp.Expr, started: float) -> str:
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
        """Run a statement. Temporary tables are temporary views here, and what DuckDB does
        to a table is done to the view: `INSERT INTO view SELECT` replaces it by the union
        (materialized), `DELETE FROM view` (no WHERE) by an empty view of its columns, and
        `DROP TABLE` drops it (the loaders' finishing and compaction run so)."""
        started = time.perf_counter()
        bound = self._bound(sql, params)
        with self._described(bound):
            self._run(sql, bound, started)

    def _run(self, sql: str, bound: exp.Expr, started: float) -> None:
        if isinstance(bound, exp.Insert):
            if not isinstance(bound.expression, exp.Query):
                raise TranspileError("only INSERT INTO ... SELECT is supported")
            self._insert(bound.this.name, bound.expression.sql(dialect="spark"))
        elif isinstance(bound, exp.Delete):
            if bound.args.get("where"):
                raise TranspileError("DELETE ... WHERE has no Spark rule")
            name = bound.this.name
            self._replace(name, self.spark.createDataFrame([], self.spark.table(name).schema))
        elif isinstance(bound, exp.Drop):
            for table in bound.args.get("tables") or [bound.this]:
                self.spark.catalog.dropTempView(table.name)
        elif isinstance(bound, exp.Create) and bound.kind == "TABLE":
            self._text(sql, bound, started)  # checked, and kept for `statements`
            self._create(bound.this.name, bound.expression.sql(dialect="spark"))
        else:
            self.spark.sql(self._text(sql, bound, started)).collect()

    def _create(self, name: str, query: str) -> None:
        """CREATE TEMP TABLE name AS query: an eagerly cached view of the query as it reads
        now. A view made from a DataFrame keeps the plan its query had (the views it names
        are resolved once, here), where one made by SQL (`CACHE TABLE x AS ...`) would read
        them again when it is recomputed: after a view it names was replaced or dropped
        (INSERT, DELETE, DROP below), that would be another table than DuckDB's."""
        self.spark.sql(query).createOrReplaceTempView(name)
        self.spark.catalog.cacheTable(name)
        self.spark.table(name).count()  # eager, as CACHE TABLE

    def _insert(self, name: str, query: str) -> None:
        target = self.spark.table(name)
        new = self.spark.sql(query)
        new = new.toDF(*target.columns)  # by position, as INSERT INTO ... SELECT
        self._replace(name, target.unionByName(new.select(
            *[new[c].cast(t) for c, t in target.dtypes])))

    def _replace(self, name: str, frame: Any) -> None:
        # Materialized before the view is replaced: its plan no longer reads the old view,
        # which replacing uncaches.
        frame.localCheckpoint(eager=True).createOrReplaceTempView(name)

    @contextlib.contextmanager
    def _described(self, bound: exp.Expr) -> Iterator[None]:
        """Name the statement's Spark jobs by what it makes and reads ("create classified
        from ..."), so that the Spark UI and the event log show which replay step a stage
        belongs to (bench/experiments/spark_stages.py groups by it); the name is cleared
        after it, so that other jobs are not mislabelled. Table names only: never a bound
        value. Spark Connect sessions have no SparkContext, and no name."""
        try:
            context = self.spark.sparkContext
        except AttributeError:  # Spark Connect
            yield
            return
        context.setJobDescription(statement_label(bound))
        try:
            yield
        finally:
            context.setJobDescription(None)

    def _collect(self, sql: str, params: Params, positional: bool = False) -> pl.DataFrame:
        started = time.perf_counter()
        bound = self._bound(sql, params)
        with self._described(bound):
            table = self.spark.sql(self._text(sql, bound, started)).toArrow()
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
