"""The built wheel holds the package and its data, and none of the developer tools."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_contains_no_selfcheck_and_no_tools(tmp_path: Path) -> None:
    # Build from a copy, so that the build's egg-info and build/ stay out of the checkout.
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "src", tree / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"),
         str(tree)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("incidentscope-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "incidentscope/api.py" in names
    assert [n for n in names if n.startswith("incidentscope/sql/") and n.endswith(".sql")]
    assert not [n for n in names if "selfcheck" in n or n.startswith("tools/")
                or "reliability_cases" in n]
