"""The output folder (OUT): checked before anything is read, written all at once, locked.

A run must never write over one of its own inputs, fail half-way because OUT cannot
be a folder, or let two runs into one OUT remove each other's staging folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple, Protocol

from incidentscope.errors import StorageError, UsageError, WorkspaceInUseError, storage_cause


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_out_dir(out_dir: Path, top_level_names: Iterable[str], inputs: Iterable[Path],
                  option: str = "--out") -> None:
    """Refuse an OUT that is not a usable folder or that overlaps an input, before anything
    is read or written.

    `inputs`: the data folder, the incident file, the workspace and its key. OUT may not be
    an input, lie inside the data folder, or hold an input under a name the run writes
    (`top_level_names`). Exit 64 for a wrong OUT, 74 for one that cannot be written.
    """
    out = Path(os.path.abspath(out_dir))
    if out.exists() and not out.is_dir():
        raise UsageError(f"{option} {out_dir}: is a file, not a folder")
    existing = out
    while not existing.exists():
        if existing.is_symlink():  # a dangling link: mkdir would fail
            raise UsageError(f"{option} {out_dir}: leads through a broken symbolic link")
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{option} {out_dir}: a part of the path is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise StorageError(f"{option} {out_dir}: no permission to write there")
    real_out = Path(os.path.realpath(out))
    names = set(top_level_names)
    for given in inputs:
        source = Path(os.path.realpath(given))
        if _inside(real_out, source) and source.is_dir():
            raise UsageError(f"{option} {out_dir}: inside the input folder {given}; choose a "
                             "folder outside the inputs")
        if _inside(source, real_out):
            first = source.relative_to(real_out).parts[:1]
            if not first or first[0] in names:
                raise UsageError(f"{option} {out_dir}: the run would write over the input "
                                 f"{given}; choose another folder")


@contextlib.contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    """Hold OUT's lock (an advisory lock on the folder itself: no file left behind)."""
    fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WorkspaceInUseError(f"{out_dir}: another run is writing into this folder; "
                                      "try again when it ends") from None
        yield
    finally:
        os.close(fd)  # releases the lock


class ByteSink(Protocol):
    def write(self, data: bytes, /) -> int: ...


# A file's content: its bytes, or a function that writes them into a sink. The Art. 34
# notices (a gigabyte of text at scale M) are written so, part by part, never held whole.
Content = bytes | Callable[[ByteSink], None]


class Written(NamedTuple):
    """What a written file holds, for the manifest."""
    sha256: str
    size: int


def as_bytes(content: Content) -> bytes:
    """A content's bytes, in memory (tests, profiles, a single file)."""
    if isinstance(content, bytes):
        return content
    buffer = io.BytesIO()
    content(buffer)
    return buffer.getvalue()


class _HashingFile:
    """The staging file, hashed as it is written."""

    def __init__(self, handle: io.BufferedWriter) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)


def write_outputs(out_dir: Path, files: Mapping[str, Content],
                  then: Callable[[Mapping[str, Written]], Mapping[str, bytes]] | None = None
                  ) -> tuple[Path, ...]:
    """Write every output under a temporary name, then rename: nothing half-written in OUT.

    `then`, given what each file holds once all are written, returns more files to write
    before any is put in place (a run's manifest, which records the others' hashes).
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with _locked(out_dir):
            return _write_locked(out_dir, files, then)
    except OSError as exc:
        raise StorageError(f"{out_dir}: cannot write the reports ({storage_cause(exc)})"
                           ) from None


def _write_file(target: Path, content: Content) -> Written:
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        sink = _HashingFile(handle)
        if isinstance(content, bytes):
            sink.write(content)
        else:
            content(sink)
        handle.flush()
        os.fsync(handle.fileno())
    return Written(sink.digest.hexdigest(), sink.size)


def _write_locked(out_dir: Path, files: Mapping[str, Content],
                  then: Callable[[Mapping[str, Written]], Mapping[str, bytes]] | None
                  ) -> tuple[Path, ...]:
    for stale in out_dir.glob(".incidentscope-*.partial"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    staging = out_dir / f".incidentscope-{uuid.uuid4().hex}.partial"
    staging.mkdir()
    written = []
    try:
        held = {name: _write_file(staging / name, content) for name, content in files.items()}
        for name, content in (then(held) if then is not None else {}).items():
            held[name] = _write_file(staging / name, content)
        for name in held:
            final = out_dir / name
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, final)
            written.append(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tuple(written)
