"""Figures for docs/reliability.md: each case counts what it tried and what went wrong.

`python tools/selfcheck.py` runs this suite with INCIDENTSCOPE_FIGURES naming a
JSON file; every case adds its counts there. Under plain pytest the counts are only asserted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from relhelp import Figure

_FIGURES: dict[str, Figure] = {}
_OUTCOMES: dict[str, list[str]] = {}


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Iterator[Figure]:
    """The figure of the case named by the test's `case` marker (summed over its tests)."""
    marker = request.node.get_closest_marker("case")
    assert marker is not None, "every reliability test names its case: @pytest.mark.case(N)"
    case = str(marker.args[0])
    fig = _FIGURES.setdefault(case, Figure(case))
    yield fig


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "case(n): the reliability case a test belongs to")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    marker = item.get_closest_marker("case")
    outcome = str(getattr(report, "outcome", ""))
    if marker is not None and (call.when == "call" or outcome != "passed"):
        if hasattr(report, "wasxfail"):
            outcome = "xfailed"
        _OUTCOMES.setdefault(str(marker.args[0]), []).append(f"{item.name}: {outcome}")
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("INCIDENTSCOPE_FIGURES")
    if not target:
        return
    data = {case: {**fig.as_dict(), "tests": _OUTCOMES.get(case, [])}
            for case, fig in _FIGURES.items()}
    for case, outcomes in _OUTCOMES.items():
        data.setdefault(case, {**Figure(case).as_dict(), "tests": outcomes})
    Path(target).write_text(json.dumps(data, indent=2, sort_keys=True))
