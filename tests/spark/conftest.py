"""One local Spark session (local[2]) for the Spark engine tests; skipped without PySpark."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("pyspark")
pytest.importorskip("sqlglot")


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from incidentscope.spark import session

    spark_session = session("local[2]", app_name="incidentscope-tests")
    spark_session.sparkContext.setLogLevel("ERROR")
    # The test cases are small: one shuffle partition per core keeps each query's fixed
    # cost down (the figures do not depend on the partitioning).
    spark_session.conf.set("spark.sql.shuffle.partitions", "2")
    yield spark_session
    spark_session.stop()
