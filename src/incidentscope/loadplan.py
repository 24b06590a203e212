"""What a load decides before it reads a row, the same for every engine.

How a file's header maps to its table's contract, which file-level faults refuse a
file (a required column missing, a name twice in the header, a Parquet column whose
type no contract column can take), and which date a snapshot file takes from its
name; and the `--strict` refusal. The DuckDB loader (ingest.py) and the Spark loader
(spark/ingest.py) read files in their own ways; they plan them here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from incidentscope.config import Incident
from incidentscope.contract import TABLES
from incidentscope.errors import BadDataError
from incidentscope.inputs import InputFile

# What kind of value a typed (Parquet) column holds, as far as the contract cares: every
# contract column is a scalar that text can carry; a list, struct, map or union would be
# read as its text form ("[two_factor]") and bytes as escapes, both silently wrong.
TypeFamily = Literal["scalar", "nested", "binary"]


def duckdb_type_family(type_name: str) -> TypeFamily:
    """The family of a DuckDB type name as DESCRIBE prints it (VARCHAR[], STRUCT(...), ...)."""
    name = type_name.strip().upper()
    if name.endswith("]") or name.startswith(("STRUCT", "MAP", "UNION")):
        return "nested"
    if name in ("BLOB", "BIT", "BYTEA", "VARBINARY"):
        return "binary"
    return "scalar"


_FAMILY_TEXT = {"nested": "a list, struct, map or union", "binary": "binary"}


def renames(incident: Incident, table: str) -> dict[str, str]:
    """contract column -> the file's column name, from `[inputs.TABLE].columns`."""
    mapping = incident.inputs.get(table)
    return dict(mapping.columns) if mapping else {}


@dataclass(frozen=True)
class ColumnMap:
    """How one file's columns map to its table's contract."""

    position: dict[str, int]  # contract column -> index in the file's header
    extra: tuple[str, ...]  # header names no contract column uses (reported once)
    snapshot_from_name: str | None  # a contacts file's date, when only its name gives it


def snapshot_date_from_name(incident: Incident, item: InputFile,
                            header: Sequence[str] | None) -> str | None:
    """The snapshot date a contacts file takes from its name (it has no date column)."""
    if item.table != "contacts" or item.date_in_name is None:
        return None
    wanted = renames(incident, "contacts").get("snapshot_date", "snapshot_date")
    if header is not None and wanted in header:
        return None
    return item.date_in_name


def map_columns(item: InputFile, header: Sequence[str], incident: Incident,
                families: Sequence[TypeFamily] | None = None) -> ColumnMap:
    """Map a file's header to its table's contract, or refuse the file (BadDataError).

    `families`: the type family of each column of a typed (Parquet) file; None for CSV.
    Messages name the file and the column, never a value.
    """
    table = TABLES[item.table]
    names = renames(incident, item.table)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise BadDataError(f"{item.display}: column '{name}' appears twice in the header")
        seen.add(name)
    position: dict[str, int] = {}
    for column in table.columns:
        wanted = names.get(column.name, column.name)
        if wanted in header:
            position[column.name] = list(header).index(wanted)
    if families is not None:
        for column_name, index in position.items():
            if families[index] != "scalar":
                raise BadDataError(
                    f"{item.display}: column '{header[index]}' holds "
                    f"{_FAMILY_TEXT[families[index]]} values; the contract's "
                    f"'{column_name}' needs a single value per row")
    used = {header[i] for i in position.values()}
    extra = tuple(sorted({name for name in header if name not in used}))
    snapshot_from_name: str | None = None
    for column in table.columns:
        if column.name in position or not column.required:
            continue
        if column.name == "snapshot_date" and item.date_in_name:
            snapshot_from_name = item.date_in_name
            continue
        wanted = names.get(column.name, column.name)
        raise BadDataError(f"{item.display}: required column '{wanted}' is missing")
    if item.table == "contacts" and "contact" not in position and (
            "contact_sha256" not in position):
        raise BadDataError(f"{item.display}: needs a column 'contact' or 'contact_sha256'")
    return ColumnMap(position, extra, snapshot_from_name)


def strict_refusal(rejected: int, first: Sequence[object] | None) -> BadDataError:
    """`--strict` with rejected rows: nothing is loaded. `first`: the first reject by path,
    then line (path, line, column, reason), named in the message (never a value)."""
    where = ""
    if first:
        where = f" (first: {first[0]} line {first[1]}, column {first[2]}: {first[3]})"
    return BadDataError(f"--strict: {rejected} rows rejected{where}; nothing was loaded")
