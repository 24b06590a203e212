"""`incidentscope run --engine spark`: load, replay and report on Apache Spark.

The same steps as `api.run`, on a SparkSession: the Spark ingest registers the
input tables as temp views, the replay's SQL runs transpiled (spark/engine.py),
and the result object goes through the same renderers and manifest. The
pseudonym key is the workspace's key file (beside the incident file, or the
`--db` path's), so both engines make the same pseudonyms from the same key.

A Spark run writes no workspace: nothing is persisted for `explain`/`lookup`
and the run is not added to `history` (the manifest records it).

`data_dir` is a local folder or a URI (hdfs://, s3a://, abfss://, gs://, file://, ...):
the files at a URI are found, hashed and read through Spark (spark/files.py).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from incidentscope import api, manifest, workspace
from incidentscope import replay as replay_engine
from incidentscope.config import load_incident
from incidentscope.errors import UsageError
from incidentscope.outdir import write_outputs
from incidentscope.report.outputs import render_all
from incidentscope.spark import INSTALL_HINT, session


def require_spark() -> None:
    """Refuse with the install hint (exit 64) when PySpark or sqlglot is missing."""
    try:
        import pyspark  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError:
        raise UsageError(INSTALL_HINT) from None


def resolve_key(db: Path) -> workspace.PseudonymKey:
    """The workspace's key, exactly as a DuckDB run resolves it (created when missing)."""
    key_path = workspace.key_path_for(db)
    if not key_path.exists() and db.exists():
        # A workspace that recorded a key refuses a new one: check it, read-only.
        con = workspace.connect(db, read_only=True)
        try:
            return workspace.load_or_create_key(key_path, create=True, con=con)
        finally:
            con.close()
    return workspace.load_or_create_key(key_path, create=True)


def _start(master: str | None) -> Any:
    try:
        return session(master)
    except UsageError:
        raise
    except Exception:  # the JVM did not start, or the master is unreachable
        raise UsageError("cannot start a Spark session: is Java 17 or newer installed, and is "
                         "the --spark-master URL right?") from None


def run_spark(
    incident_path: Path | str,
    data_dir: Path | str,
    out_dir: Path | str,
    *,
    master: str | None = None,
    progress: api.Progress | None = None,
    db_path: Path | str | None = None,
    strict: bool = False,
    spark: Any = None,
) -> api.RunResult:
    """Load, replay and write the reports into `out_dir`, on Spark.

    `data_dir`: a local folder, or a URI string read through Spark; `master`: a Spark
    master URL, a Spark Connect URL (sc://host:15002), or None for local[2]; `spark`: an
    existing SparkSession to use instead (tests, notebooks).
    """
    require_spark()
    from incidentscope.spark import ingest as spark_ingest
    from incidentscope.spark.engine import SparkEngine
    from incidentscope.spark.files import is_uri

    started = api._now()
    run_id = started.strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]
    incident = load_incident(Path(incident_path))
    db = api.resolve_db(Path(incident_path), Path(db_path) if db_path else None)
    data = data_dir if is_uri(data_dir) else Path(data_dir)  # a URI stays a string
    api.check_run_out(Path(out_dir), data, Path(incident_path), db)
    with workspace.private_files():
        key = resolve_key(db)
        spark = spark if spark is not None else _start(master)
        engine = SparkEngine(spark)
        loaded = spark_ingest.load(spark, incident, data, key, strict=strict,
                                   progress=progress)
        result = replay_engine.replay(engine, incident, progress=progress, persist=False)
        files = render_all(result, incident)
        recorded = {str(sha): (int(ok), int(bad)) for sha, ok, bad in engine.rows(
            "SELECT file_sha256, rows_loaded, rows_rejected FROM files")}
        warnings: dict[str, list[str]] = {}
        for sha, note in engine.rows("SELECT file_sha256, warning FROM load_warnings "
                                     "ORDER BY file_sha256, warning"):
            warnings.setdefault(str(sha), []).append(str(note))
        run_manifest = manifest.build(
            run_id=run_id, started=started, finished=api._now(), incident=incident,
            load=loaded, recorded_rows=recorded, recorded_warnings=warnings,
            key_fingerprint=key.fingerprint,
            step_sql=replay_engine.all_step_sql(), outputs=files, threads=None,
            engine="spark")
        with api._finishing() as begin_finishing:
            begin_finishing()
            outputs = write_outputs(Path(out_dir), {
                **files, manifest.MANIFEST_NAME: manifest.render(run_manifest)})
    return api.RunResult(run_id, loaded, result, Path(out_dir), outputs)
