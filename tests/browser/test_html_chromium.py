"""The HTML reports opened in headless Chromium (Debian's `chromium`): they render, the charts
are there and decode, and the browser logs no console error (CSP violations included).

Skipped only when Chromium is missing outside CI; with CI=true it must run (.ci/run installs it).
Screenshots for the README: `SCREENSHOTS=docs/img python -m pytest tests/browser -q`.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from incidentscope import api
from incidentscope.samples import sample_dir

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise RuntimeError("CI: the HTML report test needs chromium (.ci/run installs it)")
    pytest.skip("chromium is not installed (apt-get install chromium); the CI run installs it",
                allow_module_level=True)

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]
# Console messages and page errors as Chromium logs them to stderr.
CONSOLE_ERROR = re.compile(r"CONSOLE\(\d+\)|Uncaught|Refused to|Content Security Policy|"
                           r"Failed to load resource|net::ERR_")


def chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra,
                           page.as_uri()], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TZ": "UTC"})


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE_ERROR.search(line)]


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    api.run(sample_dir() / "incident.toml", sample_dir() / "data", root / "out",
            db_path=root / "ws.duckdb")
    return root / "out"


@pytest.mark.parametrize(("name", "heading", "charts", "element"), [
    ("report.html", "Affected accounts", 4, "<table>"),
    ("regulator.html", "Data subjects by country and region", 0, "<table>"),
    ("public-notice.html", "What you can do", 0, "<table>"),
    ("art34/notice.de.html", "Was Sie tun können", 0, "<li>"),
    ("art34/notice.ja.html", "お客様にできること", 0, "<li>"),
])
def test_report_renders_with_charts_and_no_console_error(
        out_dir: Path, tmp_path: Path, name: str, heading: str, charts: int,
        element: str) -> None:
    done = chromium(out_dir / name, tmp_path / "profile", "--dump-dom",
                    "--virtual-time-budget=3000")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert heading in dom and element in dom
    images = re.findall(r'<img alt="([^"]+)" src="data:image/svg\+xml;base64,([^"]+)"', dom)
    assert len(images) == charts
    for alt, data in images:
        svg = ET.fromstring(base64.b64decode(data))
        assert svg.tag.endswith("svg") and len(list(svg.iter())) > 50, alt
    assert console_errors(done.stderr) == []


@pytest.mark.parametrize("language", ["en", "de", "fr", "es", "it", "nl", "pt", "ja"])
def test_every_art34_notice_renders(out_dir: Path, tmp_path: Path, language: str) -> None:
    done = chromium(out_dir / "art34" / f"notice.{language}.html", tmp_path / "profile",
                    "--dump-dom", "--virtual-time-budget=3000")
    assert done.returncode == 0, done.stderr[-2000:]
    assert f'<html lang="{language}">' in done.stdout and "<li>" in done.stdout
    assert console_errors(done.stderr) == []


def test_screenshot_is_not_blank(out_dir: Path, tmp_path: Path) -> None:
    from PIL import Image, ImageStat

    target_dir = Path(os.environ.get("SCREENSHOTS", tmp_path))
    target_dir.mkdir(parents=True, exist_ok=True)
    for name, height in (("report", 2200), ("regulator", 2000)):
        shot = target_dir / f"{name}.png"
        done = chromium(out_dir / f"{name}.html", tmp_path / f"profile-{name}",
                        f"--screenshot={shot}", f"--window-size=1000,{height}")
        assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
        with Image.open(shot) as image:
            assert image.size == (1000, height)
            spread = ImageStat.Stat(image.convert("L")).stddev[0]
        assert spread > 10, f"{name} screenshot looks blank"


def test_console_errors_are_detected(tmp_path: Path) -> None:
    """The check above is not vacuous: a page that logs an error and breaks its CSP fails it."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; script-src 'unsafe-inline'\">"
        '<img src="http://127.0.0.1:9/x.png"><script>console.error("probe")</script>')
    done = chromium(page, tmp_path / "profile", "--dump-dom", "--virtual-time-budget=2000")
    assert console_errors(done.stderr), done.stderr[-2000:]
