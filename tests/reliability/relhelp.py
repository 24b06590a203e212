"""Shared helpers of the reliability suite: figures, the command line, the PII canary."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from workspace_fixtures import (
    CANARY_EMAIL,
    CANARY_EMAIL_NORMALIZED,
    CANARY_PHONE,
    CANARY_PHONE_NORMALIZED,
    query,
)

LONG = os.environ.get("INCIDENTSCOPE_LONG", "") not in ("", "0")


@dataclass
class Figure:
    """What one case tried and what went wrong (the last three must stay zero)."""

    case: str
    tried: int = 0
    crashes: int = 0
    rows_lost: int = 0
    canary_hits: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"case": self.case, "tried": self.tried, "crashes": self.crashes,
                "rows_lost": self.rows_lost, "canary_hits": self.canary_hits,
                "notes": sorted(set(self.notes))}

    def check(self) -> None:
        assert (self.crashes, self.rows_lost, self.canary_hits) == (0, 0, 0), self.notes[:5]


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k != "INCIDENTSCOPE_FIGURES"}
    return {**base, "COLUMNS": "80", "NO_COLOR": "1", "TZ": "UTC", **extra}


def cli(*args: str, extra_env: dict[str, str] | None = None, umask: int | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    """`python -m incidentscope ARGS` as a user runs it (bytes, to scan them as they are)."""
    def preexec() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run([sys.executable, "-m", "incidentscope", *args], capture_output=True,
                          env=env(**(extra_env or {})), timeout=timeout,
                          preexec_fn=preexec if umask is not None else None)


# -- the PII canary ------------------------------------------------------------------------
def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


CANARY_VALUES = (CANARY_EMAIL, CANARY_EMAIL_NORMALIZED, CANARY_PHONE, CANARY_PHONE_NORMALIZED,
                 "+1 201 555 0123", "2015550123")
CANARY_NEEDLES: tuple[bytes, ...] = tuple(sorted({
    *(v.encode() for v in CANARY_VALUES),
    *(v.lower().encode() for v in CANARY_VALUES),
    *(sha(v).encode() for v in CANARY_VALUES),
    *(sha(v).upper().encode() for v in CANARY_VALUES),
    *(bytes.fromhex(sha(v)) for v in CANARY_VALUES),  # the digest as raw bytes too
    b"Canary.Person", b"canary.person",
}))


def canary_hits_in(blob: bytes) -> list[str]:
    return [needle[:24].decode("latin-1") for needle in CANARY_NEEDLES if needle in blob]


def canary_hits_under(root: Path, skip: tuple[Path, ...] = ()) -> list[str]:
    """Canary values in any file under root (workspace, WAL, temp dirs, reports, ...)."""
    hits = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or any(path == s or s in path.parents for s in skip):
            continue
        for hit in canary_hits_in(path.read_bytes()):
            hits.append(f"{path.relative_to(root)}: {hit}")
    return hits


def canary_hits_in_tables(db: Path) -> list[str]:
    """Canary values in any text column of the workspace, decompressed by DuckDB itself."""
    con = duckdb.connect(str(db), read_only=True)
    hits = []
    try:
        columns = con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal "
            "AND data_type IN ('VARCHAR', 'BLOB')").fetchall()
        for table, column in columns:
            text = "\n".join(str(r[0]) for r in con.execute(
                f'SELECT "{column}" FROM "{table}"').fetchall()).encode()
            hits.extend(f"{table}.{column}: {h}" for h in canary_hits_in(text))
    finally:
        con.close()
    return hits


# -- counting rows independently of incidentscope ------------------------------------------
def csv_data_rows(path: Path) -> int:
    """Data records of a CSV file by Python's csv module (header and blank lines excluded)."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    return max(sum(1 for row in csv.reader(io.StringIO(text, newline="")) if row) - 1, 0)


def table_counts(db: Path) -> dict[str, int]:
    names = ["accounts", "audiences", "campaigns", "campaign_audiences", "snapshots",
             "contact_runs", "identifiers", "matches", "deliveries", "files", "rejects",
             "purpose_sets"]
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {n: int(con.execute(f"SELECT count(*) FROM {n}").fetchall()[0][0])
                for n in names}
    finally:
        con.close()


def file_rows(db: Path) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(table, path) -> (rows_read, rows_loaded, rows_rejected) as the workspace records."""
    return {(str(t), str(p)): (int(a), int(b), int(c)) for t, p, a, b, c in query(
        db, "SELECT table_name, path, rows_read, rows_loaded, rows_rejected FROM files")}


def generate_scenario(root: Path, accounts: int = 300, every: str = "30d",
                      seed: int = 3) -> tuple[Path, Path]:
    done = cli("generate", str(root), "--accounts", str(accounts), "--seed", str(seed),
               "--snapshot-every", every)
    assert done.returncode == 0, done.stderr
    return root / "incident.toml", root / "data"
