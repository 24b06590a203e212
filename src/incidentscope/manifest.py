"""The run manifest (OUT/manifest.json): how a number was obtained, provably.

Between two runs on the same inputs, incident file and key, only `run_id`,
`started_at`, `finished_at` and the host description may differ; every output
file's hash must be equal. `api.verify` checks that with what this module provides:
`read`, `VerifyResult`, `figure_differences` and the temporary folders' bookkeeping.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from incidentscope import __version__
from incidentscope.config import Incident
from incidentscope.errors import BadDataError, MissingInputError
from incidentscope.results import LoadResult

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
# Fields that legitimately differ between two identical runs.
VOLATILE_FIELDS = ("run_id", "started_at", "finished_at", "host")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def git_revision() -> str | None:
    """The source checkout's commit, when incidentscope runs from one."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def incident_content(incident: Incident) -> dict[str, Any]:
    """The incident file as incidentscope understood it (defaults filled in)."""
    return {
        "id": incident.id,
        "title": incident.title,
        "window_start": incident.window_start.isoformat() + "Z" if incident.window_start else None,
        "fix_at": incident.fix_at.isoformat() + "Z",
        "restricted_purposes": list(incident.restricted_purposes),
        "audience_types": list(incident.audience_types),
        "input_timezone": incident.input_timezone,
        "normalization": incident.normalization,
        "min_cell": incident.min_cell,
        "notification": incident.notification.as_dict(),
        "inputs": {name: {"path": o.path, "columns": o.columns}
                   for name, o in sorted(incident.inputs.items())},
    }


def tool_versions(engine: str = "duckdb") -> dict[str, Any]:
    """The manifest's `incidentscope`, `engine` and `versions` entries for this process."""
    versions = {
        "python": platform.python_version(),
        "duckdb": _version("duckdb"),
        "polars": _version("polars"),
        "phonenumbers": _version("phonenumbers"),
    }
    if engine == "spark":
        versions.update(pyspark=_version("pyspark"), sqlglot=_version("sqlglot"))
    return {"incidentscope": {"version": __version__, "git_revision": git_revision()},
            "engine": engine, "versions": versions}


def build(
    *,
    run_id: str,
    started: datetime,
    finished: datetime,
    incident: Incident,
    load: LoadResult,
    recorded_rows: dict[str, tuple[int, int]],
    recorded_warnings: dict[str, list[str]],
    key_fingerprint: str,
    step_sql: dict[str, str],
    outputs: Mapping[str, tuple[str, int]],
    threads: int | None,
    engine: str = "duckdb",
) -> dict[str, Any]:
    incident_bytes = incident.source_path.read_bytes() if incident.source_path else b""
    return {
        "manifest_version": MANIFEST_VERSION,
        "run_id": run_id,
        "started_at": started.isoformat() + "Z",
        "finished_at": finished.isoformat() + "Z",
        **tool_versions(engine),
        "host": {
            "platform": platform.platform(),
            "threads": threads,
            "cpu_count": os.cpu_count(),
            "tz_environment": os.environ.get("TZ"),
            "engine_time_zone": "UTC",
        },
        "incident": {
            "path": str(incident.source_path.resolve()) if incident.source_path else None,
            "sha256": hashlib.sha256(incident_bytes).hexdigest(),
            "content": incident_content(incident),
        },
        "inputs": [
            {"table": f.table, "path": f.path, "sha256": f.sha256, "bytes": f.bytes,
             "rows_loaded": recorded_rows.get(f.sha256, (0, 0))[0],
             "rows_rejected": recorded_rows.get(f.sha256, (0, 0))[1],
             "warnings": recorded_warnings.get(f.sha256, [])}
            for f in sorted(load.files, key=lambda f: (f.table, f.path))
        ],
        # data files in the data folder that no input table reads (not hashed, not read)
        "unknown_files": list(load.unknown_files),
        "key_fingerprint": key_fingerprint,
        "replay_steps": {name: hashlib.sha256(sql.encode("utf-8")).hexdigest()
                         for name, sql in sorted(step_sql.items())},
        # (sha256, size) of each output, as written (outdir.Written)
        "outputs": {name: {"sha256": sha256, "bytes": size}
                    for name, (sha256, size) in sorted(outputs.items())},
    }


def render(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass(frozen=True)
class VerifyResult:
    changed_inputs: list[str] = field(default_factory=list)
    output_differences: list[str] = field(default_factory=list)
    figure_differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def match(self) -> bool:
        return not (self.changed_inputs or self.output_differences or self.figure_differences)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested JSON objects as one level of dotted keys (lists and scalars are leaves)."""
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def figure_differences(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Each report.json figure whose value differs, by its dotted key (counts only)."""
    left, right = flatten(expected), flatten(actual)
    return [f"{key}: {left.get(key)!r} -> {right.get(key)!r}"
            for key in sorted(set(left) | set(right)) if left.get(key) != right.get(key)]


def read(manifest_path: Path) -> dict[str, Any]:
    if not manifest_path.is_file():
        raise MissingInputError(f"{manifest_path}: manifest not found")
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadDataError(f"{manifest_path}: not a manifest (invalid JSON)") from None
    if not isinstance(data, dict) or data.get("manifest_version") != MANIFEST_VERSION:
        raise BadDataError(f"{manifest_path}: not an incidentscope manifest of version "
                           f"{MANIFEST_VERSION}")
    return data


VERIFY_PREFIX = "incidentscope-verify-"
VERIFY_OWNER = "owner.pid"  # the verifying process, so that a later one can tell stale folders


def remove_stale_verify_folders(temp_dir: Path | None = None) -> None:
    """Remove temporary folders of verifications whose process is gone (killed with -9).

    SIGINT, SIGTERM and SIGHUP unwind a verification, which removes its folder; only a
    kill leaves one behind, with a copy of the workspace (pseudonyms, never the key).
    `temp_dir`: where to look (default: the temporary folder, TMPDIR).
    """
    for folder in Path(temp_dir or tempfile.gettempdir()).glob(f"{VERIFY_PREFIX}*"):
        try:
            if not folder.is_dir() or folder.is_symlink() or folder.stat().st_uid != os.getuid():
                continue
            pid = int((folder / VERIFY_OWNER).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            continue  # not ours, or its owner has not written the file yet
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return True
