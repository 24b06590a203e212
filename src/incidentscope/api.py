"""The Python API: what the command line does, for notebooks and tests.

    from incidentscope.api import run
    result = run("incident.toml", "data/", "out/")
    result.report["affected_accounts"]
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb

from incidentscope import diff, ingest, investigate, manifest, results, workspace
from incidentscope import replay as replay_engine
from incidentscope.config import Incident, load_incident
from incidentscope.engine import STATEMENT_NOTE, DuckDBEngine, Engine
from incidentscope.errors import (
    OUT_OF_MEMORY_HINT,
    STOP_SIGNALS,
    BadDataError,
    MissingInputError,
    OutOfMemoryError,
    StorageError,
    UsageError,
    storage_cause,
)
from incidentscope.inputs import is_uri, sha256_file
from incidentscope.outdir import Written, check_out_dir, write_outputs
from incidentscope.report import json_report
from incidentscope.report.outputs import TOP_LEVEL_NAMES, render_all
from incidentscope.results import LoadResult, ReplayResult

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunResult:
    run_id: str
    load: LoadResult
    result: ReplayResult
    out_dir: Path
    outputs: tuple[Path, ...]

    @property
    def report(self) -> dict[str, object]:
        return self.result.report


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def resolve_db(incident_path: Path, db_path: Path | None) -> Path:
    return db_path if db_path is not None else workspace.default_workspace_path(incident_path)


def _out_of_memory(exc: duckdb.OutOfMemoryException | None = None) -> OutOfMemoryError:
    """The error, naming the replay's step or figure query that did not fit, if known (the
    engine notes the statement's SQL text on the exception: engine.STATEMENT_NOTE)."""
    where = None
    for note in getattr(exc, "__notes__", ()):
        if note.startswith(STATEMENT_NOTE):
            where = replay_engine.statement_name(note.removeprefix(STATEMENT_NOTE)) or where
    at = f" in replay statement {where}" if where else ""
    return OutOfMemoryError(f"out of memory within DuckDB's memory limit{at}; "
                            f"{OUT_OF_MEMORY_HINT}")


@contextlib.contextmanager
def open_workspace(
    incident_path: Path | str,
    db_path: Path | str | None = None,
    *,
    create: bool = False,
    read_only: bool = False,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> Iterator[tuple[Incident, duckdb.DuckDBPyConnection, Path]]:
    incident = load_incident(Path(incident_path))
    db = resolve_db(Path(incident_path), Path(db_path) if db_path else None)
    try:
        con = workspace.connect(db, create=create, read_only=read_only, threads=threads,
                                memory_limit=memory_limit)
    except duckdb.OutOfMemoryException:
        raise _out_of_memory() from None
    try:
        yield incident, con, db
    except duckdb.OutOfMemoryException as exc:
        # A replay or report query that needs more than DuckDB's limit, even spilling.
        # (The load says so itself, adding that it left the workspace unchanged.)
        raise _out_of_memory(exc) from None
    except (duckdb.IOException, duckdb.PermissionException) as exc:
        # spilling to a full disk, writing the replay's outcome into a read-only workspace
        raise StorageError(f"{db}: reading or writing the workspace failed "
                           f"({storage_cause(exc)})") from None
    finally:
        con.close()
        temp_dir = db.parent / f".{db.name}.tmp"
        shutil.rmtree(temp_dir, ignore_errors=True)


def load(
    incident_path: Path | str,
    data_dir: Path | str,
    *,
    db_path: Path | str | None = None,
    strict: bool = False,
    progress: Progress | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
    key_path: Path | str | None = None,
) -> LoadResult:
    """Load the input files of `data_dir` into the workspace (created when missing).

    `key_path`: a key file elsewhere than beside the workspace (used, never created).
    """
    with workspace.private_files(), open_workspace(
        incident_path, db_path, create=True, threads=threads, memory_limit=memory_limit
    ) as (incident, con, db):
        key = _workspace_key(con, db, key_path)
        return ingest.load(con, incident, Path(data_dir), key, strict=strict, progress=progress)


def _workspace_key(con: duckdb.DuckDBPyConnection, db: Path,
                   key_path: Path | str | None) -> workspace.PseudonymKey:
    """The key beside the workspace (made for a new one), or the given key file as it is."""
    if key_path is not None:
        return workspace.load_or_create_key(Path(key_path), create=False, con=con)
    return workspace.load_or_create_key(workspace.key_path_for(db), create=True, con=con)


def replay(
    incident_path: Path | str,
    *,
    db_path: Path | str | None = None,
    progress: Progress | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> ReplayResult:
    """Replay the loaded workspace under the incident file's parameters."""
    with workspace.private_files(), open_workspace(
        incident_path, db_path, threads=threads, memory_limit=memory_limit
    ) as (incident, con, _db):
        return replay_engine.replay(con, incident, progress=progress)


def _record_run(con: duckdb.DuckDBPyConnection, run_id: str, kind: str, started: datetime,
                incident: Incident, result: ReplayResult, manifest_sha256: str | None) -> None:
    incident_sha = ""
    if incident.source_path is not None:
        incident_sha = hashlib.sha256(incident.source_path.read_bytes()).hexdigest()
    affected = result.report["affected_accounts"]
    con.execute(
        "INSERT INTO runs VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        [run_id, kind, started, _now(), incident_sha, manifest_sha256,
         json_report.render(result), affected["lower"], affected["estimate"], affected["upper"]],
    )


@contextlib.contextmanager
def _finishing() -> Iterator[Callable[[], None]]:
    """Putting the outputs in place and recording the run: once begun, it finishes.

    Yields `begin`: from that call until this block ends (after the workspace is closed)
    Ctrl-C is ignored, so a run either ends before it (nothing in OUT, exit 130) or
    completes (everything in OUT, recorded in the history, the workspace closed).
    """
    previous: dict[int, object] = {}

    def begin() -> None:
        if threading.current_thread() is threading.main_thread() and not previous:
            for number in STOP_SIGNALS:
                previous[number] = signal.signal(number, signal.SIG_IGN)

    try:
        yield begin
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]


def check_run_out(out_dir: Path, data_dir: Path | str, incident_path: Path, db: Path,
                  key_path: Path | str | None = None) -> None:
    """Refuse an OUT that overlaps an input of the run or cannot be written (outdir.py)."""
    key = Path(key_path) if key_path is not None else workspace.key_path_for(db)
    inputs = [incident_path, db, key]
    if isinstance(data_dir, Path):  # a URI (Spark) cannot overlap a local OUT
        inputs.insert(0, data_dir)
    check_out_dir(out_dir, TOP_LEVEL_NAMES, inputs)


def check_report_out(out: Path, incident_path: Path, db_path: Path | None, *,
                     folder: bool = False) -> None:
    """`report --out`: a file name (charts of md go beside it), or a folder for the formats
    that write several files; never an input."""
    db = resolve_db(incident_path, db_path)
    inputs = [incident_path, db, workspace.key_path_for(db)]
    if folder:
        check_out_dir(out, TOP_LEVEL_NAMES, inputs)
        return
    if out.is_dir():
        raise UsageError(f"--out {out}: is a folder; give a file name")
    check_out_dir(out.parent, {out.name, "charts"}, inputs)


EngineName = Literal["duckdb", "spark"]


@dataclass
class _Session:
    """What a run needs of its engine: a loader, the SQL engine, and the workspace (DuckDB
    only; a Spark run writes none)."""

    incident: Incident
    engine: Engine
    key: workspace.PseudonymKey
    load: Callable[[], LoadResult]
    con: duckdb.DuckDBPyConnection | None = None  # the workspace, where the run is recorded

    def threads(self) -> int | None:
        """DuckDB's threads, for the manifest (None on Spark)."""
        if self.con is None:
            return None
        return int(self.con.execute("SELECT current_setting('threads')").fetchall()[0][0])


@contextlib.contextmanager
def _duckdb_session(incident_path: Path | str, data_dir: Path | str, *,
                    db_path: Path | str | None, strict: bool, progress: Progress | None,
                    threads: int | None, memory_limit: str | None,
                    key_path: Path | str | None) -> Iterator[_Session]:
    with open_workspace(incident_path, db_path, create=True, threads=threads,
                        memory_limit=memory_limit) as (incident, con, db):
        key = _workspace_key(con, db, key_path)
        yield _Session(
            incident, DuckDBEngine(con), key,
            lambda: ingest.load(con, incident, Path(data_dir), key, strict=strict,
                                progress=progress),
            con)


def resolve_key(db: Path, key_path: Path | str | None = None) -> workspace.PseudonymKey:
    """The key of a run without an open workspace (Spark), exactly as a DuckDB run resolves
    it: the given key file as it is, or the one beside the workspace (created when missing)."""
    if key_path is not None:
        return workspace.load_or_create_key(Path(key_path), create=False)
    key_file = workspace.key_path_for(db)
    if not key_file.exists() and db.exists():
        # A workspace that recorded a key refuses a new one: check it, read-only.
        con = workspace.connect(db, read_only=True)
        try:
            return workspace.load_or_create_key(key_file, create=True, con=con)
        finally:
            con.close()
    return workspace.load_or_create_key(key_file, create=True)


@contextlib.contextmanager
def _spark_session(incident: Incident, data: Path | str, db: Path, *, strict: bool,
                   progress: Progress | None, key_path: Path | str | None,
                   spark_master: str | None, spark: Any) -> Iterator[_Session]:
    from incidentscope.spark import ingest as spark_ingest
    from incidentscope.spark import start
    from incidentscope.spark.engine import SparkEngine

    key = resolve_key(db, key_path)
    session = spark if spark is not None else start(spark_master)
    yield _Session(incident, SparkEngine(session), key,
                   lambda: spark_ingest.load(session, incident, data, key, strict=strict,
                                             progress=progress))


def run(
    incident_path: Path | str,
    data_dir: Path | str,
    out_dir: Path | str,
    *,
    db_path: Path | str | None = None,
    strict: bool = False,
    progress: Progress | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
    key_path: Path | str | None = None,
    engine: EngineName = "duckdb",
    spark_master: str | None = None,
    spark: Any = None,
) -> RunResult:
    """Load, replay and write the reports into `out_dir` (`key_path`: as for `load`).

    `engine="spark"` runs the same pipeline on Apache Spark (docs/spark.md): `data_dir` may
    then be a URI string read through Spark; `spark_master` a Spark master URL, a Spark
    Connect URL (sc://host:15002), or None for local[2]; `spark` an existing SparkSession
    to use instead (tests, notebooks). A Spark run writes no workspace: the run is not
    added to `history` (the manifest records it), and `threads`/`memory_limit` do not apply.
    """
    started = _now()
    run_id = started.strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]
    db = resolve_db(Path(incident_path), Path(db_path) if db_path else None)
    with contextlib.ExitStack() as stack:
        if engine == "spark":
            from incidentscope.spark import require
            from incidentscope.spark.files import is_uri

            require()
            incident = load_incident(Path(incident_path))
            data = data_dir if is_uri(data_dir) else Path(data_dir)  # a URI stays a string
            check_run_out(Path(out_dir), data, Path(incident_path), db, key_path)
            begin_finishing = stack.enter_context(_finishing())
            stack.enter_context(workspace.private_files())
            session = stack.enter_context(_spark_session(
                incident, data, db, strict=strict, progress=progress, key_path=key_path,
                spark_master=spark_master, spark=spark))
        elif engine == "duckdb":
            check_run_out(Path(out_dir), Path(data_dir), Path(incident_path), db, key_path)
            begin_finishing = stack.enter_context(_finishing())
            stack.enter_context(workspace.private_files())
            session = stack.enter_context(_duckdb_session(
                incident_path, data_dir, db_path=db_path, strict=strict, progress=progress,
                threads=threads, memory_limit=memory_limit, key_path=key_path))
        else:
            raise UsageError("--engine: one of duckdb, spark")
        loaded, result, outputs, manifest_bytes = _load_replay_write(
            session, run_id, started, engine, Path(out_dir), progress, begin_finishing)
        if session.con is not None:
            _record_run(session.con, run_id, "run", started, session.incident, result,
                        hashlib.sha256(manifest_bytes).hexdigest())
    return RunResult(run_id, loaded, result, Path(out_dir), outputs)


def _load_replay_write(session: _Session, run_id: str, started: datetime, engine: EngineName,
                       out_dir: Path, progress: Progress | None,
                       begin_finishing: Callable[[], None]
                       ) -> tuple[LoadResult, ReplayResult, tuple[Path, ...], bytes]:
    """The run itself, on either engine: load, replay, render, build the manifest, write OUT."""
    incident, sql = session.incident, session.engine
    loaded = session.load()
    result = replay_engine.replay(sql, incident, progress=progress,
                                  persist=session.con is not None)
    files = render_all(result, incident)
    recorded = {str(sha): (int(ok), int(bad)) for sha, ok, bad in sql.rows(
        "SELECT file_sha256, rows_loaded, rows_rejected FROM files")}
    warnings: dict[str, list[str]] = {}
    for sha, note in sql.rows("SELECT file_sha256, warning FROM load_warnings "
                              "ORDER BY file_sha256, warning"):
        warnings.setdefault(str(sha), []).append(str(note))
    made: list[bytes] = []

    def manifest_file(written: Mapping[str, Written]) -> dict[str, bytes]:
        """The manifest, once the other outputs are written and their hashes known."""
        made.append(manifest.render(manifest.build(
            run_id=run_id, started=started, finished=_now(), incident=incident, load=loaded,
            recorded_rows=recorded, recorded_warnings=warnings,
            key_fingerprint=session.key.fingerprint, step_sql=replay_engine.all_step_sql(),
            outputs=written, threads=session.threads(), engine=engine)))
        return {manifest.MANIFEST_NAME: made[0]}

    begin_finishing()
    outputs = write_outputs(out_dir, files, then=manifest_file)
    manifest_bytes = made[0]
    return loaded, result, outputs, manifest_bytes


def verify(manifest_path: Path | str, data_dir: Path | str, *,
           incident_path: Path | str | None = None,
           key_path: Path | str | None = None) -> manifest.VerifyResult:
    """Re-hash the inputs, re-run in a temporary place, and compare every output.

    The re-run uses the DuckDB engine whatever engine made the run: for a Spark run
    this is a cross-engine check (both engines produce the same bytes). It reads a local
    folder: a data directory URI (a Spark run's `--data s3a://...`) is refused (exit 64);
    copy the inputs to a local folder, keeping their paths, and verify from there.
    """
    if isinstance(data_dir, str) and is_uri(data_dir):
        raise UsageError(f"--data {data_dir}: verify re-runs with the DuckDB engine, which "
                         "reads a local folder; copy the inputs there (same relative paths) "
                         "and verify from it")
    data = Path(data_dir)
    manifest_file = Path(manifest_path)
    recorded = manifest.read(manifest_file)
    result = manifest.VerifyResult()
    if recorded.get("engine") == "spark":
        result.notes.append("the run used the Spark engine; it is re-run with the DuckDB "
                            "engine, which must give the same outputs")
    incident_file, key_file = _verify_inputs(recorded, data, incident_path, key_path, result)
    manifest.remove_stale_verify_folders()
    with tempfile.TemporaryDirectory(prefix=manifest.VERIFY_PREFIX) as temp:
        temp_dir = Path(temp)
        (temp_dir / manifest.VERIFY_OWNER).write_text(f"{os.getpid()}\n", encoding="ascii")
        # The key is read where it lies, never copied: a copy could outlive a killed verify.
        try:
            rerun = run(incident_file, data, temp_dir / "out",
                        db_path=temp_dir / "verify.duckdb", key_path=key_file)
        except (MissingInputError, BadDataError):
            if not result.changed_inputs:
                raise
            # The inputs changed so that the run cannot be repeated: that is the finding.
            result.notes.append("the run could not be repeated with the inputs as they are now")
            return result
        _compare_outputs(recorded, temp_dir / "out", manifest_file.parent, rerun, result)
    return result


def _verify_inputs(recorded: dict[str, Any], data: Path, incident_path: Path | str | None,
                   key_path: Path | str | None, result: manifest.VerifyResult
                   ) -> tuple[Path, Path]:
    """Note each input and the incident file that changed; the incident and key files."""
    for item in recorded["inputs"]:
        path = data / item["path"]
        if not path.is_file():
            result.changed_inputs.append(f"{item['path']}: missing")
        elif sha256_file(path) != item["sha256"]:
            result.changed_inputs.append(f"{item['path']}: content changed")
    incident_file = Path(incident_path or recorded["incident"]["path"] or "")
    if not incident_file.is_file():
        raise MissingInputError(f"{incident_file}: incident file not found (give --incident)")
    if sha256_file(incident_file) != recorded["incident"]["sha256"]:
        result.changed_inputs.append(f"{incident_file.name}: incident file changed")
    key_file = (Path(key_path) if key_path is not None else
                workspace.key_path_for(workspace.default_workspace_path(incident_file)))
    if not key_file.is_file():
        raise MissingInputError(f"{key_file}: key file not found (give --key)")
    if workspace.load_or_create_key(key_file, create=False).fingerprint != (
            recorded["key_fingerprint"]):
        result.notes.append("the key file is not the one the run used")
    return incident_file, key_file


def _compare_outputs(recorded: dict[str, Any], produced_dir: Path, out_dir: Path,
                     rerun: RunResult, result: manifest.VerifyResult) -> None:
    """Each output of the re-run against the manifest, and the run's own OUT against both."""
    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    for name, expected in sorted(recorded["outputs"].items()):
        produced = produced_dir / name
        if not produced.is_file():
            result.output_differences.append(f"{name}: not produced")
            continue
        if digest(produced) != expected["sha256"]:
            result.output_differences.append(f"{name}: differs")
        original = out_dir / name
        if not original.is_file():
            result.output_differences.append(f"{name}: missing from {out_dir}")
        elif digest(original) != expected["sha256"]:
            result.output_differences.append(f"{name}: changed since the run")
    if (out_dir / "report.json").is_file():
        try:
            figures = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            figures = {}
        result.figure_differences.extend(manifest.figure_differences(figures, rerun.report))


def history(incident_path: Path | str, *,
            db_path: Path | str | None = None) -> list[dict[str, object]]:
    """Every recorded run of the workspace, oldest first (GDPR Art. 33(5) documentation)."""
    with open_workspace(incident_path, db_path, read_only=True) as (_incident, con, _db):
        rows = con.execute(
            "SELECT run_id, kind, started_at, finished_at, incident_sha256, manifest_sha256, "
            "affected_lower, affected_estimate, affected_upper FROM runs "
            "ORDER BY started_at, run_id").fetchall()
    names = ("run_id", "kind", "started_at", "finished_at", "incident_sha256",
             "manifest_sha256", "affected_lower", "affected_estimate", "affected_upper")
    return [dict(zip(names, row, strict=True)) for row in rows]


def status(incident_path: Path | str, *, db_path: Path | str | None = None) -> dict[str, object]:
    """What a workspace holds (counts, snapshots, log range, rejects, key fingerprint)."""
    from incidentscope.status import workspace_status

    with open_workspace(incident_path, db_path, read_only=True) as (incident, con, _db):
        return workspace_status(con, incident)


def follow_up(incident_path: Path | str, previous_manifest: Path | str, result: ReplayResult,
              *, db_path: Path | str | None = None) -> diff.FollowUp:
    """What changed since the run of `previous_manifest` (its notification) to `result`:
    figures, the workspace's loaded input files, the incident file, the tool (read-only)."""
    with open_workspace(incident_path, db_path, read_only=True) as (incident, con, _db):
        inputs = [{"table": table, "path": path, "sha256": sha} for table, path, sha in
                  con.execute("SELECT table_name, path, file_sha256 FROM files "
                              "ORDER BY 1, 2, 3").fetchall()]
    return diff.follow_up(Path(previous_manifest), result.report, inputs,
                          manifest.incident_content(incident), manifest.tool_versions())


def diff_runs(manifest_a: Path | str, manifest_b: Path | str) -> diff.RunDiff:
    """Two runs side by side: every report.json figure, inputs, incident file, tool."""
    return diff.diff_runs(Path(manifest_a), Path(manifest_b))


def evidence(incident_path: Path | str, out_dir: Path | str, *, seed: int = 2019,
             per_stratum: int = 20, db_path: Path | str | None = None,
             threads: int | None = None) -> tuple[Path, ...]:
    """Write the evidence pack (evidence.json, evidence.md) into `out_dir` (read-only on
    the workspace); the same workspace, seed and incident file give the same bytes."""
    from incidentscope import evidence as evidence_pack
    from incidentscope.report import evidence_text

    with workspace.private_files(), open_workspace(
            incident_path, db_path, read_only=True, threads=threads) as (incident, con, _db):
        pack = evidence_pack.build(con, incident, seed=seed, per_stratum=per_stratum)
    files = {"evidence.json": (json.dumps(evidence_pack.as_json(pack), indent=2,
                                          ensure_ascii=False) + "\n").encode("utf-8"),
             "evidence.md": evidence_text.render(pack).encode("utf-8")}
    return write_outputs(Path(out_dir), files)


# The investigation tools (docs/investigation.md): read-only views of a loaded workspace.


def explain(incident_path: Path | str, account_id: int, *,
            db_path: Path | str | None = None) -> results.AccountExplanation:
    """The evidence for one account under the incident file's parameters (read-only)."""
    with open_workspace(incident_path, db_path, read_only=True) as (incident, con, _db):
        return investigate.explain(con, incident, account_id)


def lookup(incident_path: Path | str, channel: str, value: str, *, country: str | None = None,
           db_path: Path | str | None = None, accounts: Sequence[int] = (),
           all_accounts: bool = False) -> results.LookupResult:
    """Who held a contact, and the evidence; `value` is hashed at once, never kept (read-only).

    `accounts`: the requester's account(s); other accounts that held the contact are shown
    only with `all_accounts` (GDPR Art. 15(4)), or when one account alone held it.
    """
    with open_workspace(incident_path, db_path, read_only=True) as (incident, con, db):
        key = workspace.load_or_create_key(workspace.key_path_for(db), create=False, con=con)
        return investigate.lookup(con, incident, key, channel, value, country,
                                  accounts=accounts, all_accounts=all_accounts)


def what_if(incident_path: Path | str, variants: list[dict[str, object]], *,
            db_path: Path | str | None = None) -> results.WhatIfResult:
    """Replay under alternative parameters beside the incident file's own run (read-only)."""
    with open_workspace(incident_path, db_path, read_only=True) as (incident, con, _db):
        return investigate.what_if(con, incident, variants)
