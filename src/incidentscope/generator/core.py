"""`generate`: write a scenario's input files, incident file and ground truth."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

from incidentscope.errors import UsageError
from incidentscope.generator.matcher import Made, Rules, simulate
from incidentscope.generator.params import GenerateSummary, ScenarioParams
from incidentscope.generator.tally import MALFORMED_KINDS, TRUTH_ORDER, Logged, Tally
from incidentscope.generator.uploads import UPLOAD_MALFORMED_KINDS, UploadWriter
from incidentscope.generator.world import (
    CHANNELS,
    DAY,
    EPOCH,
    PURPOSES,
    RESTRICTED,
    SPLIT_PARTS,
    World,
    build_world,
    seconds,
)
from incidentscope.generator.writer import TS, TS_FORMAT, TableWriter, write_table

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
TABLE_NAMES = ("accounts", "audiences", "campaigns", "campaign_audiences", "matches",
               "deliveries", "uploads")
# Written into every generated scenario: a folder that holds it may be generated over again.
MARKER = ".incidentscope-scenario"
MARKER_TEXT = ("This folder holds a scenario written by `incidentscope generate` (synthetic "
               "data).\nGenerating into it again replaces the generated files.\n")
STR = pa.string()
SCHEMAS: dict[str, pa.Schema] = {
    "accounts": pa.schema([("account_id", pa.int64()), ("country", STR)]),
    "audiences": pa.schema([("audience_id", STR), ("advertiser_id", STR),
                            ("audience_type", STR), ("partner_id", STR)]),
    "campaigns": pa.schema([("campaign_id", STR), ("advertiser_id", STR), ("name", STR)]),
    "campaign_audiences": pa.schema([("campaign_id", STR), ("audience_id", STR)]),
    "matches": pa.schema([("matched_at", TS), ("account_id", pa.int64()), ("audience_id", STR),
                          ("channel", STR), ("identifier_sha256", STR)]),
    "deliveries": pa.schema([("served_at", TS), ("campaign_id", STR), ("account_id", pa.int64()),
                             ("impressions", pa.int64())]),
}
CONTACT_MALFORMED_KINDS = ("bad_account_id", "bad_channel", "bad_value", "empty_purposes")
BAD_TIMESTAMP = "2019-02-30T25:61:00Z"
CHANNEL_NAMES = np.array(CHANNELS)
PURPOSE_NAMES = np.array(PURPOSES)
PART_A = np.array([SPLIT_PARTS.get(i, (p, p))[0] for i, p in enumerate(PURPOSES)])
PART_B = np.array([SPLIT_PARTS.get(i, (p, p))[1] for i, p in enumerate(PURPOSES)])


def _rng(*key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(key))))


def _iso(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _timestamps(secs: I64) -> pl.Series:
    return pl.Series(secs * 1_000_000, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))


def _csv_strings(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        pl.col(name).dt.strftime(TS_FORMAT) if dtype == pl.Datetime("us", "UTC")
        else pl.col(name).cast(pl.String)
        for name, dtype in frame.schema.items()
    )


def _claim(out_dir: Path, force: bool) -> None:
    """Refuse a folder that holds something other than a generated scenario (unless forced),
    then mark it as one. Nothing in the folder is read or named but the marker."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"generate: {out_dir} exists and is not a folder")
    if (out_dir.is_dir() and not force and not (out_dir / MARKER).is_file()
            and any(out_dir.iterdir())):
        raise UsageError(
            f"generate: {out_dir} is not empty and holds no scenario generated before (no "
            f"{MARKER} file); choose an empty folder, or pass --force to write there anyway "
            "(files with a scenario's names are replaced)")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER).write_text(MARKER_TEXT, encoding="utf-8")


def _clean(out_dir: Path, data: Path) -> None:
    """Remove files a previous run of the generator could have left (and nothing else)."""
    stale = [out_dir / "incident.toml", out_dir / "truth.json", out_dir / "truth_accounts.csv",
             out_dir / "truth_accounts_whole_window.csv"]
    for ext in ("csv", "parquet"):
        stale += [data / f"{name}.{ext}" for name in TABLE_NAMES]
        stale += sorted((data / "contacts").glob(f"contacts_*.{ext}"))
    for path in stale:
        path.unlink(missing_ok=True)


def _incident_toml(params: ScenarioParams) -> str:
    return "\n".join([
        "[incident]",
        f'id = "generated-seed-{params.seed}"',
        f'title = "Security contact data used for ad audience matching (generated, seed '
        f'{params.seed})"',
        f'window_start = "{_iso(params.window_start)}"',
        f'fix_at = "{_iso(params.fix_at)}"',
        'restricted_purposes = ["two_factor", "account_recovery"]',
        'audience_types = ["tailored", "partner"]',
        'input_timezone = "UTC"',
        'normalization = "twitter"',
        "",
        "[report]",
        "min_cell = 10",
        "",
    ])


def _write_static(world: World, data: Path, fmt: str) -> dict[str, int]:
    rows: dict[str, int] = {}
    rows["accounts"] = write_table(data / f"accounts.{fmt}", fmt, SCHEMAS["accounts"],
                                   pl.DataFrame({
                                       "account_id": world.account_ids,
                                       "country": np.array(world.countries)[world.country],
                                   }))
    partner = world.audience_partner
    rows["audiences"] = write_table(data / f"audiences.{fmt}", fmt, SCHEMAS["audiences"],
                                    pl.DataFrame({
                                        "audience_id": world.audience_ids,
                                        "advertiser_id": world.advertiser_ids.gather(
                                            world.audience_advertiser),
                                        "audience_type": np.array(["tailored", "partner"])[
                                            world.audience_type],
                                        "partner_id": world.partner_ids.gather(
                                            np.maximum(partner, 0)),
                                    }).with_columns(
                                        pl.when(pl.Series(partner >= 0))
                                        .then(pl.col("partner_id")).alias("partner_id")))
    rows["campaigns"] = write_table(data / f"campaigns.{fmt}", fmt, SCHEMAS["campaigns"],
                                    pl.DataFrame({
                                        "campaign_id": world.campaign_ids,
                                        "advertiser_id": world.advertiser_ids.gather(
                                            world.campaign_advertiser),
                                        "name": world.campaign_names,
                                    }))
    pairs = pl.DataFrame({
        "campaign_id": world.campaign_ids.gather(world.ca_campaign),
        "audience_id": world.audience_ids.gather(world.ca_audience),
        "c": world.ca_campaign, "a": world.ca_audience,
    }).sort(["c", "a"]).drop(["c", "a"])
    rows["campaign_audiences"] = write_table(data / f"campaign_audiences.{fmt}", fmt,
                                             SCHEMAS["campaign_audiences"], pairs)
    return rows


def _write_snapshots(
    world: World, params: ScenarioParams, data: Path
) -> tuple[int, dict[str, int]]:
    """One full export per snapshot date; malformed copies of real rows appended to a few."""
    fmt = params.file_format
    c = world.contacts
    value_col = "contact_sha256" if params.hashed else "contact"
    schema = pa.schema([("account_id", pa.int64()), ("channel", STR), (value_col, STR),
                        ("purposes", STR)])
    rng = _rng(params.seed, 4)
    n_snap = len(world.snapshots)
    plan: list[list[int]] = [[] for _ in range(n_snap)]
    if params.damage and n_snap:
        kinds = [k for k in range(4) for _ in range(params.malformed_per_kind)]
        for i, kind in enumerate(kinds):
            plan[(i * n_snap) // len(kinds)].append(kind)
    bad_counts = dict.fromkeys(CONTACT_MALFORMED_KINDS, 0)
    total = 0
    for s_idx, (day, s) in enumerate(zip(world.snapshots, world.snap_secs, strict=True)):
        idx = np.flatnonzero((c.created <= s) & (s < c.removed))
        code = np.where(s < c.change[idx], c.p0[idx], c.p1[idx])
        split = c.split[idx] & np.isin(code, list(SPLIT_PARTS))
        rows = np.concatenate([idx[~split], idx[split], idx[split]])
        purposes = np.concatenate([PURPOSE_NAMES[code[~split]], PART_A[code[split]],
                                   PART_B[code[split]]])
        key = np.concatenate([idx[~split] * 2, idx[split] * 2, idx[split] * 2 + 1])
        order = np.argsort(key, kind="stable")
        rows, purposes = rows[order], purposes[order]
        values = (world.value_sha.gather(c.value[rows]) if params.hashed
                  else c.raw.gather(rows))
        frame = pl.DataFrame({
            "account_id": world.account_ids[c.acct[rows]],
            "channel": CHANNEL_NAMES[c.channel[rows]],
            value_col: values,
            "purposes": purposes,
        })
        if fmt == "csv":
            frame = _csv_strings(frame)
        if plan[s_idx] and frame.height:
            picks = rng.choice(frame.height, size=len(plan[s_idx]), replace=True)
            bad = frame[picks.tolist()]
            kind_col = pl.Series("kind", plan[s_idx], dtype=pl.Int8)
            bad_value = ("zz" + "0" * 62) if params.hashed else "n/a"
            bad = bad.with_columns(kind_col).select(
                pl.when(pl.col("kind") == 0).then(
                    None if fmt == "parquet"
                    else pl.concat_str([pl.lit("acct-"), pl.col("account_id")]))
                .otherwise(pl.col("account_id")).alias("account_id"),
                pl.when(pl.col("kind") == 1).then(pl.lit("fax")).otherwise(pl.col("channel"))
                .alias("channel"),
                pl.when(pl.col("kind") == 2).then(pl.lit(bad_value)).otherwise(pl.col(value_col))
                .alias(value_col),
                pl.when(pl.col("kind") == 3).then(pl.lit("")).otherwise(pl.col("purposes"))
                .alias("purposes"),
            )
            frame = pl.concat([frame, bad], how="vertical")
            for kind in plan[s_idx]:
                bad_counts[CONTACT_MALFORMED_KINDS[kind]] += 1
        path = data / "contacts" / f"contacts_{day.isoformat()}.{fmt}"
        total += write_table(path, fmt, schema, frame)
    return total, bad_counts


def _chunks(start: int, stop: int) -> list[tuple[int, int, str]]:
    """[lo, hi) month chunks covering [start, stop), with the month label."""
    out: list[tuple[int, int, str]] = []
    day = EPOCH + timedelta(days=start // DAY)
    lo = start
    while lo < stop:
        nxt = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        hi = min(seconds(nxt), stop)
        out.append((lo, hi, f"{day.year:04d}-{day.month:02d}"))
        lo, day = hi, nxt
    return out


def _match_frame(world: World, made: Made, rows: I64, id_logged: Bools, *,
                 bad: npt.NDArray[np.int8], fmt: str) -> pl.DataFrame:
    c = world.contacts
    k = made.contact[rows]
    has_id = id_logged[rows]
    frame = pl.DataFrame({
        "matched_at": _timestamps(made.t[rows]),
        "account_id": world.account_ids[c.acct[k]],
        "audience_id": world.audience_ids.gather(made.audience[rows]),
        "channel": CHANNEL_NAMES[c.channel[k]],
        "identifier_sha256": world.value_sha.gather(c.value[k]),
        "has_id": has_id,
        "bad": bad,
    }).with_columns(
        pl.when(pl.col("has_id")).then(pl.col("channel")).alias("channel"),
        pl.when(pl.col("has_id")).then(pl.col("identifier_sha256")).alias("identifier_sha256"),
    )
    if fmt == "csv":
        frame = _csv_strings(frame.drop(["has_id", "bad"])).with_columns(frame["bad"])
        bad_account = pl.concat_str([pl.col("account_id"), pl.lit("x")])
        bad_time: pl.Expr = pl.lit(BAD_TIMESTAMP)
    else:
        bad_account = pl.lit(None, dtype=pl.Int64)
        bad_time = pl.lit(None, dtype=pl.Datetime("us", "UTC"))
    bad_hex = pl.when(pl.col("identifier_sha256").is_not_null()).then(
        pl.concat_str([pl.lit("zz"), pl.col("identifier_sha256").str.slice(2)])
    ).otherwise(pl.lit("not-a-sha256"))
    return frame.select(
        pl.when(pl.col("bad") == 4).then(bad_time).otherwise(pl.col("matched_at"))
        .alias("matched_at"),
        pl.when(pl.col("bad") == 1).then(bad_account).otherwise(pl.col("account_id"))
        .alias("account_id"),
        pl.col("audience_id"),
        pl.when(pl.col("bad") == 2).then(pl.lit("sms")).otherwise(pl.col("channel"))
        .alias("channel"),
        pl.when(pl.col("bad") == 3).then(bad_hex).otherwise(pl.col("identifier_sha256"))
        .alias("identifier_sha256"),
    )


def _delivery_frame(world: World, params: ScenarioParams, made: Made, rng: np.random.Generator,
                    t_end: int) -> tuple[pl.DataFrame, int]:
    aud = made.audience
    reach = world.ca_cnt[aud] > 0
    count = rng.poisson(params.deliveries_per_match, len(made)) * reach
    src = np.repeat(np.arange(len(made)), count)
    a = aud[src]
    served = made.t[src] + 60 + rng.exponential(4 * DAY, len(src)).astype(np.int64)
    campaign = world.ca_campaign[
        world.ca_ptr[a] + (rng.random(len(src)) * world.ca_cnt[a]).astype(np.int64)]
    impressions = rng.geometric(0.45, len(src)).astype(np.int64)
    keep = served < t_end
    acct_ids = world.account_ids[world.contacts.acct[made.contact[src]]]
    served, campaign, acct_ids, impressions = (served[keep], campaign[keep], acct_ids[keep],
                                               impressions[keep])
    order = np.lexsort((campaign, acct_ids, served))
    frame = pl.DataFrame({
        "served_at": _timestamps(served[order]),
        "campaign_id": world.campaign_ids.gather(campaign[order]),
        "account_id": acct_ids[order],
        "impressions": impressions[order],
    })
    return frame, int(impressions.sum())


def _rows_for_mean(cumw: npt.NDArray[np.float64], mean: float) -> float:
    """Logged rows R such that R / E[accounts with >= 1 row] == mean, when each listed account
    receives a Poisson number of rows proportional to its weight."""
    share = np.diff(cumw, prepend=0.0) / cumw[-1]

    def ratio(rows: float) -> float:
        return rows / float(np.sum(-np.expm1(-rows * share)))

    if mean <= 1.0:
        return mean
    lo, hi = 1e-9, 1.0
    while ratio(hi) < mean:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ratio(mid) < mean else (lo, mid)
    return hi


def _exposed(world: World, ws: int, fix: int) -> Bools:
    """Accounts that held a restricted-only contact at some instant of [ws, fix)."""
    c = world.contacts
    end0 = np.minimum(c.change, c.removed)
    before = RESTRICTED[c.p0] & (c.created < end0) & (c.created < fix) & (end0 > ws)
    after = RESTRICTED[c.p1] & (c.change < c.removed) & (c.change < fix) & (c.removed > ws)
    out = np.zeros(len(world.account_ids), np.bool_)
    out[c.acct[before | after]] = True
    return out


def _campaigns_of(world: World, audiences: Bools) -> int:
    """Campaigns that target at least one of the flagged audiences."""
    return len(np.unique(world.ca_campaign[audiences[world.ca_audience]]))


def _window_chunks(chunks: list[tuple[int, int, str]], lo: int, hi: int) -> list[int]:
    return [i for i, (a, b, _) in enumerate(chunks) if a < hi and b > lo]


def _spread(chunks: list[int], n_chunks: int, kinds: list[int]) -> list[list[int]]:
    """Malformed-row kinds spread evenly over the given chunks."""
    plan: list[list[int]] = [[] for _ in range(n_chunks)]
    if chunks:
        for i, kind in enumerate(kinds):
            plan[chunks[(i * len(chunks)) // len(kinds)]].append(kind)
    return plan


@dataclass(frozen=True)
class _Timeline:
    """The run's fixed times (seconds since the epoch) and its share of the events."""

    t0: int  # the first day of the period
    log_t0: int  # the first day of the match log
    t_end: int  # the day after the last
    ws: int  # the window start
    fix: int  # the fix
    rules: Rules
    events: int  # simulated events, all chunks


@dataclass(frozen=True)
class _Damage:
    """Where the log is damaged: lost days, and malformed rows per chunk."""

    lost_days: I64  # days (since the epoch) whose log rows are lost
    chunks: list[tuple[int, int, str]]
    bad_plan: list[list[int]]  # malformed match kinds per chunk
    upload_bad_plan: list[list[int]]  # malformed upload kinds per chunk


def _timeline(world: World, params: ScenarioParams) -> _Timeline:
    t0 = seconds(params.period_start())
    t_end = seconds(params.end) + DAY
    ws, fix = seconds(params.window_start), seconds(params.fix_at)
    leak = fix + int(params.leak_days * DAY) if params.post_fix_leak else fix
    rules = Rules(window_start=ws, fix_at=fix, leak_until=leak,
                  midnight_share=params.midnight_share)
    pilot_n = 40_000
    pilot, _ = simulate(world, rules, _rng(params.seed, 2), lo=t0, hi=t_end, n_events=pilot_n)
    rate = max(len(pilot) / pilot_n, 1e-6)
    target = (params.matches_total if params.matches_total is not None
              else _rows_for_mean(world.listed_cumw, params.matches_per_account))
    return _Timeline(t0, seconds(params.effective_log_start()), t_end, ws, fix, rules,
                     int(np.ceil(target / rate)))


def _damage(params: ScenarioParams, time: _Timeline) -> _Damage:
    plan_rng = _rng(params.seed, 3)
    # Lost days fall on window days that the log covers (all of them unless it starts late).
    logged_from = max(time.ws, min(time.log_t0, time.fix))
    logged_days = (time.fix - logged_from) // DAY
    lost_days = np.zeros(0, np.int64)
    if params.damage and params.lost_log_days > 0 and logged_days > 0:
        lost_days = np.sort(plan_rng.choice(logged_days, size=min(params.lost_log_days,
                                                                  logged_days), replace=False))
        lost_days = (lost_days + logged_from // DAY).astype(np.int64)
    chunks = _chunks(time.t0, time.t_end)
    bad_plan = _spread(_window_chunks(chunks, logged_from, time.fix) if params.damage else [],
                       len(chunks),
                       [k for k in range(1, 5) for _ in range(params.malformed_per_kind)])
    upload_bad_plan = _spread(
        _window_chunks(chunks, time.ws, time.fix) if params.damage else [], len(chunks),
        [k for k in range(1, len(UPLOAD_MALFORMED_KINDS) + 1)
         for _ in range(params.malformed_per_kind)])
    return _Damage(lost_days, chunks, bad_plan, upload_bad_plan)


class _Writers:
    """The log files a scenario writes chunk by chunk."""

    def __init__(self, world: World, params: ScenarioParams, data: Path, time: _Timeline):
        fmt = params.file_format
        self.matches = TableWriter(data / f"matches.{fmt}", fmt, SCHEMAS["matches"])
        self.deliveries = (TableWriter(data / f"deliveries.{fmt}", fmt, SCHEMAS["deliveries"])
                           if params.deliveries else None)
        self.uploads = (UploadWriter(world, params, data / f"uploads.{fmt}", (time.ws, time.fix))
                        if params.uploads else None)

    def close(self, row_counts: dict[str, int]) -> None:
        self.matches.close()
        row_counts["matches"] = self.matches.rows
        if self.deliveries is not None:
            self.deliveries.close()
            row_counts["deliveries"] = self.deliveries.rows
        if self.uploads is not None:
            row_counts["uploads"] = self.uploads.close()


def _chunk(world: World, params: ScenarioParams, time: _Timeline, damage: _Damage,
           writers: _Writers, tally: Tally, ci: int, todo: int) -> None:
    """Simulate one chunk of time, write its log rows, and count its truth."""
    lo, hi, month = damage.chunks[ci]
    rng = _rng(params.seed, 10, ci)
    made, entries = simulate(world, time.rules, rng, lo=lo, hi=hi, n_events=todo)
    if writers.uploads is not None:
        writers.uploads.write_chunk(ci, entries, lo=lo, hi=hi,
                                    bad_kinds=damage.upload_bad_plan[ci])
    del entries
    m = len(made)
    frac = (made.t - time.t0) / max(time.t_end - time.t0, 1)
    share = params.identifier_share
    p = (share * 2 * frac if share <= 0.5 else 1 - (1 - share) * 2 * (1 - frac))
    id_logged = rng.random(m) < np.clip(p, 0.0, 1.0)
    lost_day = np.isin(made.t // DAY, damage.lost_days)
    # Not in the log: before its first day, or lost at random (a stream of its own).
    unlogged = made.t < time.log_t0
    dropped = ((_rng(params.seed, 22, ci).random(m) < params.log_loss_share)
               & ~lost_day & ~unlogged)
    lost = lost_day | unlogged | dropped
    dup = (rng.random(m) < params.duplicate_share) & ~lost if params.damage else lost & False
    bad = np.zeros(m, np.int8)
    in_window = (made.t >= time.ws) & (made.t < time.fix)
    kinds = damage.bad_plan[ci]
    if kinds:
        cand = np.flatnonzero(in_window & ~lost & ~dup)
        take = min(len(cand), len(kinds))
        picks = np.sort(rng.choice(cand, size=take, replace=False))
        bad[picks] = np.array(kinds[:take], np.int8)
        for kind in kinds[:take]:
            tally.match_bad[MALFORMED_KINDS[kind - 1]] += 1
    rows = np.repeat(np.arange(m), (~lost).astype(np.int64) * (1 + dup))
    writers.matches.write(_match_frame(world, made, rows, id_logged, bad=bad[rows],
                                       fmt=params.file_format))
    tally.count(world, made, Logged(id_logged=id_logged, valid=~lost & (bad == 0),
                                    in_window=in_window, lost_day=lost_day, unlogged=unlogged,
                                    dropped=dropped, dup=dup), month=month)
    if writers.deliveries is not None:
        frame, impressions = _delivery_frame(world, params, made, rng, time.t_end)
        writers.deliveries.write(frame)
        tally.stats["delivery_rows"] += frame.height
        tally.stats["impressions"] += impressions


def generate(out_dir: Path, params: ScenarioParams, *, force: bool = False) -> GenerateSummary:
    """Write a scenario with known ground truth to `out_dir` (see docs/scenarios.md).

    `out_dir` must be empty, missing, or hold a scenario generated before (its marker file);
    `force=True` writes into any folder (replacing the files a scenario has).
    """
    params.validate()
    out_dir = Path(out_dir)
    _claim(out_dir, force)
    data = out_dir / "data"
    (data / "contacts").mkdir(parents=True, exist_ok=True)
    _clean(out_dir, data)
    world = build_world(params)
    row_counts = _write_static(world, data, params.file_format)
    row_counts["contacts"], contact_bad = _write_snapshots(world, params, data)
    time = _timeline(world, params)
    damage = _damage(params, time)
    writers = _Writers(world, params, data, time)
    tally = Tally(world, time.ws, time.fix)
    done = 0
    for ci, (_lo, hi, _month) in enumerate(damage.chunks):
        todo = round(time.events * (hi - time.t0) / (time.t_end - time.t0)) - done
        done += todo
        _chunk(world, params, time, damage, writers, tally, ci, todo)
    writers.close(row_counts)
    exposed = _exposed(world, time.ws, time.fix)
    affected, affected_made = tally.affected, tally.affected_made
    truth = tally.truth(world, params, row_counts, contact_bad, damage.lost_days, exposed)
    truth["uploads"] = writers.uploads.stats.as_json() if writers.uploads is not None else None
    truth["affected_campaigns_whole_window"] = _campaigns_of(world, tally.audiences_made)
    truth = {name: truth[name] for name in TRUTH_ORDER}
    incident_path = out_dir / "incident.toml"
    incident_path.write_text(_incident_toml(params), encoding="utf-8")
    truth_path = out_dir / "truth.json"
    truth_path.write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    accounts_path = out_dir / "truth_accounts.csv"
    truth_ids = np.sort(world.account_ids[affected])
    accounts_path.write_text("account_id\n" + "".join(f"{v}\n" for v in truth_ids.tolist()),
                             encoding="utf-8")
    whole_path = out_dir / "truth_accounts_whole_window.csv"
    whole_ids = np.sort(world.account_ids[affected_made])
    whole_path.write_text("account_id\n" + "".join(f"{v}\n" for v in whole_ids.tolist()),
                          encoding="utf-8")
    files = sorted(p for p in data.rglob("*") if p.is_file())
    return GenerateSummary(
        out_dir=out_dir, incident_path=incident_path, data_dir=data, truth_path=truth_path,
        truth_accounts_path=accounts_path,
        files=(out_dir / MARKER, incident_path, *files, truth_path, accounts_path, whole_path),
        row_counts=dict(sorted(row_counts.items())),
        truth_affected_accounts=int(affected.sum()),
        truth_post_fix_caused=tally.stats["post_fix_caused"],
        snapshots=len(world.snapshots),
        truth_affected_accounts_whole_window=int(affected_made.sum()),
        truth_exposed_accounts=int(exposed.sum()),
    )


__all__ = ["generate"]
