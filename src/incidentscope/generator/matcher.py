"""The audience matcher, buggy before the fix and fixed after it, one time chunk at a time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from incidentscope.generator.world import DAY, RESTRICTED, World

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Rules:
    window_start: int  # the buggy matcher ran in [window_start, fix_at)
    fix_at: int
    leak_until: int  # in-flight audiences keep the buggy rule until then (== fix_at: no leak)
    midnight_share: float


@dataclass
class Made:
    """Matches the matcher truly made, ordered by time: one row per (list entry, account)."""

    t: I64
    contact: I64
    audience: I64
    caused: Bools  # the matched contact was restricted-only at that instant

    def __len__(self) -> int:
        return len(self.t)


@dataclass
class Entries:
    """The list entries the matcher processed, in the order drawn: one contact value of a
    listed account uploaded into one audience at one instant."""

    t: I64
    audience: I64
    slot: I64  # the listed account's contact row whose value was uploaded
    held: Bools  # some account held that value at that instant

    def __len__(self) -> int:
        return len(self.t)


def draw_times(rng: np.random.Generator, *, lo: int, hi: int, n: int,
               midnight_share: float) -> I64:
    """Uniform seconds in [lo, hi), a share exactly at 00:00:00."""
    t = lo + (rng.random(n) * (hi - lo)).astype(np.int64)
    midnight = rng.random(n) < midnight_share
    out: I64 = np.where(midnight, t - t % DAY, t).astype(np.int64)
    return out


def pick_audiences(world: World, t: I64, uniform: npt.NDArray[np.float64]) -> I64:
    """An audience that exists at each t, by popularity (`uniform` in [0, 1) per entry)."""
    active = np.maximum(np.searchsorted(world.aud_created_sorted, t, side="right"), 1)
    aud_pick = np.searchsorted(world.aud_cumw, uniform * world.aud_cumw[active - 1],
                               side="right")
    out: I64 = world.aud_order[np.minimum(aud_pick, active - 1)]
    return out


def simulate(world: World, rules: Rules, rng: np.random.Generator, *, lo: int, hi: int,
             n_events: int) -> tuple[Made, Entries]:
    """List entries of listed accounts uploaded in [lo, hi), and the matches they produced.

    Each event is one identifier in one audience's list: a contact value of a listed
    account (old or not yet existing values produce nothing). Every account holding
    that value at that instant is matched if the rule of the moment allows it.
    """
    c = world.contacts
    t = draw_times(rng, lo=lo, hi=hi, n=n_events, midnight_share=rules.midnight_share)
    pick = np.searchsorted(world.listed_cumw, rng.random(n_events) * world.listed_cumw[-1],
                           side="right")
    acct = world.listed[np.minimum(pick, len(world.listed) - 1)]
    slot = world.acct_ptr[acct] + (rng.random(n_events) * world.acct_cnt[acct]).astype(np.int64)
    audience = pick_audiences(world, t, rng.random(n_events))
    value = c.value[slot]
    first = world.owner0[value].astype(np.int64)
    second = world.owner1[value].astype(np.int64)
    has2 = second >= 0
    ev = np.concatenate([np.arange(n_events), np.flatnonzero(has2)])
    k = np.concatenate([first, second[has2]])
    te, ae = t[ev], audience[ev]
    exists = (c.created[k] <= te) & (te < c.removed[k])
    code = np.where(te < c.change[k], c.p0[k], c.p1[k])
    restricted = RESTRICTED[code]
    buggy = (te >= rules.window_start) & (te < rules.fix_at)
    buggy |= (te >= rules.fix_at) & (te < rules.leak_until) & world.audience_in_flight[ae]
    made = exists & (buggy | ~restricted)
    held = np.zeros(n_events, np.bool_)
    held[ev[exists]] = True
    entries = Entries(t=t, audience=audience, slot=slot, held=held)
    te, k, ae, restricted = te[made], k[made], ae[made], restricted[made]
    order = np.lexsort((ae, k, te))
    return (Made(t=te[order], contact=k[order], audience=ae[order], caused=restricted[order]),
            entries)


def bracket_violation(world: World, made: Made, id_logged: Bools) -> Bools:
    """Rows whose truth the replay semantics cannot bracket: the matched contact was never in
    a snapshot and the row has no identifier, or its true state at the match time is not one
    of the states of the snapshots around it (more than one change between snapshots)."""
    c = world.contacts
    snaps = world.snap_secs
    k = made.contact
    if len(snaps) == 0:
        return ~id_logged
    unseen = ~c.seen[k] & ~id_logged
    j = np.searchsorted(snaps, made.t, side="right")  # snapshots at or before t
    inside = (j >= 1) & (made.t <= snaps[-1])
    before = snaps[np.clip(j - 1, 0, len(snaps) - 1)]
    after = snaps[np.clip(j, 0, len(snaps) - 1)]
    after = np.where(made.t == before, before, after)
    truth = np.where(made.caused, 1, 2)
    s_before = c.state_at(k, before)
    s_after = c.state_at(k, after)
    wrong = c.seen[k] & inside & (truth != s_before) & (truth != s_after)
    out: Bools = unseen | wrong
    return out
