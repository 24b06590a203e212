"""Baseline (b): a straightforward polars implementation of the core figures.

Same inputs and figures as duckdb_baseline.py: in-window match classes and
affected accounts lower/upper, from snapshot rows joined to each match through
the snapshot before and after it.

    python bench/baselines/polars_baseline.py DATA_DIR WINDOW_START FIX_AT
"""

from __future__ import annotations

import json
import sys
from datetime import datetime

import polars as pl

RESTRICTED = ["two_factor", "account_recovery"]


def figures(data_dir: str, window_start: str, fix_at: str) -> dict[str, object]:
    start = datetime.fromisoformat(window_start)
    fix = datetime.fromisoformat(fix_at)
    contacts = pl.scan_parquet(f"{data_dir}/contacts/*.parquet", include_file_paths="file")
    states = (
        contacts.with_columns(
            pl.col("file").str.extract(r"(\d{4}-\d{2}-\d{2})").str.to_date().alias("snapshot_date"),
            pl.col("purposes").str.split("|").list.eval(pl.element().is_in(RESTRICTED))
            .list.all().alias("restricted"))
        .group_by("snapshot_date", "account_id", "channel", "contact_sha256")
        .agg(pl.col("restricted").all())
        .collect()
    )
    snapshots = (states.select("snapshot_date").unique().sort("snapshot_date")
                 .with_columns(pl.col("snapshot_date").cast(pl.Datetime("us")).alias("ts")))
    audiences = pl.read_parquet(f"{data_dir}/audiences.parquet").filter(
        pl.col("audience_type").is_in(["tailored", "partner"]))
    matches = (
        pl.scan_parquet(f"{data_dir}/matches.parquet")
        .with_columns(pl.col("matched_at").dt.replace_time_zone(None))
        .filter((pl.col("matched_at") >= start) & (pl.col("matched_at") < fix))
        .join(audiences.lazy().select("audience_id"), on="audience_id")
        .select("matched_at", "account_id", "audience_id", "channel", "identifier_sha256")
        .unique()
        .sort("matched_at")
        .with_row_index("match_no")
        .collect()
    )
    snaps = snapshots.select(pl.col("ts"), pl.col("snapshot_date"))
    framed = (
        matches.join_asof(snaps.rename({"snapshot_date": "prev_date"}), left_on="matched_at",
                          right_on="ts", strategy="backward")
        .drop("ts")
        .join_asof(snaps.rename({"snapshot_date": "next_date"}), left_on="matched_at",
                   right_on="ts", strategy="forward", allow_exact_matches=False)
        .drop("ts")
        .with_columns(
            (pl.col("prev_date").cast(pl.Datetime("us")) == pl.col("matched_at"))
            .fill_null(False).alias("exact"))
        .with_columns(
            (pl.col("prev_date").is_null() | (pl.col("next_date").is_null() & ~pl.col("exact")))
            .alias("outside"))
    )

    def narrowed(frame: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(
            (pl.col("channel").is_null() | (pl.col("channel") == pl.col("channel_right")))
            & (pl.col("identifier_sha256").is_null()
               | (pl.col("identifier_sha256") == pl.col("contact_sha256"))))

    inside = framed.filter(~pl.col("outside"))
    at_prev = narrowed(inside.join(states, left_on=["account_id", "prev_date"],
                                   right_on=["account_id", "snapshot_date"]), states)
    at_next = narrowed(inside.filter(~pl.col("exact")).join(
        states, left_on=["account_id", "next_date"], right_on=["account_id", "snapshot_date"]),
        states)
    candidate_states = pl.concat([at_prev.select("match_no", "restricted"),
                                  at_next.select("match_no", "restricted")])
    keys = states.select("account_id", "channel", "contact_sha256").unique()
    outside = narrowed(framed.filter(pl.col("outside")).join(keys, on="account_id"), keys)
    flags = candidate_states.group_by("match_no").agg(
        pl.col("restricted").any().alias("may_r"), (~pl.col("restricted")).any().alias("may_p"))
    classified = (
        framed.select("match_no", "account_id")
        .join(flags, on="match_no", how="left")
        .join(outside.select("match_no").unique().with_columns(pl.lit(True).alias("out")),
              on="match_no", how="left")
        .with_columns(
            pl.when(pl.col("out").fill_null(False)).then(pl.lit("uncertain"))
            .when(pl.col("may_r").fill_null(False) & pl.col("may_p").fill_null(False))
            .then(pl.lit("uncertain"))
            .when(pl.col("may_r").fill_null(False)).then(pl.lit("caused"))
            .when(pl.col("may_p").fill_null(False)).then(pl.lit("permitted"))
            .otherwise(pl.lit("unexplained")).alias("match_class"))
    )
    counts = dict(classified.group_by("match_class").len().iter_rows())
    lower = classified.filter(pl.col("match_class") == "caused")["account_id"].n_unique()
    upper = classified.filter(pl.col("match_class") != "permitted")["account_id"].n_unique()
    return {
        "matches": {c: int(counts.get(c, 0))
                    for c in ("caused", "permitted", "uncertain", "unexplained")},
        "affected_accounts": {"lower": lower, "upper": upper},
    }


if __name__ == "__main__":
    print(json.dumps(figures(*sys.argv[1:4])))
