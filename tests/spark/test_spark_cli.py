"""The command line's Spark options when PySpark is missing or options do not fit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from incidentscope.samples import sample_dir
from incidentscope.spark import INSTALL_HINT

ENV = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "TZ": "UTC"}


def cli_without_pyspark(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a process where `import pyspark` fails, as on an install without it."""
    code = ("import sys\nsys.modules['pyspark'] = None\n"
            "from incidentscope.cli import main\nsys.argv = ['incidentscope', *sys.argv[1:]]\n"
            "main()\n")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=ENV, timeout=120)


def test_engine_spark_without_pyspark_says_how_to_install(tmp_path: Path) -> None:
    done = cli_without_pyspark("run", str(sample_dir() / "incident.toml"), "--data",
                               str(sample_dir() / "data"), "--out", str(tmp_path / "out"),
                               "--engine", "spark")
    assert done.returncode == 64
    assert done.stderr == f"error: {INSTALL_HINT}\n"
    assert "pip install 'incidentscope[spark]'" in done.stderr
    assert not done.stdout and not (tmp_path / "out").exists()


def test_spark_options_that_do_not_fit_are_usage_errors(tmp_path: Path) -> None:
    base = ["run", str(sample_dir() / "incident.toml"), "--data", str(sample_dir() / "data"),
            "--out", str(tmp_path / "out")]
    for extra in (["--spark-master", "local[2]"], ["--engine", "spark", "--threads", "2"],
                  ["--engine", "flink"]):
        done = cli_without_pyspark(*base, *extra)
        assert done.returncode == 64, extra
        assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
