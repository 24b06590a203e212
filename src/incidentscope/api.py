"""The Python API: what the command line does, for notebooks and tests.

    from incidentscope.api import run
    result = run("incident.toml", "data/", "out/")
    result.report["affected_accounts"]
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from incidentscope import diff, ingest, investigate, manifest, workspace
from incidentscope import replay as replay_engine
from incidentscope.config import Incident, load_incident
from incidentscope.errors import OUT_OF_MEMORY_HINT, OutOfMemoryError, StorageError
from incidentscope.report import json_report
from incidentscope.report.outputs import render_all
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


def _out_of_memory() -> OutOfMemoryError:
    return OutOfMemoryError(f"out of memory within DuckDB's memory limit; {OUT_OF_MEMORY_HINT}")


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
    except duckdb.OutOfMemoryException:
        # A replay or report query that needs more than DuckDB's limit, even spilling.
        # (The load says so itself, adding that it left the workspace unchanged.)
        raise _out_of_memory() from None
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
) -> LoadResult:
    """Load the input files of `data_dir` into the workspace (created when missing)."""
    with workspace.private_files(), open_workspace(
        incident_path, db_path, create=True, threads=threads, memory_limit=memory_limit
    ) as (incident, con, db):
        key = workspace.load_or_create_key(workspace.key_path_for(db), create=True, con=con)
        return ingest.load(con, incident, Path(data_dir), key, strict=strict, progress=progress)


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
    previous: list[object] = []

    def begin() -> None:
        if threading.current_thread() is threading.main_thread() and not previous:
            previous.append(signal.signal(signal.SIGINT, signal.SIG_IGN))

    try:
        yield begin
    finally:
        if previous:
            signal.signal(signal.SIGINT, previous[0])  # type: ignore[arg-type]


def write_outputs(out_dir: Path, files: dict[str, bytes]) -> tuple[Path, ...]:
    """Write every output under a temporary name, then rename: nothing half-written in OUT."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(".incidentscope-*.partial"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    staging = out_dir / f".incidentscope-{uuid.uuid4().hex}.partial"
    staging.mkdir()
    written = []
    try:
        for name, content in files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
        for name in files:
            final = out_dir / name
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, final)
            written.append(final)
    except OSError as exc:
        raise StorageError(f"{out_dir}: cannot write the reports ({exc.strerror})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tuple(written)


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
) -> RunResult:
    """Load, replay and write the reports into `out_dir`."""
    started = _now()
    run_id = started.strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]
    with _finishing() as begin_finishing, workspace.private_files(), open_workspace(
        incident_path, db_path, create=True, threads=threads, memory_limit=memory_limit
    ) as (incident, con, db):
        key = workspace.load_or_create_key(workspace.key_path_for(db), create=True, con=con)
        loaded = ingest.load(con, incident, Path(data_dir), key, strict=strict,
                             progress=progress)
        result = replay_engine.replay(con, incident, progress=progress)
        files = render_all(result, incident)
        recorded = {str(sha): (int(ok), int(bad)) for sha, ok, bad in con.execute(
            "SELECT file_sha256, rows_loaded, rows_rejected FROM files").fetchall()}
        run_manifest = manifest.build(
            run_id=run_id, started=started, finished=_now(), incident=incident, load=loaded,
            recorded_rows=recorded, key_fingerprint=key.fingerprint,
            step_sql=replay_engine.all_step_sql(), outputs=files,
            threads=int(con.execute("SELECT current_setting('threads')").fetchall()[0][0]))
        manifest_bytes = manifest.render(run_manifest)
        begin_finishing()
        outputs = write_outputs(Path(out_dir), {**files, manifest.MANIFEST_NAME: manifest_bytes})
        _record_run(con, run_id, "run", started, incident, result,
                    hashlib.sha256(manifest_bytes).hexdigest())
    return RunResult(run_id, loaded, result, Path(out_dir), outputs)


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
    import json

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
            db_path: Path | str | None = None) -> investigate.AccountExplanation:
    """The evidence for one account under the incident file's parameters (read-only)."""
    with open_workspace(incident_path, db_path, read_only=True) as (incident, con, _db):
        return investigate.explain(con, incident, account_id)


def lookup(incident_path: Path | str, channel: str, value: str, *, country: str | None = None,
           db_path: Path | str | None = None, accounts: Sequence[int] = (),
           all_accounts: bool = False) -> investigate.LookupResult:
    """Who held a contact, and the evidence; `value` is hashed at once, never kept (read-only).

    `accounts`: the requester's account(s); other accounts that held the contact are shown
    only with `all_accounts` (GDPR Art. 15(4)), or when one account alone held it.
    """
    with open_workspace(incident_path, db_path, read_only=True) as (incident, con, db):
        key = workspace.load_or_create_key(workspace.key_path_for(db), create=False, con=con)
        return investigate.lookup(con, incident, key, channel, value, country,
                                  accounts=accounts, all_accounts=all_accounts)


def what_if(incident_path: Path | str, variants: list[dict[str, object]], *,
            db_path: Path | str | None = None) -> investigate.WhatIfResult:
    """Replay under alternative parameters beside the incident file's own run (read-only)."""
    with open_workspace(incident_path, db_path, read_only=True) as (incident, con, _db):
        return investigate.what_if(con, incident, variants)
