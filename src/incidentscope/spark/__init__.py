"""The Spark engine: the same ingest checks and the same replay on Apache Spark.

PySpark is optional (`pip install 'incidentscope[spark]'`); importing this package
does not import it, `session()` does.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from incidentscope.errors import UsageError

INSTALL_HINT = ("the Spark engine needs PySpark and sqlglot: "
                "pip install 'incidentscope[spark]' (and Java 17 or newer)")


def session(master: str | None = None, app_name: str = "incidentscope") -> Any:
    """A SparkSession: a Spark Connect URL (sc://...), a master URL, or local[2]."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    builder = SparkSession.builder.appName(app_name)
    if master and master.startswith("sc://"):
        builder = builder.remote(master)
    else:
        builder = (builder.master(master or "local[2]")
                   # Same answers as DuckDB: UTC session time, ANSI casts that fail as NULL
                   # only where the SQL says TRY_CAST.
                   .config("spark.sql.session.timeZone", "UTC")
                   .config("spark.sql.shuffle.partitions", "4")
                   .config("spark.ui.enabled", "false")
                   # stderr is for incidentscope's own progress, not Spark's stage bars
                   .config("spark.ui.showConsoleProgress", "false"))
        if (master or "local").startswith("local"):
            # Local workers run on this machine: give them this interpreter (and so this
            # environment's pyarrow, phonenumbers, ...), not whatever `python3` is on PATH.
            # PySpark reads only the environment variable for this.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return builder.getOrCreate()


def require() -> None:
    """Refuse with the install hint (exit 64) when PySpark or sqlglot is missing."""
    try:
        import pyspark  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError:
        raise UsageError(INSTALL_HINT) from None


def start(master: str | None) -> Any:
    """`session(master)` for a run: a session that cannot start is a usage error (exit 64)."""
    try:
        return session(master)
    except UsageError:
        raise
    except Exception:  # the JVM did not start, or the master is unreachable
        raise UsageError("cannot start a Spark session: is Java 17 or newer installed, and is "
                         "the --spark-master URL right?") from None
