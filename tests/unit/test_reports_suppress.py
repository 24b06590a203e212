"""Small-count suppression: primary `<10`, complementary cells so no total gives one away."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from incidentscope.report.suppress import Group, Suppressed, suppress


def feasible_values(published: Suppressed, members: list[str], total: int) -> dict[str, set[int]]:
    """Every value each member can take given what is published (brute force)."""
    m = published.min_cell
    ranges = []
    for key in members:
        if key in published.primary:
            ranges.append(range(1, m))
        elif key in published.complementary:
            ranges.append(range(m, total + 1))
        else:
            ranges.append(range(published.values[key], published.values[key] + 1))
    seen: dict[str, set[int]] = {key: set() for key in members}
    for combo in itertools.product(*ranges):
        if sum(combo) == total:
            for key, value in zip(members, combo, strict=True):
                seen[key].add(value)
    return seen


def test_a_single_small_cell_next_to_a_total_gets_a_partner() -> None:
    values = {"DE": 3, "FR": 40, "US": 57, "total": 100}
    out = suppress(values, [Group(("DE", "FR", "US"), "total")], min_cell=10)
    assert out.show("DE") == "<10"
    assert out.show("total") == "100"
    # without a partner, DE = 100 - 40 - 57; FR (the smallest other) is withheld too
    assert out.show("FR") == "≥10"
    assert out.show("US") == "57"


def test_two_small_cells_whose_sum_pins_them_are_protected() -> None:
    # 1 + 1 = 2 would be read from the total: both cells would be known to be 1
    values = {"a": 1, "b": 1, "c": 50, "total": 52}
    out = suppress(values, [Group(("a", "b", "c"), "total")], min_cell=10)
    assert out.hidden("c")
    feasible = feasible_values(out, ["a", "b", "c"], 52)
    assert feasible["a"] == set(range(1, 10)) and feasible["b"] == set(range(1, 10))


def test_the_total_is_withheld_when_nothing_else_can_be() -> None:
    values = {"a": 4, "total": 12, "b": 8}
    out = suppress(values, [Group(("a", "b"), "total")], min_cell=10)
    assert out.show("a") == "<10" and out.show("b") == "<10"
    assert out.show("total") == "≥10"


def test_zero_is_shown_and_large_counts_are_exact() -> None:
    values = {"a": 0, "b": 12, "c": 1234}
    out = suppress(values, [], min_cell=10)
    assert [out.show(k) for k in ("a", "b", "c")] == ["0", "12", "1,234"]


def test_the_label_carries_the_incident_min_cell() -> None:
    out = suppress({"a": 4, "b": 5}, [], min_cell=5)
    assert out.show("a") == "<5" and out.show("b") == "5"


def test_a_cell_withheld_for_one_total_is_checked_in_the_other() -> None:
    # rows and the column sum share cells; the loop runs until both totals are safe
    values = {"x": 5, "y": 30, "z": 31, "t1": 66, "u": 30, "t2": 60}
    groups = [Group(("x", "y", "z"), "t1"), Group(("y", "u"), "t2")]
    out = suppress(values, groups, min_cell=10)
    # withholding y alone for t1 would not do: t2 - u gives y, and then t1 gives x
    assert out.hidden("y") and len(out.complementary) >= 2
    shown = {k: v for k, v in values.items() if not out.hidden(k)}
    for x in range(1, 10):  # x can still be any small value with every shown figure kept
        assert any(
            shown.get("y", y) == y and shown.get("z", z) == z and shown.get("u", u) == u
            and x + y + z == 66 and y + u == 60
            and all(v >= 10 for k, v in (("y", y), ("z", z), ("u", u)) if out.hidden(k))
            for y in range(0, 61) for z in range(0, 67) for u in range(0, 61))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=14), min_size=1, max_size=4))
def test_no_published_total_narrows_a_small_cell(counts: list[int]) -> None:
    m = 5
    members = [f"c{i}" for i in range(len(counts))]
    values = dict(zip(members, counts, strict=True))
    values["total"] = sum(counts)
    out = suppress(values, [Group(tuple(members), "total")], min_cell=m)
    if out.hidden("total"):
        return
    feasible = feasible_values(out, members, values["total"])
    for key in members:
        if key in out.primary:
            assert feasible[key] == set(range(1, m)), (values, out)
