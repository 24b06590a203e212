"""The uploads table: every list entry the matcher processed, plus entries of non-users.

Everything here draws from random streams of its own (seed, 20) and (seed, 21, chunk), so
writing uploads never changes any other file of a scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

from incidentscope.generator.matcher import Entries, draw_times, pick_audiences
from incidentscope.generator.params import ScenarioParams
from incidentscope.generator.values import email_values, phone_template, phone_values, sha256_series
from incidentscope.generator.world import CHANNELS, PHONE, World
from incidentscope.generator.writer import TS, TS_FORMAT, TableWriter

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
STR = pa.string()
HASHED_SCHEMA = pa.schema([("uploaded_at", TS), ("audience_id", STR), ("channel", STR),
                           ("identifier_sha256", STR)])
RAW_SCHEMA = pa.schema([("uploaded_at", TS), ("audience_id", STR), ("channel", STR),
                        ("contact", STR), ("country", STR)])
UPLOAD_MALFORMED_KINDS = ("bad_channel", "bad_value", "bad_timestamp")
BAD_TIMESTAMP = "2019-02-30T25:61:00Z"
SLICE_ROWS = 1_000_000
CHANNEL_NAMES = pl.Series("channel", CHANNELS, dtype=pl.String)


def _rng(*key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(key))))


@dataclass(frozen=True)
class NonUsers:
    """Values on advertisers' lists that no account ever holds: reserved-domain emails and
    numbers of the phonenumbers example ranges that no account was given."""

    channel: npt.NDArray[np.int8]
    raw: pl.Series
    country: pl.Series  # region of a national-format raw phone, else null
    sha: pl.Series

    def __len__(self) -> int:
        return len(self.channel)


def _free_tails(rng: np.random.Generator, digits: int, used: I64, k: int) -> I64:
    """k distinct tails of `digits` digits, none of them in `used`."""
    chosen = np.zeros(0, np.int64)
    while len(chosen) < k:
        cand = rng.integers(0, 10**digits, 2 * (k - len(chosen)) + 16, dtype=np.int64)
        cand = cand[~np.isin(cand, used) & ~np.isin(cand, chosen)]
        _, first = np.unique(cand, return_index=True)
        chosen = np.concatenate([chosen, cand[np.sort(first)][: k - len(chosen)]])
    return chosen


def non_users(world: World, params: ScenarioParams, rng: np.random.Generator) -> NonUsers:
    share = params.nonuser_share
    size = max(50, round(len(world.listed) * share / (1.0 - share))) if share > 0 else 0
    n_email = int(rng.binomial(size, 0.5)) if size else 0
    # The digits after a name are the email's unique id; accounts use 1..email_values.
    uids = world.email_values + 1 + np.arange(n_email, dtype=np.int64)
    e_raw, e_norm = email_values(rng, uids)
    raws: list[pl.Series] = [e_raw]
    norms: list[pl.Series] = [e_norm]
    regions: list[pl.Series] = [pl.Series([None] * n_email, dtype=pl.String)]
    weights = np.array([w for _, w in params.countries], dtype=np.float64)
    n_phone = size - n_email
    country = rng.choice(len(world.countries), size=n_phone, p=weights / weights.sum())
    for c, code in enumerate(world.countries):
        k = int(np.sum(country == c))
        if k == 0:
            continue
        digits, used = world.phone_tails[c]
        tails = _free_tails(rng, digits, used, k)
        style = rng.choice(3, size=k, p=[0.4, 0.4, 0.2]).astype(np.int8)
        p_raw, e164 = phone_values(phone_template(code, digits), tails, style)
        raws.append(p_raw)
        norms.append(e164)
        regions.append(pl.Series([code if v == 0 else None for v in style.tolist()],
                                 dtype=pl.String))
    channel = np.concatenate([np.zeros(n_email, np.int8), np.full(n_phone, PHONE, np.int8)])
    return NonUsers(channel=channel, raw=pl.concat(raws).rename("contact"),
                    country=pl.concat(regions).rename("country"),
                    sha=sha256_series(pl.concat(norms)))


@dataclass
class UploadStats:
    rows: int = 0
    entries: int = 0
    entries_in_window: int = 0
    duplicate_rows: int = 0
    duplicates_in_window: int = 0
    nonuser_entries: int = 0
    unheld_entries: int = 0
    malformed: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(UPLOAD_MALFORMED_KINDS, 0))

    def as_json(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "entries": self.entries,
            "entries_in_window": self.entries_in_window,
            "duplicate_rows": self.duplicate_rows,
            "duplicates_in_window": self.duplicates_in_window,
            "nonuser_entries": self.nonuser_entries,
            "unheld_entries": self.unheld_entries,
            "malformed_rows": sum(self.malformed.values()),
            "malformed_by_kind": dict(self.malformed),
        }


class UploadWriter:
    """Writes uploads.<ext> one time chunk at a time (sorted by time, audience, value)."""

    def __init__(self, world: World, params: ScenarioParams, path: Path,
                 window: tuple[int, int]) -> None:
        self.world = world
        self.params = params
        self.window = window
        self.pool = non_users(world, params, _rng(params.seed, 20))
        self.n_values = len(world.owner0)
        fmt = params.file_format
        schema = HASHED_SCHEMA if params.hashed else RAW_SCHEMA
        self.writer = TableWriter(path, fmt, schema)
        self.stats = UploadStats()
        c = world.contacts
        if params.hashed:
            self.values = pl.concat([world.value_sha, self.pool.sha]).rename("identifier_sha256")
            self.regions: pl.Series | None = None
        else:
            self.values = pl.concat([c.raw, self.pool.raw]).rename("contact")
            # The account's country is the region of its national-format phones.
            own = pl.DataFrame({
                "phone": c.channel == PHONE, "raw": c.raw,
                "home": np.array(world.countries)[world.country[c.acct]],
            }).select(pl.when(pl.col("phone") & ~pl.col("raw").str.starts_with("+"))
                      .then(pl.col("home")).alias("country"))["country"]
            self.regions = pl.concat([own, self.pool.country]).rename("country")

    def write_chunk(self, ci: int, entries: Entries, *, lo: int, hi: int,
                    bad_kinds: list[int]) -> None:
        """The chunk's matcher entries, non-user entries, duplicates and malformed copies."""
        world, params = self.world, self.params
        c = world.contacts
        rng = _rng(params.seed, 21, ci)
        share = params.nonuser_share
        n_user = len(entries)
        n_non = round(n_user * share / (1.0 - share)) if len(self.pool) else 0
        t_non = draw_times(rng, lo=lo, hi=hi, n=n_non, midnight_share=params.midnight_share)
        a_non = pick_audiences(world, t_non, rng.random(n_non))
        p_non = rng.integers(0, max(len(self.pool), 1), n_non, dtype=np.int64)
        t = np.concatenate([entries.t, t_non])
        audience = np.concatenate([entries.audience, a_non])
        user = np.arange(len(t)) < n_user
        # key: the value id (user values, then the non-users after them): equal keys, equal hash
        key = np.concatenate([c.value[entries.slot].astype(np.int64), self.n_values + p_non])
        # where the written value comes from: a contact row, or a non-user after all rows
        src = np.concatenate([entries.slot, len(c) + p_non]) if not params.hashed else key
        channel = np.concatenate([c.channel[entries.slot], self.pool.channel[p_non]])
        held = np.concatenate([entries.held, np.zeros(n_non, np.bool_)])
        restyle = rng.choice(3, size=len(t), p=[0.6, 0.3, 0.1]).astype(np.int8)
        order = np.lexsort((key, audience, t))
        t, audience, key, src, channel, held, user, restyle = (
            t[order], audience[order], key[order], src[order], channel[order], held[order],
            user[order], restyle[order])
        m = len(t)
        first = np.ones(m, np.bool_)
        if m > 1:
            first[1:] = (t[1:] != t[:-1]) | (audience[1:] != audience[:-1]) | (key[1:] != key[:-1])
        ws, fix = self.window
        in_window = (t >= ws) & (t < fix)
        dup = (rng.random(m) < params.duplicate_share) if params.damage else np.zeros(m, np.bool_)
        bad = np.zeros(m, np.int8)
        if bad_kinds:
            cand = np.flatnonzero(in_window & ~dup)
            take = min(len(cand), len(bad_kinds))
            picks = np.sort(rng.choice(cand, size=take, replace=False))
            bad[picks] = np.array(bad_kinds[:take], np.int8)
            for kind in bad_kinds[:take]:
                self.stats.malformed[UPLOAD_MALFORMED_KINDS[kind - 1]] += 1
        copies = 1 + (dup | (bad > 0)).astype(np.int64)
        rows = np.repeat(np.arange(m), copies)
        second = np.zeros(len(rows), np.bool_)
        if len(rows) > 1:
            second[1:] = rows[1:] == rows[:-1]
        row_bad = np.where(second, bad[rows], 0).astype(np.int8)
        st = self.stats
        st.entries += int(first.sum())
        st.entries_in_window += int(np.sum(first & in_window))
        st.duplicate_rows += int(np.sum(~first) + dup.sum())
        st.duplicates_in_window += int(np.sum(~first & in_window) + np.sum(dup & in_window))
        st.nonuser_entries += int(np.sum(first & ~user))
        st.unheld_entries += int(np.sum(first & ~held))
        for start in range(0, len(rows), SLICE_ROWS):
            part = rows[start:start + SLICE_ROWS]
            self.writer.write(self._frame(
                t[part], audience[part], channel[part], src[part], user[part] & (restyle[part] > 0)
                & (channel[part] == 0), restyle[part], row_bad[start:start + SLICE_ROWS]))
        st.rows = self.writer.rows

    def _frame(self, t: I64, audience: I64, channel: npt.NDArray[np.int8], src: I64,
               restyled: Bools, restyle: npt.NDArray[np.int8],
               bad: npt.NDArray[np.int8]) -> pl.DataFrame:
        world, params = self.world, self.params
        fmt = params.file_format
        value_col = "identifier_sha256" if params.hashed else "contact"
        frame = pl.DataFrame({
            "uploaded_at": pl.Series(t * 1_000_000, dtype=pl.Int64).cast(
                pl.Datetime("us", "UTC")),
            "audience_id": world.audience_ids.gather(audience),
            "channel": CHANNEL_NAMES.gather(channel),
            value_col: self.values.gather(src),
            "bad": bad,
        })
        columns: list[pl.Expr] = []
        value = pl.col(value_col)
        if not params.hashed:
            # Advertisers type emails their own way: some lowercased or uppercased, trimmed.
            frame = frame.with_columns(pl.Series("restyle", np.where(restyled, restyle, 0)),
                                       self.regions.gather(src) if self.regions is not None
                                       else pl.lit(None, pl.String).alias("country"))
            value = (pl.when(pl.col("restyle") == 1)
                     .then(pl.col(value_col).str.strip_chars().str.to_lowercase())
                     .when(pl.col("restyle") == 2)
                     .then(pl.col(value_col).str.strip_chars().str.to_uppercase())
                     .otherwise(pl.col(value_col)))
            bad_value: pl.Expr = pl.lit("n/a")
        else:
            bad_value = pl.concat_str([pl.lit("zz"), pl.col(value_col).str.slice(2)])
        if fmt == "csv":
            time: pl.Expr = pl.col("uploaded_at").dt.strftime(TS_FORMAT)
            bad_time: pl.Expr = pl.lit(BAD_TIMESTAMP)
        else:
            time = pl.col("uploaded_at")
            bad_time = pl.lit(None, dtype=pl.Datetime("us", "UTC"))
        columns = [
            pl.when(pl.col("bad") == 3).then(bad_time).otherwise(time).alias("uploaded_at"),
            pl.col("audience_id"),
            pl.when(pl.col("bad") == 1).then(pl.lit("sms")).otherwise(pl.col("channel"))
            .alias("channel"),
            pl.when(pl.col("bad") == 2).then(bad_value).otherwise(value).alias(value_col),
        ]
        if not params.hashed:
            columns.append(pl.col("country"))
        return frame.select(columns)

    def close(self) -> int:
        self.writer.close()
        self.stats.rows = self.writer.rows
        return self.writer.rows


__all__ = ["UPLOAD_MALFORMED_KINDS", "NonUsers", "UploadStats", "UploadWriter", "non_users"]
