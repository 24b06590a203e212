"""No source module over 600 lines (issue 18): a module that grows is split by responsibility."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "src" / "incidentscope"
MAX_LINES = 600


def test_no_module_is_over_600_lines() -> None:
    sizes = {path.relative_to(PACKAGE_DIR).as_posix(): len(path.read_text("utf-8").splitlines())
             for path in sorted(PACKAGE_DIR.rglob("*.py"))}
    assert len(sizes) > 20  # the package was found
    over = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert not over, f"modules over {MAX_LINES} lines (split them by responsibility): {over}"
