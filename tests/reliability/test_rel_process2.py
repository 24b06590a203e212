"""Issue 20, processes and files: OUT that overlaps the inputs or is a file, two runs into one
OUT, a verification's temporary folder and the key, signals at random moments of every
writing command, faults of the key file, and injected OS faults at every write site.

Defects L1, D1, C3, C4, C6, C8, U4 and the `verify` exit code of issue 20; each test
failed before its fix.
"""

from __future__ import annotations

import errno
import fcntl
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import redirect_stderr
from pathlib import Path

import pytest
from relhelp import LONG, Figure, cli, env, generate_scenario

from incidentscope import api, manifest, outdir, workspace
from incidentscope import cli as cli_module
from incidentscope.errors import StorageError, WorkspaceInUseError
from workspace_fixtures import write_small_case

SIGNAL_RUNS = 60 if LONG else 12


def _lines(done: subprocess.CompletedProcess[bytes]) -> list[str]:
    return done.stderr.decode().strip().splitlines()


# -- D1, C8: OUT ---------------------------------------------------------------------------
@pytest.mark.case(17)
@pytest.mark.parametrize("where", ["data", "data/sub", "data/contacts"])
def test_an_out_inside_the_inputs_is_refused_and_nothing_changes(
        where: str, tmp_path: Path, figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    before = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    figure.tried += 1
    done = cli("run", str(incident), "--data", str(data), "--out", str(tmp_path / where), "-q")
    assert done.returncode == 64, done.stderr
    assert len(_lines(done)) == 1 and "inside the input folder" in _lines(done)[0]
    assert {p: p.read_bytes() for p in data.rglob("*") if p.is_file()} == before
    assert not (tmp_path / "incident.duckdb").exists()  # refused before the load


@pytest.mark.case(17)
def test_an_out_holding_an_input_under_an_output_name_is_refused(tmp_path: Path,
                                                                figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    charts = tmp_path / "charts"  # the data folder has the name of an output folder
    data.rename(charts)
    figure.tried += 1
    done = cli("run", str(incident), "--data", str(charts), "--out", str(tmp_path), "-q")
    assert done.returncode == 64
    assert "would write over the input" in _lines(done)[0]
    # a folder that holds the inputs under other names is fine
    figure.tried += 1
    ok = cli("run", str(incident), "--data", str(charts), "--out", str(tmp_path / "out"), "-q")
    assert ok.returncode == 0, ok.stderr


@pytest.mark.case(17)
@pytest.mark.parametrize("shape", ["file", "under a file"])
def test_an_out_that_cannot_be_a_folder_is_refused_before_the_load(
        shape: str, tmp_path: Path, figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    out = blocker if shape == "file" else blocker / "out"
    figure.tried += 1
    done = cli("run", str(incident), "--data", str(data), "--out", str(out), "-q")
    assert done.returncode == 64 and len(_lines(done)) == 1, done.stderr
    assert not (tmp_path / "incident.duckdb").exists()


@pytest.mark.case(17)
def test_report_out_may_not_overwrite_the_incident_file(tmp_path: Path, figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    api.load(incident, data)
    before = incident.read_bytes()
    for target in (incident, tmp_path / "incident.duckdb", tmp_path):
        figure.tried += 1
        done = cli("report", str(incident), "--format", "json", "--out", str(target), "-q")
        assert done.returncode == 64, done.stderr
    assert incident.read_bytes() == before


@pytest.mark.case(17)
def test_a_second_writer_into_one_out_is_refused_while_the_first_writes(
        tmp_path: Path, figure: Figure) -> None:
    out = tmp_path / "out"
    out.mkdir()
    staging = out / ".incidentscope-first.partial"  # the first run's, mid-write
    staging.mkdir()
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        figure.tried += 1
        with pytest.raises(WorkspaceInUseError, match="another run is writing"):
            outdir.write_outputs(out, {"report.json": b"{}"})
        assert staging.exists()  # not removed as stale
    finally:
        os.close(fd)
    assert outdir.write_outputs(out, {"report.json": b"{}"}) == (out / "report.json",)
    assert not staging.exists()  # stale once nobody holds the lock


# -- L1: verify never copies the key, and leaves nothing behind ----------------------------
def _key_hex(tmp_path: Path) -> bytes:
    return (tmp_path / "incident.duckdb.key").read_bytes().strip()


def _files_holding(root: Path, needle: bytes, skip: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p != skip and needle in p.read_bytes()]


@pytest.mark.case(18)
def test_verify_reads_the_key_where_it_lies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    api.run(incident, data, tmp_path / "out")
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr("tempfile.tempdir", None)
    seen: list[list[Path]] = []
    real_run = api.run

    def spying_run(*args: object, **kwargs: object) -> api.RunResult:
        result = real_run(*args, **kwargs)  # type: ignore[arg-type]
        seen.append(_files_holding(temp, _key_hex(tmp_path), skip=Path("/nonexistent")))
        return result

    monkeypatch.setattr(api, "run", spying_run)
    figure.tried += 1
    outcome = api.verify(tmp_path / "out" / "manifest.json", data)
    assert outcome.match, outcome
    assert seen == [[]]  # during the verification, no copy of the key in TMPDIR
    assert list(temp.iterdir()) == []


@pytest.mark.case(18)
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_during_verify_removes_its_folder(stop: signal.Signals, tmp_path: Path,
                                                  figure: Figure) -> None:
    incident, data = generate_scenario(tmp_path / "sc", accounts=300, every="30d")
    assert cli("run", str(incident), "--data", str(data), "--out", str(tmp_path / "out"),
               "-q").returncode == 0
    temp = tmp_path / "tmp"
    temp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "incidentscope", "verify", str(tmp_path / "out" / "manifest.json"),
         "--data", str(data)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env(TMPDIR=str(temp)))
    deadline = time.monotonic() + 60
    while not list(temp.glob("incidentscope-verify-*/verify.duckdb")):
        assert proc.poll() is None and time.monotonic() < deadline, "verify ended too soon"
        time.sleep(0.02)
    proc.send_signal(stop)
    _out, err = proc.communicate(timeout=60)
    figure.tried += 1
    assert proc.returncode == 128 + int(stop), err
    assert err.decode().strip().splitlines() == [
        "interrupted: nothing was committed or written half-way"]
    assert list(temp.iterdir()) == []


@pytest.mark.case(18)
def test_a_killed_verification_is_cleaned_up_by_the_next(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    api.run(incident, data, tmp_path / "out")
    temp = tmp_path / "tmp"
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr("tempfile.tempdir", None)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = temp / "incidentscope-verify-stale"
    stale.mkdir(parents=True)
    (stale / "owner.pid").write_text(dead.stdout)
    (stale / "verify.duckdb").write_bytes(b"workspace copy")
    alive = temp / "incidentscope-verify-alive"  # a verification still running
    alive.mkdir()
    (alive / "owner.pid").write_text(f"{os.getppid()}\n")
    figure.tried += 1
    assert api.verify(tmp_path / "out" / "manifest.json", data).match
    assert sorted(p.name for p in temp.iterdir()) == ["incidentscope-verify-alive"]


@pytest.mark.case(18)
def test_verify_after_an_input_was_deleted_says_input_changed(tmp_path: Path,
                                                             figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    api.run(incident, data, tmp_path / "out")
    (data / "matches.csv").unlink()
    figure.tried += 1
    done = cli("verify", str(tmp_path / "out" / "manifest.json"), "--data", str(data))
    assert done.returncode == 1, done.stderr
    assert "input changed: matches.csv: missing" in done.stdout.decode().splitlines()


# -- signals at random moments of every writing command -------------------------------------
def _command(kind: str, case: Path, incident: Path, data: Path) -> list[str]:
    db = str(case / "ws.duckdb")
    return {
        "load": ["load", str(incident), "--data", str(data), "--db", db, "-q"],
        "run": ["run", str(incident), "--data", str(data), "--db", db, "--out",
                str(case / "out"), "-q"],
        "report": ["report", str(incident), "--db", str(case.parent / "ref.duckdb"),
                   "--format", "regulator-pdf", "--out", str(case / "r.pdf"), "-q"],
        "verify": ["verify", str(case.parent / "ref" / "manifest.json"), "--data", str(data)],
        "generate": ["generate", str(case / "gen"), "--accounts", "300"],
    }[kind]


@pytest.mark.case(19)
def test_every_signal_at_random_moments_of_every_writing_command(tmp_path: Path,
                                                                 figure: Figure) -> None:
    incident, data = generate_scenario(tmp_path / "sc", accounts=300, every="30d")
    ref = cli("run", str(incident), "--data", str(data), "--db", str(tmp_path / "ref.duckdb"),
              "--out", str(tmp_path / "ref"), "-q")
    assert ref.returncode == 0, ref.stderr
    # verify reads the key beside the incident's own workspace
    shutil.copy(tmp_path / "ref.duckdb.key", incident.parent / "incident.duckdb.key")
    key = (tmp_path / "ref.duckdb.key").read_bytes().strip()
    rng = random.Random(20)
    kinds = ["load", "run", "report", "verify", "generate"]
    stops = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL]
    problems: list[str] = []
    for attempt in range(SIGNAL_RUNS):
        kind, stop = kinds[attempt % len(kinds)], rng.choice(stops)
        case = tmp_path / f"s{attempt}"
        temp = case / "tmp"
        temp.mkdir(parents=True)
        proc = subprocess.Popen([sys.executable, "-m", "incidentscope",
                                 *_command(kind, case, incident, data)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env(TMPDIR=str(temp)))
        time.sleep(rng.uniform(0.2, 2.5))
        proc.send_signal(stop)
        _out, err = proc.communicate(timeout=120)
        figure.tried += 1
        label = f"#{attempt} {kind} {stop.name}"
        finished = proc.returncode == 0
        if stop == signal.SIGKILL:
            # a killed verification leaves its folder; the next one removes it
            if kind == "verify" and not finished:
                manifest.remove_stale_verify_folders(temp)
        elif not finished and proc.returncode != 128 + int(stop):
            figure.crashes += 1
            problems.append(f"{label}: exit {proc.returncode}: {err.decode()[-200:]}")
        left = list(temp.iterdir())
        if left:
            figure.crashes += 1
            problems.append(f"{label}: left in TMPDIR: {[p.name for p in left]}")
        copies = [p for p in case.rglob("*") if p.is_file() and p.stat().st_size < 1_000_000
                  and key in p.read_bytes() and p.name != "ws.duckdb.key"]
        if copies:
            figure.canary_hits += 1
            problems.append(f"{label}: key copies {copies}")
        db = case / "ws.duckdb"
        if db.exists():
            status = cli("status", str(incident), "--db", str(db))
            if status.returncode not in (0, 66):  # 66: killed before the key was written
                figure.rows_lost += 1
                problems.append(f"{label}: workspace unreadable: {_lines(status)[-1:]}")
        shutil.rmtree(case)
    assert not problems, problems


# -- C6: the key file ------------------------------------------------------------------------
@pytest.mark.case(20)
@pytest.mark.parametrize("fault", ["not ascii", "a folder", "a broken link", "unreadable"])
def test_a_faulty_key_file_is_one_line_and_exit_74(fault: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    figure: Figure) -> None:
    write_small_case(tmp_path)
    key = tmp_path / "incident.duckdb.key"
    if fault == "not ascii":
        key.write_bytes("é".encode() * 40)
    elif fault == "a folder":
        key.mkdir()
    elif fault == "a broken link":
        key.symlink_to(tmp_path / "nowhere")
    else:
        key.write_text("0" * 64)
        monkeypatch.setattr(Path, "read_bytes", _raise(PermissionError(errno.EACCES,
                                                                       "Permission denied")))
    figure.tried += 1
    with pytest.raises(StorageError) as caught:
        workspace.load_or_create_key(key, create=True)
    assert "\n" not in str(caught.value) and str(key) in str(caught.value)


@pytest.mark.case(20)
def test_a_key_readable_by_others_is_warned_about(tmp_path: Path, figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    api.load(incident, data)
    key = tmp_path / "incident.duckdb.key"
    key.chmod(0o644)
    figure.tried += 1
    done = cli("load", str(incident), "--data", str(data), "-q")
    assert done.returncode == 0
    assert _lines(done) == [f"warning: {key}: the key file is readable by other users than its "
                            "owner; chmod 600 it"]


# -- C3, C4: OS faults at every write site ---------------------------------------------------
def _raise(error: OSError) -> Callable[..., object]:
    def fail(*_args: object, **_kwargs: object) -> object:
        raise error
    return fail


FAULTS = {"ENOSPC": (errno.ENOSPC, "No space left on device", "the disk is full"),
          "EACCES": (errno.EACCES, "Permission denied", "no permission"),
          "EROFS": (errno.EROFS, "Read-only file system", "a read-only file system")}
# (what is written, the function that writes it, the command that gets there)
WRITE_SITES = [
    ("the key file", "os.link", "load"),
    ("the reports' staging folder", "pathlib.Path.mkdir", "run"),
    ("a report file", "os.fsync", "run"),
    ("a report put in place", "os.replace", "run"),
    ("a verification's folder", "tempfile.mkdtemp", "verify"),
    ("a report file (--out)", "os.fsync", "report"),
    ("a generated scenario", "pathlib.Path.write_text", "generate"),
]


def _main(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, list[str]]:
    """`incidentscope ARGV` in this process (to inject faults), its exit code and stderr."""
    monkeypatch.setattr(sys, "argv", ["incidentscope", *argv])
    stderr = io.StringIO()
    handlers = {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    umask = os.umask(0o077)
    try:
        with redirect_stderr(stderr), pytest.raises(SystemExit) as stopped:
            cli_module.main()
    finally:
        os.umask(umask)
        for number, handler in handlers.items():
            signal.signal(number, handler)
    code = stopped.value.code
    return (code if isinstance(code, int) else 0), stderr.getvalue().strip().splitlines()


@pytest.mark.case(20)
@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize(("site", "target", "command"), WRITE_SITES)
def test_an_os_fault_at_a_write_site_is_exit_74_with_one_line(
        fault: str, site: str, target: str, command: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, figure: Figure) -> None:
    incident, data = write_small_case(tmp_path)
    if command in ("verify", "report"):
        api.run(incident, data, tmp_path / "ref")
    argv = {
        "load": ["load", str(incident), "--data", str(data), "-q"],
        "run": ["run", str(incident), "--data", str(data), "--out", str(tmp_path / "out"),
                "-q"],
        "verify": ["verify", str(tmp_path / "ref" / "manifest.json"), "--data", str(data)],
        "report": ["report", str(incident), "--format", "json", "--out",
                   str(tmp_path / "r.json"), "-q"],
        "generate": ["generate", str(tmp_path / "gen"), "--accounts", "20"],
    }[command]
    number, text, cause = FAULTS[fault]
    module, _, name = target.rpartition(".")
    owner: object = {"os": os, "pathlib.Path": Path, "tempfile": __import__("tempfile")}[module]
    monkeypatch.setattr(owner, name, _raise(OSError(number, text)))
    figure.tried += 1
    code, lines = _main(argv, monkeypatch)
    monkeypatch.undo()
    lines = [line for line in lines if not line.startswith("warning: ")]  # the data's own
    if code != 74 or len(lines) != 1:
        figure.crashes += 1
    assert (code, len(lines)) == (74, 1), (site, lines)
    assert lines[0].startswith("error: ") and cause in lines[0], lines
    assert not (tmp_path / "out" / "report.json").exists()
