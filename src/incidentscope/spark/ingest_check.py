"""The Spark load, checking: every cell with the SQL of `incidentscope.validate`.

The checks and conversions are DuckDB SQL carried to Spark by `_sqlport`; raw contacts
are normalized once per distinct value with `incidentscope.normalize` (Arrow batches,
`mapInArrow`) and pseudonymized with the workspace key. See spark/ingest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from incidentscope.config import Incident
from incidentscope.contract import (
    HASH_NUMBER,
    TABLES,
    Column,
    raw_column,
)
from incidentscope.contract import (
    raw_contacts as contacts_spec,
)
from incidentscope.spark import _sqlport
from incidentscope.spark.ingest_read import _STRUCTURAL
from incidentscope.validate import convert, problem, problem_native

# Java patterns of cells that are valid and already in canonical form (see _checked).
_CANONICAL = {
    "hex64": r"^[0-9a-f]{64}\z",
    # labels of letters, digits, '_', '.', '-' between '|'; at least one label character
    "purposes": r"^[A-Za-z0-9_.|-]*[A-Za-z0-9_.-][A-Za-z0-9_.|-]*\z",
}


# -- normalization of raw contacts ---------------------------------------------------------
def _normalizer(profile: str) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """Arrow batches of distinct (channel, raw, country) -> their contact hash or reason."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

        from incidentscope.normalize import NormalizationError, normalize, sha256_hex

        for batch in batches:
            hashes: list[str | None] = []
            reasons: list[str | None] = []
            for channel, raw, country in zip(batch.column("channel").to_pylist(),
                                             batch.column("raw").to_pylist(),
                                             batch.column("country").to_pylist(), strict=True):
                try:
                    hashes.append(sha256_hex(normalize(channel or "", raw, profile, country)))
                    reasons.append(None)
                except NormalizationError as exc:  # a fixed reason, never the value
                    hashes.append(None)
                    reasons.append(str(exc))
            yield pa.RecordBatch.from_arrays(
                [batch.column("channel"), batch.column("raw"), batch.column("country"),
                 pa.array(hashes, pa.string()), pa.array(reasons, pa.string())],
                names=["channel", "raw", "country", "m_hash", "m_reason"])

    return run


# -- checking ------------------------------------------------------------------------------
def _spark_sql(duckdb_sql: str, tz: str) -> str:
    return _sqlport.expression(duckdb_sql, {"tz": tz})


def _with_contact_hashes(incident: Incident, table: str, raw: Any, typed: dict[str, Any],
                         accounts: Any, key_frame: Any) -> Any:
    """Rows with m_hash / m_reason of their raw contact, and without the raw contact.

    As ingest._contact_map: each distinct (channel, raw value, region) is normalized once;
    the region is the account's country (contacts) or the row's `country` (uploads). Rows
    whose channel or account id is invalid are rejected for that first, so the typed
    values serve as the key. Only the de-duplication shuffles raw values; rows meet the map
    again by a keyed reference of the value (as in DuckDB).
    """
    from pyspark.sql import functions as F

    if contacts_spec(table).region == "row":
        return _with_row_region_hashes(incident, raw, typed, key_frame)

    has_contact = F.expr(_spark_sql("nullif(trim(contact), '') IS NOT NULL",
                                    incident.input_timezone))
    rows = (raw.crossJoin(F.broadcast(key_frame))
            .withColumn("_channel", typed["channel"])
            .withColumn("_account", typed["account_id"])
            .withColumn("_has_contact", has_contact)
            .withColumn("_ref", F.when(F.col("_has_contact"), F.sha2(
                F.concat(F.col("_key"), F.lit("|"), F.col("contact")), 256))))
    country = accounts.select(F.col("account_id").alias("_account"),
                              F.col("country").alias("_country"))
    distinct = (rows.where(F.col("_has_contact"))
                .select("_channel", "contact", "_account").distinct()
                .join(country, on="_account", how="left")
                .select(F.col("_channel").alias("channel"), F.col("contact").alias("raw"),
                        F.col("_country").alias("country"))
                .distinct())
    rows = rows.drop("contact", "_key").join(country, on="_account", how="left")
    return _join_normalized(incident, rows, distinct, key_frame)


def _join_normalized(incident: Incident, rows: Any, distinct: Any, key_frame: Any) -> Any:
    """`rows` with the normalization of their contact: `distinct` (channel, raw, country)
    normalized once each, met again by keyed reference, channel and region."""
    from pyspark.sql import functions as F

    mapped = distinct.mapInArrow(
        _normalizer(incident.normalization),
        "channel string, raw string, country string, m_hash string, m_reason string")
    mapped = mapped.crossJoin(F.broadcast(key_frame)).select(
        F.col("channel").alias("m_channel"), F.col("country").alias("m_country"),
        F.sha2(F.concat(F.col("_key"), F.lit("|"), F.col("raw")), 256).alias("m_ref"),
        "m_hash", "m_reason")
    condition = ((rows["_ref"] == mapped["m_ref"])
                 & rows["_channel"].eqNullSafe(mapped["m_channel"])
                 & rows["_country"].eqNullSafe(mapped["m_country"]))
    return rows.join(mapped, on=condition, how="left")


def _with_row_region_hashes(incident: Incident, raw: Any, typed: dict[str, Any],
                            key_frame: Any) -> Any:
    """`_with_contact_hashes` for a table whose rows give their own region (uploads)."""
    from pyspark.sql import functions as F

    region = F.upper(F.expr(_spark_sql("nullif(trim(country), '')", incident.input_timezone)))
    has_contact = F.expr(_spark_sql("nullif(trim(contact), '') IS NOT NULL",
                                    incident.input_timezone))
    rows = (raw.crossJoin(F.broadcast(key_frame))
            .withColumn("_channel", typed["channel"])
            .withColumn("_country", region)
            .withColumn("_has_contact", has_contact)
            .withColumn("_ref", F.when(F.col("_has_contact"), F.sha2(
                F.concat(F.col("_key"), F.lit("|"), F.col("contact")), 256))))
    distinct = (rows.where(F.col("_has_contact"))
                .select(F.col("_channel").alias("channel"), F.col("contact").alias("raw"),
                        F.col("_country").alias("country"))
                .distinct())
    return _join_normalized(incident, rows.drop("contact", "_key"), distinct, key_frame)






def _checked(spark: Any, incident: Incident, table: str, raw: Any, accounts: Any,
             key_frame: Any, *, raw_contacts: bool) -> Any:
    """Typed columns, the first problem of each row, pseudonyms; no raw contact value.

    `raw_contacts`: some file of `raw` has a `contact` column (else it is NULL throughout
    and the normalization, with its shuffles, is skipped).
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    tz = incident.input_timezone
    columns: list[Column] = list(TABLES[table].columns)
    checks: list[tuple[str, Any]] = []
    typed: dict[str, Any] = {}
    for column in columns:
        if column.name == raw_column(table):
            continue
        source = raw.schema[column.name].dataType
        if not isinstance(source, StringType):  # native, see _read_parquet
            checks.append((column.name, F.expr(_spark_sql(problem_native(column, column.name),
                                                          tz))))
            typed[column.name] = (F.col(column.name).cast("timestamp_ntz")
                                  if column.kind == "timestamp"
                                  else F.col(column.name).cast("bigint")
                                  if column.kind in ("int64", "positive_int")
                                  else F.col(column.name))
            continue
        check = F.expr(_spark_sql(problem(column, column.name, "$tz"), tz))
        value = F.expr(_spark_sql(convert(column, column.name, "$tz"), tz))
        if column.kind in _CANONICAL:
            # Most cells are already canonical (nothing to trim or lower, valid): one
            # pattern settles them; only the others pay for the full check.
            canonical = F.col(column.name).rlike(_CANONICAL[column.kind])
            check = F.when(canonical, F.lit(None).cast("string")).otherwise(check)
            value = F.when(canonical, F.col(column.name)).otherwise(value)
        checks.append((column.name, check))
        typed[column.name] = value
    frame = raw
    spec = TABLES[table].raw_contacts
    if spec is not None:
        if raw_contacts:
            frame = _with_contact_hashes(incident, table, frame, typed, accounts, key_frame)
        else:
            frame = frame.select("*", F.lit(False).alias("_has_contact"),
                                 F.lit(None).cast("string").alias("m_hash"),
                                 F.lit(None).cast("string").alias("m_reason"))
        hashed = F.coalesce(F.col("m_hash"), typed[spec.hashed])
        # As ingest._typed_stage: the normalization's reason, then a row without any contact.
        checks.append((spec.raw, F.when(F.col("_has_contact"), F.coalesce(
            F.col("m_reason"), F.when(F.col("m_hash").isNull(), F.lit("unreadable row"))))))
        checks.append((spec.raw, F.when(~F.col("_has_contact") & hashed.isNull(),
                                        F.lit("missing value"))))
        typed[spec.hashed] = hashed
    # Each check once, as a column; the first problem found is the row's reason.
    frame = frame.select("*", *[check.alias(f"_check{i}") for i, (_, check) in enumerate(checks)])
    reason = F.coalesce(*[F.col(f"_check{i}") for i in range(len(checks))])
    bad_column = F.coalesce(*[F.when(F.col(f"_check{i}").isNotNull(), F.lit(name))
                              for i, (name, _) in enumerate(checks)])
    frame = frame.select(
        "_file", "_rec", "_broken",
        *[value.alias(name) for name, value in typed.items()],
        F.when(F.col("_broken"), F.lit(_STRUCTURAL)).otherwise(bad_column).alias("_bad_column"),
        F.when(F.col("_broken"), F.lit(_STRUCTURAL)).otherwise(reason).alias("_bad_reason"))
    return _staged_columns(table, frame, key_frame)


def _staged_columns(table: str, frame: Any, key_frame: Any) -> Any:
    """The checked frame in the order of `Table.staged`: the contact hash as its keyed
    pseudonym, a column the file lacks (or an empty optional value) as its default."""
    from pyspark.sql import functions as F

    spec = TABLES[table]
    keep = ["_file", "_rec", "_bad_column", "_bad_reason"]
    columns = []
    for name, _kind, column in spec.staged():
        if name == HASH_NUMBER:
            # substr(sha256(key || contact hash), 1, 32): DuckDB's UHUGEINT, as hex.
            columns.append(F.when(F.col(column).isNotNull(), F.substring(
                F.sha2(F.concat(F.col("_key"), F.col(column)), 256), 1, 32)).alias("pseudonym"))
        elif spec.default(column) != "NULL":
            columns.append(F.coalesce(F.col(column), F.expr(spec.default(column)))
                           .alias(column))
        else:
            columns.append(F.col(column))
    if any(name == HASH_NUMBER for name, _kind, _column in spec.staged()):
        frame = frame.crossJoin(F.broadcast(key_frame))
    return frame.select(*keep, *columns)
