"""The output folder (OUT): checked before anything is read, written all at once, locked.

A run must never write over one of its own inputs, fail half-way because OUT cannot
be a folder, or let two runs into one OUT remove each other's staging folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

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


def write_outputs(out_dir: Path, files: dict[str, bytes]) -> tuple[Path, ...]:
    """Write every output under a temporary name, then rename: nothing half-written in OUT."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with _locked(out_dir):
            return _write_locked(out_dir, files)
    except OSError as exc:
        raise StorageError(f"{out_dir}: cannot write the reports ({storage_cause(exc)})"
                           ) from None


def _write_locked(out_dir: Path, files: dict[str, bytes]) -> tuple[Path, ...]:
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
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tuple(written)
