"""The synthetic world: accounts, contacts with exact timelines, audiences and campaigns.

Times are int64 seconds since 1970-01-01 UTC. Every contact has at most one purpose
change, so its exact timeline is (created, change, removed) with purposes p0 before the
change and p1 after it; that timeline is the ground truth the matcher saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from incidentscope.generator.params import ScenarioParams
from incidentscope.generator.values import email_values, phone_template, phone_values, sha256_series

DAY = 86_400
NEVER = np.int64(2**62)
EPOCH = date(1970, 1, 1)

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
I8 = npt.NDArray[np.int8]
Bools = npt.NDArray[np.bool_]

PURPOSES = (
    "signup|profile", "profile", "two_factor", "account_recovery",
    "two_factor|account_recovery", "two_factor|profile", "account_recovery|profile",
)
RESTRICTED = np.array([False, False, True, True, True, False, False])
# Purpose codes that may be exported as one row per label (the loader unites them again).
SPLIT_PARTS: dict[int, tuple[str, str]] = {
    0: ("signup", "profile"), 4: ("two_factor", "account_recovery"),
    5: ("two_factor", "profile"), 6: ("account_recovery", "profile"),
}
KINDS = ("signup_email", "replacement_email", "recovery_email", "two_factor_phone",
         "profile_phone", "shared_phone", "ephemeral")
CHANNELS = ("email", "phone")
EMAIL, PHONE = 0, 1


def seconds(day: date) -> int:
    return (day - EPOCH).days * DAY


def snapshot_dates(params: ScenarioParams) -> list[date]:
    first, last = params.effective_snapshots_from(), params.effective_snapshots_until()
    step = timedelta(days=params.snapshot_every_days)
    out: list[date] = []
    day = first
    while day <= last:
        out.append(day)
        day += step
    return out


@dataclass
class Contacts:
    acct: I32
    channel: I8
    value: I32
    kind: I8
    created: I64
    change: I64
    removed: I64
    p0: I8
    p1: I8
    split: Bools
    raw: pl.Series
    seen: Bools

    def __len__(self) -> int:
        return len(self.acct)

    def state_at(self, idx: npt.NDArray[np.intp] | I32 | I64, when: I64) -> I8:
        """0 absent, 1 restricted-only, 2 permitted: the exact state of contacts at `when`."""
        exists = (self.created[idx] <= when) & (when < self.removed[idx])
        code = np.where(when < self.change[idx], self.p0[idx], self.p1[idx])
        state = np.where(RESTRICTED[code], 1, 2)
        return np.where(exists, state, 0).astype(np.int8)


@dataclass
class World:
    account_ids: I64
    countries: tuple[str, ...]
    country: I8
    contacts: Contacts
    value_sha: pl.Series
    owner0: I32
    owner1: I32
    acct_ptr: I64
    acct_cnt: I64
    listed: I64
    listed_cumw: npt.NDArray[np.float64]
    audience_ids: pl.Series
    audience_type: I8  # 0 tailored, 1 partner
    audience_advertiser: I32
    audience_partner: I32  # -1 for tailored
    audience_created: I64
    audience_in_flight: Bools
    aud_order: I64  # audiences by creation time
    aud_created_sorted: I64
    aud_cumw: npt.NDArray[np.float64]
    advertiser_ids: pl.Series
    partner_ids: pl.Series
    campaign_ids: pl.Series
    campaign_advertiser: I32
    campaign_names: pl.Series
    ca_campaign: I32  # campaign_audiences pairs, ordered by audience
    ca_audience: I32
    ca_ptr: I64
    ca_cnt: I64
    snapshots: list[date]
    snap_secs: I64
    email_values: int  # value ids 0..email_values-1 are emails, the rest phones
    phone_tails: tuple[tuple[int, I64], ...]  # per country: (tail digits, sorted tails in use)


def _ids(prefix: str, n: int) -> pl.Series:
    width = max(3, len(str(n)))
    return pl.Series([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], dtype=pl.String)


def _account_ids(rng: np.random.Generator, n: int, large_share: float) -> I64:
    while True:
        large = rng.random(n) < large_share
        ids = np.where(large, rng.integers(2**53, 2**63 - 1, n, dtype=np.int64),
                       rng.integers(10**6, 2**53, n, dtype=np.int64))
        if len(np.unique(ids)) == n:
            return ids.astype(np.int64)


def _later(rng: np.random.Generator, after: I64, until: int, chance: float) -> I64:
    """A time uniformly after `after` (before `until`) with probability `chance`, else NEVER."""
    n = len(after)
    hit = rng.random(n) < chance
    span = np.maximum(until - after, 1)
    when = after + 1 + (rng.random(n) * span).astype(np.int64)
    return np.where(hit & (after < until), when, NEVER).astype(np.int64)


def _bucket(snaps: I64, when: I64) -> I64:
    """Index of the first snapshot at or after `when`: events with equal buckets inside
    1..K-1 fall between the same two snapshots."""
    return np.searchsorted(snaps, when, side="left").astype(np.int64)


def _push_apart(rng: np.random.Generator, snaps: I64, prev: I64, event: I64, end: int) -> I64:
    """Move `event` past the snapshot after `prev` when both fall between the same snapshots."""
    k = len(snaps)
    if k < 2:
        return event
    bp, be = _bucket(snaps, prev), _bucket(snaps, event)
    clash = (event < NEVER) & (be <= bp) & (bp >= 1) & (bp <= k - 1)
    nxt = np.minimum(bp + 1, k - 1)
    upper = np.where(bp + 1 <= k - 1, snaps[nxt], end)
    base = snaps[np.minimum(bp, k - 1)]
    span = np.maximum(upper - base - 1, 1)
    moved = base + 1 + (rng.random(len(event)) * span).astype(np.int64)
    return np.where(clash, moved, event).astype(np.int64)


def build_world(params: ScenarioParams) -> World:
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([params.seed, 0])))
    n = params.accounts
    t0 = seconds(params.period_start())
    t_end = seconds(params.end) + DAY
    snaps_d = snapshot_dates(params)
    snaps = np.array([seconds(d) for d in snaps_d], dtype=np.int64)

    countries = tuple(c for c, _ in params.countries)
    weights = np.array([w for _, w in params.countries], dtype=np.float64)
    account_ids = _account_ids(rng, n, params.large_id_share)
    country = rng.choice(len(countries), size=n, p=weights / weights.sum()).astype(np.int8)
    old = rng.random(n) < 0.8
    acct_created = np.where(
        old, t0 - rng.integers(DAY, 5 * 365 * DAY, n),
        t0 + (rng.random(n) * (t_end - t0)).astype(np.int64)).astype(np.int64)
    cols, shared_src = _contact_rows(rng, params, country, len(countries), acct_created,
                                     (t0, t_end), snaps)
    values = _contact_values(rng, params, cols, country, countries, shared_src)
    contacts, acct_ptr, acct_cnt, owner0, owner1 = _contacts(rng, params, cols, values, snaps)
    listed = np.sort(rng.choice(n, size=max(1, round(n * params.listed_share)),
                                replace=False)).astype(np.int64)
    listed_cumw = np.cumsum(rng.gamma(0.7, 1.0, len(listed)))
    aud = _Audiences(rng, params, t0, t_end)
    camp_adv, camp_names, pair_arr = _campaigns(rng, aud.n_adv, aud.a_adv)
    ca_cnt = np.bincount(pair_arr[:, 1], minlength=aud.n_aud).astype(np.int64)
    n_aud = aud.n_aud
    return World(
        account_ids=account_ids, countries=countries, country=country, contacts=contacts,
        value_sha=values.value_sha, owner0=owner0, owner1=owner1, acct_ptr=acct_ptr,
        acct_cnt=acct_cnt, listed=listed, listed_cumw=listed_cumw,
        audience_ids=_ids("aud_", n_aud), audience_type=aud.a_type,
        audience_advertiser=aud.a_adv, audience_partner=aud.a_prt,
        audience_created=aud.a_created.astype(np.int64),
        audience_in_flight=rng.random(n_aud) < 0.15, aud_order=aud.a_order,
        aud_created_sorted=aud.a_created[aud.a_order].astype(np.int64),
        aud_cumw=np.cumsum(aud.a_weight[aud.a_order]),
        advertiser_ids=_ids("adv_", aud.n_adv), partner_ids=_ids("prt_", aud.n_prt),
        campaign_ids=_ids("cmp_", len(camp_adv)),
        campaign_advertiser=np.array(camp_adv, dtype=np.int32),
        campaign_names=pl.Series(camp_names, dtype=pl.String),
        ca_campaign=pair_arr[:, 0].astype(np.int32), ca_audience=pair_arr[:, 1].astype(np.int32),
        ca_ptr=(np.cumsum(ca_cnt) - ca_cnt).astype(np.int64), ca_cnt=ca_cnt,
        snapshots=snaps_d, snap_secs=snaps,
        email_values=values.n_emails, phone_tails=values.phone_tails,
    )


def _contact_rows(rng: np.random.Generator, params: ScenarioParams, country: I8,
                  n_countries: int, acct_created: I64, period: tuple[int, int], snaps: I64
                  ) -> tuple[dict[str, Any], I64]:
    """Every contact of every account, by kind (columns acct, channel, kind, created, change,
    removed, p0, p1), and which own phones the shared copies are of."""
    t0, t_end = period
    n = params.accounts
    horizon = t0 - 2 * 365 * DAY

    def later_created(accts: I64) -> I64:
        start = horizon + (rng.random(len(accts)) * (t_end - horizon)).astype(np.int64)
        return np.maximum(acct_created[accts], start).astype(np.int64)

    parts: list[dict[str, npt.NDArray[np.generic]]] = []

    def add(kind: int, channel: int, accts: I64, *, created: I64, p0: I8, p1: I8,
            change: I64, removed: I64) -> None:
        parts.append({
            "acct": accts.astype(np.int32), "channel": np.full(len(accts), channel, np.int8),
            "kind": np.full(len(accts), kind, np.int8), "created": created, "change": change,
            "removed": removed, "p0": p0.astype(np.int8), "p1": p1.astype(np.int8),
        })

    everyone = np.arange(n, dtype=np.int64)
    # Sign-up emails (permitted); some reduced to recovery only, some replaced by a new one.
    created = acct_created.copy()
    change = _later(rng, created, t_end, params.demote_share)
    removed = _later(rng, created, t_end, params.email_change_share)
    change = np.where(change < removed, change, NEVER).astype(np.int64)
    add(0, EMAIL, everyone, created=created, p0=np.zeros(n, np.int8), p1=np.full(n, 3, np.int8),
        change=change, removed=removed)
    replaced = np.flatnonzero(removed < NEVER)
    never = np.full(len(replaced), NEVER)
    add(1, EMAIL, replaced, created=removed[replaced], p0=np.zeros(len(replaced), np.int8),
        p1=np.zeros(len(replaced), np.int8), change=never, removed=never)
    # Recovery-only emails (restricted); a few later added to the profile.
    rec = np.flatnonzero(rng.random(n) < params.recovery_email_share).astype(np.int64)
    created = later_created(rec)
    change = _later(rng, created, t_end, params.promote_share)
    add(2, EMAIL, rec, created=created, p0=np.full(len(rec), 3, np.int8),
        p1=np.full(len(rec), 6, np.int8), change=change,
        removed=_later(rng, np.where(change < NEVER, change, created), t_end, params.remove_share))
    # Two-factor phones (restricted); some later added to the profile.
    tfa = np.flatnonzero(rng.random(n) < params.two_factor_phone_share).astype(np.int64)
    created = later_created(tfa)
    p0 = np.where(rng.random(len(tfa)) < 0.3, 4, 2).astype(np.int8)
    change = _later(rng, created, t_end, params.promote_share)
    add(3, PHONE, tfa, created=created, p0=p0, p1=np.full(len(tfa), 5, np.int8), change=change,
        removed=_later(rng, np.where(change < NEVER, change, created), t_end, params.remove_share))
    # Profile phones (permitted); some reduced to two-factor only.
    prof = np.flatnonzero(rng.random(n) < params.profile_phone_share).astype(np.int64)
    created = later_created(prof)
    change = _later(rng, created, t_end, params.demote_share)
    add(4, PHONE, prof, created=created, p0=np.ones(len(prof), np.int8),
        p1=np.full(len(prof), 2, np.int8), change=change,
        removed=_later(rng, np.where(change < NEVER, change, created), t_end, params.remove_share))
    n_own_phones = len(tfa) + len(prof)
    # Shared phones: a second account of the same country holds one of those numbers.
    phone_accts = np.concatenate([tfa, prof])
    shared_src, shared_acct = _shared_holders(
        rng, country, n_countries, phone_accts, round(n_own_phones * params.shared_phone_share))
    created = later_created(shared_acct)
    p0 = np.where(rng.random(len(shared_acct)) < 0.6, 2, 1).astype(np.int8)
    add(5, PHONE, shared_acct, created=created, p0=p0, p1=p0,
        change=np.full(len(shared_acct), NEVER),
        removed=_later(rng, created, t_end, params.remove_share))
    ephemeral, side = _ephemeral(rng, params, acct_created, snaps)
    parts.append(ephemeral)
    cols = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}

    if not params.assumption_breaks:
        change = _push_apart(side, snaps, cols["created"], cols["change"], t_end)
        removed = np.maximum(cols["removed"], np.where(change < NEVER, change + 1, 0))
        prev = np.where(change < NEVER, change, cols["created"])
        cols["change"] = change
        cols["removed"] = _push_apart(side, snaps, prev, removed.astype(np.int64), t_end)

    return cols, shared_src


def _shared_holders(rng: np.random.Generator, country: I8, n_countries: int, phone_accts: I64,
                    n_shared: int) -> tuple[I64, I64]:
    """Which own phones (by position in `phone_accts`) a second account of the same country
    also holds, and that account."""
    shared_src = np.sort(rng.choice(len(phone_accts), size=n_shared,
                                    replace=False)).astype(np.int64)
    shared_acct = np.empty(n_shared, np.int64)
    by_country = [np.flatnonzero(country == c) for c in range(n_countries)]
    for i, src in enumerate(shared_src):
        pool = by_country[country[phone_accts[src]]]
        pick = int(pool[rng.integers(len(pool))])
        shared_acct[i] = pick if pick != phone_accts[src] else int(pool[0])
    keep = shared_acct != phone_accts[shared_src]
    return shared_src[keep], shared_acct[keep]

def _ephemeral(rng: np.random.Generator, params: ScenarioParams, acct_created: I64, snaps: I64
               ) -> tuple[dict[str, npt.NDArray[np.generic]], np.random.Generator]:
    """The ephemeral contacts' rows, and the side stream that placed them."""
    n = params.accounts
    # Ephemeral contacts: live only between two consecutive snapshots. Who has one is drawn
    # from the main stream; where they fall depends on the snapshot dates, so it is drawn from
    # a stream of its own: the rest of the world is the same whatever the cadence.
    cand = np.flatnonzero(rng.random(n) < params.ephemeral_share).astype(np.int64)
    eph_channel = (rng.random(len(cand)) < 0.6).astype(np.int8)
    p0 = np.where(rng.random(len(cand)) < 0.7, np.where(eph_channel == 1, 2, 3), 1)
    start = np.full(len(cand), NEVER, np.int64)
    stop = np.full(len(cand), NEVER, np.int64)
    side = np.random.Generator(np.random.PCG64(np.random.SeedSequence([params.seed, 0, 1])))
    if params.assumption_breaks and len(snaps) >= 2:
        kmin = np.searchsorted(snaps, acct_created[cand], side="left")
        k = kmin + (side.random(len(cand)) * (len(snaps) - 1 - kmin)).astype(np.int64)
        ok = kmin <= len(snaps) - 2
        k = np.where(ok, k, 0)
        lo, hi = snaps[k], snaps[k + 1]
        first = lo + 1 + (side.random(len(cand)) * (hi - lo - 2)).astype(np.int64)
        last = first + 1 + (side.random(len(cand)) * (hi - first - 1)).astype(np.int64)
        start = np.where(ok, first, NEVER).astype(np.int64)
        stop = np.where(ok, last, NEVER).astype(np.int64)
    part: dict[str, npt.NDArray[np.generic]] = {
        "acct": cand.astype(np.int32), "channel": eph_channel,
        "kind": np.full(len(cand), 6, np.int8), "created": start,
        "change": np.full(len(cand), NEVER), "removed": stop,
        "p0": p0.astype(np.int8), "p1": p0.astype(np.int8),
    }
    return part, side


@dataclass(frozen=True)
class _Values:
    """Each contact's value: its number, raw text, and the hashes of the values."""

    value: I64
    raw: npt.NDArray[np.object_]
    value_sha: pl.Series
    next_value: int  # how many values there are
    phone_tails: tuple[tuple[int, I64], ...]
    n_emails: int


def _contact_values(rng: np.random.Generator, params: ScenarioParams,
                    cols: dict[str, Any], country: I8,
                    countries: tuple[str, ...], shared_src: I64) -> _Values:
    # Values: every email is new; phones are new except the shared copies.
    total = len(cols["acct"])
    kind = cols["kind"]
    channel = cols["channel"]
    value = np.full(total, -1, np.int64)
    raw = np.empty(total, dtype=object)
    email_rows = np.flatnonzero(channel == EMAIL)
    uid = rng.permutation(len(email_rows)).astype(np.int64) + 1
    e_raw, e_norm = email_values(rng, uid)
    value[email_rows] = np.arange(len(email_rows))
    raw[email_rows] = e_raw.to_numpy()
    norms: list[pl.Series] = [e_norm]
    next_value = len(email_rows)

    own_phone_rows = np.flatnonzero((channel == PHONE) & (kind != 5))
    own_accts = cols["acct"][own_phone_rows].astype(np.int64)
    foreign = rng.random(len(own_phone_rows)) < params.foreign_phone_share
    num_country = np.where(foreign, rng.integers(0, len(countries), len(own_phone_rows)),
                           country[own_accts]).astype(np.int8)
    # Shared copies: the numbers of phones of kinds 3/4 in source order tfa+prof.
    src_rows = np.flatnonzero((channel == PHONE) & ((kind == 3) | (kind == 4)))
    shared_rows = np.flatnonzero(kind == 5)
    src_of_shared = src_rows[shared_src]
    pos_in_own = np.searchsorted(own_phone_rows, src_of_shared)
    phone_rows = np.concatenate([own_phone_rows, shared_rows])
    phone_country = np.concatenate([num_country, num_country[pos_in_own]])
    phone_accts_all = cols["acct"][phone_rows].astype(np.int64)
    home = phone_country == country[phone_accts_all]
    style = np.where(home, rng.choice(3, size=len(phone_rows), p=[0.55, 0.3, 0.15]),
                     rng.choice([1, 2], size=len(phone_rows), p=[0.7, 0.3])).astype(np.int8)
    tails_all = np.zeros(len(phone_rows), np.int64)
    phone_tails: list[tuple[int, I64]] = [(6, np.zeros(0, np.int64)) for _ in countries]
    for c, code in enumerate(countries):
        own_c = np.flatnonzero(num_country == c)
        if len(own_c) == 0:
            continue
        digits = 6 if len(own_c) <= 400_000 else 7
        tails = rng.choice(10**digits, size=len(own_c), replace=False).astype(np.int64)
        tails_all[own_c] = tails
        phone_tails[c] = (digits, np.sort(tails))
        value[own_phone_rows[own_c]] = next_value + np.arange(len(own_c))
        template = phone_template(code, digits)
        _, e164 = phone_values(template, tails, np.zeros(len(own_c), np.int8))
        norms.append(e164)
        next_value += len(own_c)
    tails_all[len(own_phone_rows):] = tails_all[pos_in_own]
    value[shared_rows] = value[src_of_shared]
    for c, code in enumerate(countries):
        sel = np.flatnonzero(phone_country == c)
        if len(sel) == 0:
            continue
        digits = 6 if int(np.sum(num_country == c)) <= 400_000 else 7
        p_raw, _ = phone_values(phone_template(code, digits), tails_all[sel], style[sel])
        raw[phone_rows[sel]] = p_raw.to_numpy()
    value_sha = sha256_series(pl.concat(norms))

    return _Values(value, raw, value_sha, next_value, tuple(phone_tails), len(email_rows))


def _contacts(rng: np.random.Generator, params: ScenarioParams,
              cols: dict[str, Any], values: _Values, snaps: I64
              ) -> tuple[Contacts, I64, I64, npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """The contacts ordered by account, then creation; each account's slice; each value's
    first and second holder."""
    n = params.accounts
    total = len(cols["acct"])
    kind, channel = cols["kind"], cols["channel"]
    value, raw, next_value = values.value, values.raw, values.next_value
    # Order contacts by account, then creation, for per-account lookups.
    order = np.lexsort((np.arange(total), cols["created"], cols["acct"]))
    acct = cols["acct"][order].astype(np.int32)
    created = cols["created"][order]
    removed = cols["removed"][order]
    first_snap = np.searchsorted(snaps, created, side="left")
    seen = (first_snap < len(snaps)) & (snaps[np.minimum(first_snap, len(snaps) - 1)] < removed)
    p0s, p1s = cols["p0"][order], cols["p1"][order]
    multi = np.isin(p0s, list(SPLIT_PARTS)) | np.isin(p1s, list(SPLIT_PARTS))
    contacts = Contacts(
        acct=acct, channel=channel[order].astype(np.int8),
        value=value[order].astype(np.int32), kind=kind[order].astype(np.int8),
        created=created, change=cols["change"][order], removed=removed,
        p0=p0s, p1=p1s,
        split=multi & (rng.random(total) < params.split_rows_share),
        raw=pl.Series("contact", raw[order].tolist(), dtype=pl.String),
        seen=seen & (len(snaps) > 0),
    )
    acct_cnt = np.bincount(acct, minlength=n).astype(np.int64)
    acct_ptr = (np.cumsum(acct_cnt) - acct_cnt).astype(np.int64)
    by_value = np.argsort(contacts.value, kind="stable")
    vals, start, count = np.unique(contacts.value[by_value], return_index=True, return_counts=True)
    owner0 = np.full(next_value, -1, np.int32)
    owner1 = np.full(next_value, -1, np.int32)
    owner0[vals] = by_value[start]
    two = count >= 2
    owner1[vals[two]] = by_value[start[two] + 1]

    return contacts, acct_ptr, acct_cnt, owner0, owner1


class _Audiences:
    """Audiences with their advertisers and partners."""

    def __init__(self, rng: np.random.Generator, params: ScenarioParams, t0: int,
                 t_end: int) -> None:
        n_aud = params.effective_audiences()
        n_adv = max(5, n_aud // 4)
        n_prt = max(2, min(20, n_aud // 20))
        a_type = (rng.random(n_aud) < params.partner_share).astype(np.int8)
        a_adv = rng.integers(0, n_adv, n_aud).astype(np.int32)
        a_prt = np.where(a_type == 1, rng.integers(0, n_prt, n_aud), -1).astype(np.int32)
        early = rng.random(n_aud) < 0.3
        a_created = np.where(
            early, t0 - rng.integers(DAY, 180 * DAY, n_aud),
            t0 + (rng.random(n_aud) * max(t_end - t0 - 30 * DAY, DAY)).astype(np.int64))
        a_created[0] = t0 - DAY
        a_weight = 1.0 / (rng.permutation(n_aud) + 1.0) ** 0.8
        a_order = np.argsort(a_created, kind="stable").astype(np.int64)
        self.n_aud, self.n_adv, self.n_prt = n_aud, n_adv, n_prt
        self.a_type, self.a_adv, self.a_prt = a_type, a_adv, a_prt
        self.a_created, self.a_weight, self.a_order = a_created, a_weight, a_order


def _campaigns(rng: np.random.Generator, n_adv: int, a_adv: npt.NDArray[np.int32]
               ) -> tuple[list[int], list[str], I64]:
    """Campaigns of each advertiser, and the (campaign, audience) pairs they target."""
    adjectives = ("Spring", "Summer", "Autumn", "Winter", "Launch", "Loyalty", "Retarget", "Brand")
    nouns = ("sale", "promo", "push", "awareness", "reactivation", "offer")
    camp_adv: list[int] = []
    camp_names: list[str] = []
    pairs: list[tuple[int, int]] = []
    owned = [np.flatnonzero(a_adv == adv) for adv in range(n_adv)]
    for adv in range(n_adv):
        for _ in range(1 + int(rng.poisson(1.5))):
            cid = len(camp_adv)
            camp_adv.append(adv)
            camp_names.append(
                f"{adjectives[int(rng.integers(len(adjectives)))]} "
                f"{nouns[int(rng.integers(len(nouns)))]} {2018 + int(rng.integers(3))}")
            if len(owned[adv]):
                n_targets = int(rng.integers(1, min(3, len(owned[adv])) + 1))
                for aud in np.sort(rng.choice(owned[adv], size=n_targets, replace=False)):
                    pairs.append((cid, int(aud)))
    pair_arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    pair_arr = pair_arr[np.lexsort((pair_arr[:, 0], pair_arr[:, 1]))]
    return camp_adv, camp_names, pair_arr
