"""Small-count suppression for the published outputs (regulator report, by-country files).

A count `n` with `0 < n < min_cell` is shown as `<10` (with the incident's `min_cell`):
the *primary* suppression. Zero is shown as `0`: it describes no person, and hiding it
would tell a reader that people were affected where none were.

Published totals make primary suppression leaky: with a total and every other cell
shown, a `<10` cell is the difference. So every group of cells whose sum is a published
total is checked, and further cells are withheld (*complementary* suppression, shown as
`≥10`, which is true of them) until the total tells nothing about any `<10` cell beyond
what `<10` already says: each one could still be any value from 1 to `min_cell - 1`, and
no withheld cell can be pinned to one value. What a reader can derive is computed by
interval propagation through every published sum.
Candidates for complementary suppression are taken smallest first, ties by key, so the
choice is deterministic. When no cell is left to withhold, the total itself is withheld.

The JSON report and the internal exports keep exact counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

UNBOUNDED = 10**18


@dataclass(frozen=True)
class Group:
    """Cells whose counts add up exactly to a published total (all are cell keys)."""

    members: tuple[str, ...]
    total: str


@dataclass(frozen=True)
class Suppressed:
    """The published form of a set of counts."""

    values: dict[str, int]
    primary: frozenset[str]
    complementary: frozenset[str]
    min_cell: int

    def show(self, key: str) -> str:
        """The count as it may be published: `12`, `<10`, `≥10` or `0`."""
        if key in self.primary:
            return f"<{self.min_cell}"
        if key in self.complementary:
            return f"≥{self.min_cell}"
        return f"{self.values[key]:,}"

    def hidden(self, key: str) -> bool:
        return key in self.primary or key in self.complementary


def intervals(values: Mapping[str, int], groups: Sequence[Group], primary: set[str],
              complementary: set[str], min_cell: int) -> dict[str, tuple[int, int]]:
    """What a reader can derive about every cell: its published range, narrowed through
    every published sum (interval propagation until nothing changes)."""
    bounds: dict[str, tuple[int, int]] = {}
    for key, value in values.items():
        if key in primary:
            bounds[key] = (1, min_cell - 1)
        elif key in complementary:
            bounds[key] = (min_cell, UNBOUNDED)
        else:
            bounds[key] = (value, value)
    for _ in range(4 * len(values) + 4):
        changed = False
        for group in groups:
            t_lo, t_hi = bounds[group.total]
            lo_sum = sum(bounds[k][0] for k in group.members)
            hi_sum = sum(bounds[k][1] for k in group.members)
            new_total = (max(t_lo, lo_sum), min(t_hi, hi_sum))
            if new_total != bounds[group.total]:
                bounds[group.total], changed = new_total, True
            t_lo, t_hi = new_total
            for key in group.members:
                lo, hi = bounds[key]
                new = (max(lo, t_lo - (hi_sum - hi)), min(hi, t_hi - (lo_sum - lo)))
                if new != (lo, hi):
                    bounds[key], changed = new, True
                    lo_sum += new[0] - lo
                    hi_sum += new[1] - hi
        if not changed:
            break
    return bounds


def violations(values: Mapping[str, int], groups: Sequence[Group], primary: set[str],
               complementary: set[str], min_cell: int) -> list[str]:
    """Withheld cells that the published figures narrow: a `<min_cell` cell that is no longer
    free over 1..min_cell-1, or a withheld cell pinned to one value. Sorted."""
    bounds = intervals(values, groups, primary, complementary, min_cell)
    return sorted(k for k, (lo, hi) in bounds.items()
                  if (k in primary and (lo, hi) != (1, min_cell - 1))
                  or (k in complementary and lo == hi))


def _local_width(key: str, group: Group, bounds: Mapping[str, tuple[int, int]]) -> int:
    """How wide `key` is from this one sum alone: the narrowest group is the one to open."""
    if key == group.total:
        return sum(bounds[k][1] - bounds[k][0] for k in group.members)
    others = [k for k in group.members if k != key]
    t_lo, t_hi = bounds[group.total]
    return (t_hi - sum(bounds[k][0] for k in others)) - (
        t_lo - sum(bounds[k][1] for k in others))


def suppress(values: Mapping[str, int], groups: Iterable[Group], min_cell: int) -> Suppressed:
    """Primary and complementary suppression of `values` under the given totals."""
    groups = tuple(groups)
    for group in groups:
        missing = [k for k in (*group.members, group.total) if k not in values]
        if missing:
            raise KeyError(f"group refers to unknown cells: {missing}")
    primary = {k for k, v in values.items() if 0 < v < min_cell}
    complementary: set[str] = set()
    while True:  # each round withholds one more cell, so this ends
        bad = violations(values, groups, primary, complementary, min_cell)
        if not bad:
            break
        bounds = intervals(values, groups, primary, complementary, min_cell)
        touching = sorted((g for g in groups if bad[0] in (*g.members, g.total)),
                          key=lambda g: _local_width(bad[0], g, bounds))
        choice = None
        for group in touching:
            shown = sorted((values[k], k) for k in group.members
                           if values[k] > 0 and k not in primary and k not in complementary)
            if shown:
                choice = shown[0][1]
            elif group.total not in primary and group.total not in complementary:
                choice = group.total
            if choice is not None:
                break
        if choice is None:  # every cell around it is withheld already: nothing more to do
            break
        complementary.add(choice)
    return Suppressed(dict(values), frozenset(primary), frozenset(complementary), min_cell)
