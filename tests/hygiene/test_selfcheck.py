"""tools/selfcheck.py and its data: the case table, the reliability tests and the published
figures (docs/reliability.md) name the same cases."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import selfcheck  # noqa: E402  (tools/ is not a package)


def _case_markers() -> Iterator[tuple[str, str]]:
    """(case number, file:line) of every @pytest.mark.case(N) under tests/reliability."""
    for path in sorted((ROOT / "tests" / "reliability").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "case" and ast.unparse(node.func) == "pytest.mark.case"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                yield str(node.args[0].value), f"{path.relative_to(ROOT)}:{node.lineno}"


def test_the_case_file_reads_and_numbers_cases_from_one() -> None:
    catalog = selfcheck.load_catalog()
    numbers = [int(n) for n in catalog.cases]
    assert numbers[:13] == list(range(1, 14)), "cases 1-13 keep their numbers and order"
    assert len(set(numbers)) == len(numbers)
    assert catalog.defects, "the defect log is read"


def test_every_case_has_tests() -> None:
    cases = set(selfcheck.load_catalog().cases)
    marked = {case for case, _ in _case_markers()}
    assert not cases - marked, (
        f"cases in tools/reliability_cases.toml without a @pytest.mark.case test under "
        f"tests/reliability: {sorted(cases - marked, key=int)}")


def test_every_marked_test_has_a_case() -> None:
    cases = set(selfcheck.load_catalog().cases)
    strays: dict[str, list[str]] = {}
    for case, where in _case_markers():
        if case not in cases:
            strays.setdefault(case, []).append(where)
    assert not strays, "@pytest.mark.case(N) with no [[case]] N in tools/reliability_cases.toml: " \
        + "; ".join(f"case {case} ({', '.join(where)})" for case, where in sorted(
            strays.items(), key=lambda item: int(item[0])))


def test_the_published_figures_name_the_cases_and_defects_of_the_case_file() -> None:
    catalog = selfcheck.load_catalog()
    doc = (ROOT / "docs" / "reliability.md").read_text("utf-8")
    rows = {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(
        r"^\| (\d+) \| (.*?) \| (.*?) \| [\d,]+ \|", doc, re.MULTILINE)}
    stale = "docs/reliability.md is stale: rerun `python tools/selfcheck.py`"
    assert rows == catalog.cases, stale
    assert "Produced by `python tools/selfcheck.py" in doc, stale
    defects = doc.split("## Defects the suite found", 1)[1].split("\n## ", 1)[0]
    assert [line[2:] for line in defects.splitlines() if line.startswith("- ")] == \
        list(catalog.defects), stale


def test_render_lists_cases_in_file_order_with_their_figures() -> None:
    catalog = selfcheck.Catalog({"1": ("a", "b"), "14": ("c", "d")}, ("fixed",), ("open",))
    figures = {"14": {"tried": 1200, "tests": ["t: failed"], "notes": ["n"]}}
    text = selfcheck.render(catalog, figures, long=False, code=1)
    assert "| 1 | a | b | 0 | 0 | 0 | 0 | not run |" in text
    assert "| 14 | c | d | 1,200 | 0 | 0 | 0 | FAILED |" in text
    assert "- fixed" in text and "## Known defects (open)\n\n- open" in text
    assert "**Case 14**\n\n- n" in text
    undescribed = selfcheck.render(catalog, {"15": {"tried": 2}}, long=False, code=0)
    assert "| 15 | (not described in tools/reliability_cases.toml) |  | 2 |" in undescribed


@pytest.mark.parametrize(("body", "message"), [
    ('[[case]]\nnumber = 1\nwhat = "a"\n', "expected the keys"),
    ('[[case]]\nnumber = 1\nwhat = "a"\nexpected = "b"\n' * 2, "appears twice"),
    ('[[case]]\nnumber = "1"\nwhat = "a"\nexpected = "b"\n', "not a positive integer"),
    ('[[case]]\nnumber = 1\nwhat = ""\nexpected = "b"\n', "non-empty string"),
    ('[[defects]]\ntext = "a"\n', "unknown tables"),
])
def test_a_broken_case_file_is_refused(tmp_path: Path, body: str, message: str) -> None:
    source = tmp_path / "cases.toml"
    source.write_text(body)
    with pytest.raises(ValueError, match=message):
        selfcheck.load_catalog(source)
