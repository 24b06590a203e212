"""The SQL engine a run uses: one small interface, a DuckDB and a Spark implementation.

The replay's SQL (the steps in `sql/*.sql`, `estimate.MATCH_PROBABILITIES` and the
figure queries in `sql/figures/`) and the loaders' shared finishing and compaction
(`finishing.py`, `compaction.py`) are written once, in DuckDB's dialect of standard
SQL, with values as named parameters (`$name`). `DuckDBEngine` runs it as it is, on the
workspace connection; `incidentscope.spark.engine.SparkEngine` transpiles each
statement to Spark SQL with sqlglot and runs it on temp views. Either way the code that
calls it is the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import duckdb
import polars as pl

from incidentscope.sqlutil import bind
from incidentscope.workspace import lock_down

Params = Mapping[str, Any] | None


class Engine(Protocol):
    """What the replay and the loaders' finishing need from an engine. SQL texts are in
    DuckDB's dialect."""

    name: str

    def execute(self, sql: str, params: Params = None) -> None:
        """Run a statement; `CREATE TEMP TABLE x AS SELECT ...` materializes `x`, and
        `INSERT INTO x SELECT`, `DELETE FROM x` and `DROP TABLE x` change it."""

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        """All result rows as tuples (timestamps naive, in UTC)."""

    def frame(self, sql: str, params: Params = None) -> pl.DataFrame:
        """The result as a polars frame (through Arrow)."""

    def register(self, name: str, frame: pl.DataFrame) -> None:
        """Make a polars frame queryable under `name` until `unregister`."""

    def unregister(self, name: str) -> None: ...

    def create_table(self, name: str, frame: pl.DataFrame) -> None:
        """A temporary table with the frame's rows and column types (parameter tables)."""

    def drop_table(self, name: str) -> None:
        """Drop a temporary table or view made by `execute` or `create_table`, if it
        exists."""

    def lock_down(self) -> None:
        """From now on, SQL reads only tables (no file access, no setting changes)."""


# The note an out-of-memory error gets, followed by the statement's SQL text (never its
# bound values), so that the error can name the replay step or figure (api).
STATEMENT_NOTE = "incidentscope statement: "


@contextlib.contextmanager
def _noting_statement(sql: str) -> Iterator[None]:
    try:
        yield
    except duckdb.OutOfMemoryException as exc:
        exc.add_note(STATEMENT_NOTE + sql)
        raise


class DuckDBEngine:
    """The workspace connection, used as it is: no copies, temp tables, bound parameters."""

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def execute(self, sql: str, params: Params = None) -> None:
        with _noting_statement(sql):
            self.con.execute(sql, bind(sql, dict(params or {})))

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        with _noting_statement(sql):
            return self.con.execute(sql, bind(sql, dict(params or {}))).fetchall()

    def frame(self, sql: str, params: Params = None) -> pl.DataFrame:
        bound = bind(sql, dict(params or {}))
        with _noting_statement(sql):
            frame = pl.from_arrow(self.con.sql(sql, params=bound or None).to_arrow_table())
        assert isinstance(frame, pl.DataFrame)
        return frame

    def register(self, name: str, frame: pl.DataFrame) -> None:
        self.con.register(name, frame.to_arrow())

    def unregister(self, name: str) -> None:
        # Called from `finally`: after a failure (out of memory, an interrupt) the connection
        # may refuse it, and that must not hide the failure itself.
        with contextlib.suppress(duckdb.Error):
            self.con.unregister(name)

    def create_table(self, name: str, frame: pl.DataFrame) -> None:
        # `name` is one of the replay's fixed table names, never input
        staging = f"{name}_frame"
        self.con.register(staging, frame.to_arrow())
        try:
            self.con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {staging}")  # noqa: S608
        finally:
            self.unregister(staging)

    def drop_table(self, name: str) -> None:
        # (a replay step may make a view: DuckDB drops each kind by its own statement)
        views = self.con.execute("SELECT 1 FROM duckdb_views() WHERE temporary AND "
                                 "view_name = $1", [name]).fetchall()
        self.con.execute(f"DROP {'VIEW' if views else 'TABLE'} IF EXISTS {name}")

    def lock_down(self) -> None:
        lock_down(self.con)


EngineLike = Engine | duckdb.DuckDBPyConnection


def as_engine(target: EngineLike) -> Engine:
    """A DuckDB connection becomes a `DuckDBEngine`; an engine is used as it is."""
    if isinstance(target, duckdb.DuckDBPyConnection):
        return DuckDBEngine(target)
    return target
