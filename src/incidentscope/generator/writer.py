"""Chunked, deterministic table writers (CSV or Parquet)."""

from __future__ import annotations

from pathlib import Path
from typing import IO

import polars as pl
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]

TS = pa.timestamp("us", tz="UTC")
TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class TableWriter:
    """Appends frames to one file. CSV columns are written as given (strings, so malformed
    values fit); Parquet columns are cast to `schema`. No wall-clock metadata is written."""

    def __init__(self, path: Path, file_format: str, schema: pa.Schema) -> None:
        self.path = path
        self.file_format = file_format
        self.schema = schema
        self.rows = 0
        self._header_written = False
        self._csv: IO[bytes] | None = None
        self._parquet: pq.ParquetWriter | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        if file_format == "csv":
            self._csv = path.open("wb")
        else:
            self._parquet = pq.ParquetWriter(
                str(path), schema, compression="zstd", compression_level=3,
                use_dictionary=True, write_statistics=True)

    def write(self, frame: pl.DataFrame) -> None:
        if frame.height == 0:
            return
        self.rows += frame.height
        if self._csv is not None:
            frame.write_csv(self._csv, include_header=not self._header_written,
                            datetime_format=TS_FORMAT)
            self._header_written = True
        elif self._parquet is not None:
            table = frame.to_arrow().cast(self.schema)
            self._parquet.write_table(table, row_group_size=1_000_000)

    def close(self) -> None:
        if self._csv is not None:
            if not self._header_written:
                self._csv.write((",".join(self.schema.names) + "\n").encode())
            self._csv.close()
            self._csv = None
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None


def write_table(path: Path, file_format: str, schema: pa.Schema, frame: pl.DataFrame) -> int:
    writer = TableWriter(path, file_format, schema)
    writer.write(frame)
    writer.close()
    return writer.rows
