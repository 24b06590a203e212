"""The command line's option types, value checks and output helpers (cli.py's commands).

typer and rich are imported here and in cli.py only (tests/hygiene/test_imports.py).
"""

from __future__ import annotations

import json
import re
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer


class Format(StrEnum):
    table = "table"
    json = "json"
    md = "md"


class EngineName(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


IncidentArg = Annotated[Path, typer.Argument(help="The incident file (incident.toml).")]
# Strings, not Paths: Path("s3a://bucket/x") would collapse the "//" of a URI.
DataOpt = Annotated[str, typer.Option("--data", help="Folder with the input files.")]
RunDataOpt = Annotated[str, typer.Option(
    "--data", help="Folder with the input files; with --engine spark also a URI "
    "(hdfs://, s3a://, abfss://, gs://, file://...).")]
DbOpt = Annotated[
    Path | None,
    typer.Option("--db", help="Workspace file (default: beside the incident file)."),
]
FormatOpt = Annotated[Format, typer.Option("--format", help="table, json or md.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")]


class InvalidOption(typer.BadParameter):
    """An option value out of its range; the message names the range, never the value."""


MAX_THREADS = 1024
_SIZE = re.compile(r"\s*([0-9]{1,15}(?:\.[0-9]{1,6})?)\s*([KMGT])(i?B)?\s*", re.IGNORECASE)
MEMORY_RANGE = (10**6, 10**15)  # 1MB to 1000TB


def _memory_limit(value: str | None) -> str | None:
    """--memory-limit: a size such as 4GB or 512MiB, from 1MB to 1000TB, as DuckDB reads it."""
    if value is None:
        return None
    match = _SIZE.fullmatch(value)
    if match is None:
        raise InvalidOption("a size such as 4GB or 512MiB (units KB, MB, GB, TB, KiB, MiB, "
                            "GiB, TiB)")
    number, prefix, suffix = match.group(1), match.group(2).upper(), (match.group(3) or "B")
    base = 1024 if suffix.lower() == "ib" else 1000
    size = float(number) * base ** ("KMGT".index(prefix) + 1)
    if not MEMORY_RANGE[0] <= size <= MEMORY_RANGE[1]:
        raise InvalidOption("from 1MB to 1000TB")
    return f"{number}{prefix}{'iB' if base == 1024 else 'B'}"


ThreadsOpt = Annotated[int | None, typer.Option(
    "--threads", min=1, max=MAX_THREADS,
    help="DuckDB threads (default: one per core).")]
MemoryOpt = Annotated[
    str | None, typer.Option("--memory-limit", callback=_memory_limit,
                             help="DuckDB memory limit, 1MB to 1000TB, e.g. 4GB (default: "
                                  "3GB, or 60% of memory if less; DuckDB spills beyond it).")
]


def _days(value: str) -> str:
    """--snapshot-every: 1d to 3650d."""
    match = re.fullmatch(r"([0-9]{1,4})d", value)
    if match is None or not 1 <= int(match.group(1)) <= 3650:
        raise InvalidOption("a number of days from 1d to 3650d, such as 7d")
    return value


def _folder(value: Path | None) -> Path | None:
    """A folder to write into: a folder, or a path where one can be made; not a file, nor
    a path under a file."""
    if value is None:
        return None
    for path in (value, *value.parents):
        if path.is_symlink() or path.exists():
            if not path.is_dir():
                raise InvalidOption("a folder to write into; this path is a file"
                                    if path == value else "a folder to write into; this "
                                    "path lies under a file")
            break
    return value


def _file_format(value: str) -> str:
    if value not in ("csv", "parquet"):
        raise InvalidOption("csv or parquet")
    return value


def _stdout() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False, width=80 if not sys.stdout.isatty() else None)


def _progress(quiet: bool) -> Any:
    if quiet:
        return None
    from rich.console import Console
    from rich.text import Text

    from incidentscope.report.document import printable

    # A message names files: plain text (never markup), control characters escaped, and
    # never wrapped (soft_wrap), also when stderr is a log file or CI (80 columns).
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    return lambda message: console.print(Text(printable(str(message)), style="dim"))


def _local_data(data: str) -> Path:
    """--data for the DuckDB engine: a local folder; a URI is refused (exit 64)."""
    from incidentscope.errors import UsageError
    from incidentscope.inputs import is_uri

    if is_uri(data):
        raise UsageError(f"--data {data}: a URI is read with --engine spark only; the DuckDB "
                         "engine reads a local folder")
    return Path(data)


def _warn(notes: list[str]) -> None:
    """Load warnings go to stderr whatever the output format or --quiet: a misspelled optional
    column, say, changes the figures, so no command may let it pass unseen."""
    for note in notes:
        sys.stderr.write(f"warning: {note}\n")


def _line(value: object) -> str:
    """A path or message as one line of a log: control characters shown as escapes."""
    from incidentscope.report.document import printable

    return printable(str(value))


def _emit_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
