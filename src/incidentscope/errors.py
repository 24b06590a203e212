"""One error hierarchy and one table of exit codes.

Every message is written for a person and never contains a value read from the
inputs: errors name files, rows, columns and reasons only.
"""

from __future__ import annotations

import signal
import threading
from enum import IntEnum
from types import FrameType


class ExitCode(IntEnum):
    """Exit codes of the command-line tool (sysexits.h where one fits)."""

    OK = 0
    DIFFERENCE = 1  # verify found a difference (an input, an output file or a figure)
    USAGE = 64  # bad command line or incident file
    BAD_DATA = 65  # input data rejected (for example under --strict)
    NO_INPUT = 66  # an input file or the workspace does not exist
    INTERNAL = 70  # a bug in incidentscope
    OUT_OF_MEMORY = 71  # DuckDB needed more memory than its limit (--memory-limit)
    IO = 74  # reading or writing failed (disk full, permissions)
    IN_USE = 75  # the workspace is used by another process
    INTERRUPTED = 130  # Ctrl-C (SIGINT); SIGHUP and SIGTERM exit 128 + their number


class IncidentScopeError(Exception):
    """Base of every error incidentscope reports to its users."""

    exit_code: ExitCode = ExitCode.INTERNAL


class IncidentScopeWarning(UserWarning):
    """Something a user should know that does not stop the command (the CLI prints it as
    one `warning:` line on stderr); like errors, it never holds an input value."""


class UsageError(IncidentScopeError):
    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """The incident file is invalid; the message names the file and the key."""


class BadDataError(IncidentScopeError):
    exit_code = ExitCode.BAD_DATA


class MissingInputError(IncidentScopeError):
    exit_code = ExitCode.NO_INPUT


class StorageError(IncidentScopeError):
    exit_code = ExitCode.IO


def storage_cause(exc: BaseException) -> str:
    """Why a read or write failed, in a few fixed words (an OS or DuckDB message may quote a
    path, never shown as it is): the disk is full, no permission, a read-only file system."""
    text = str(exc)
    errno_value = getattr(exc, "errno", None)
    if errno_value == 28 or "No space left" in text:  # ENOSPC
        return "the disk is full"
    if errno_value in (1, 13) or "Permission denied" in text:  # EPERM, EACCES
        return "no permission"
    if errno_value == 30 or "Read-only file system" in text:  # EROFS
        return "a read-only file system"
    return "an input/output error"


class OutOfMemoryError(IncidentScopeError):
    exit_code = ExitCode.OUT_OF_MEMORY


# What to do when DuckDB runs out of memory within its limit (the limit, not the machine:
# a larger limit lets it hold more before spilling; fewer threads need less at once).
OUT_OF_MEMORY_HINT = "rerun with a larger --memory-limit (or fewer --threads)"


class WorkspaceInUseError(IncidentScopeError):
    exit_code = ExitCode.IN_USE


class InterruptedRunError(IncidentScopeError):
    exit_code = ExitCode.INTERRUPTED


_interrupt_received = threading.Event()
_recording_interrupts = threading.Event()
_signal_received: list[int] = []  # the first interrupting signal's number
# Signals that stop a command the way Ctrl-C does: temporary files and folders are removed,
# nothing is half-written, the exit code is 128 + the signal's number.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def interrupt_exit_code() -> int:
    """128 + the number of the signal that stopped the command (130 for Ctrl-C)."""
    return 128 + (_signal_received[0] if _signal_received else int(signal.SIGINT))


def record_interrupts() -> None:
    """Make Ctrl-C (and SIGTERM, SIGHUP) raise KeyboardInterrupt, and remember that it came.

    A killed process cannot clean up after itself; a terminated one can: SIGTERM and SIGHUP
    unwind the stack like Ctrl-C, so that every `finally` removes what it made (a verify's
    temporary workspace, a staging folder in OUT, DuckDB's spill files).

    Ctrl-C can land anywhere, also inside DuckDB while it calls back into Python (reading
    a registered frame's schema, say), where the KeyboardInterrupt comes out as a DuckDB
    error of another type, or leaves the transaction aborted so that the next statement
    fails. Whether the user interrupted is then a recorded fact, not a guess from the
    error's type. Installed by the command-line entry point (main thread only).
    """

    def interrupted(signum: int, _frame: FrameType | None) -> None:
        if not _signal_received:
            _signal_received.append(signum)
        _interrupt_received.set()
        raise KeyboardInterrupt

    for number in STOP_SIGNALS:
        signal.signal(number, interrupted)
    _recording_interrupts.set()


def ignore_interrupts_from_now() -> None:
    """The command's work is complete (outputs written, run recorded): a Ctrl-C while
    it prints its summary must not report an interruption. Only in the command-line
    process (after `record_interrupts`), never in a library caller's."""
    if _recording_interrupts.is_set() and threading.current_thread() is threading.main_thread():
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)


def caused_by_interrupt(exc: BaseException) -> bool:
    """True if Ctrl-C is behind `exc`, directly or as the error it replaced.

    True whenever `record_interrupts`' handler saw a Ctrl-C. Otherwise (the library used
    without the CLI's handler) the chain (`__cause__`, `__context__`) is read: DuckDB
    stops a query for Ctrl-C with an error of its own ("Query interrupted"), and the next
    statement in that transaction fails with a TransactionException. Only types and
    DuckDB's own fixed text are looked at; nothing is printed.
    """
    if _interrupt_received.is_set():
        return True
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, KeyboardInterrupt) or type(current).__name__ == "InterruptException":
            return True
        if isinstance(current, RuntimeError) and "interrupted" in str(current).lower():
            return True
        current = current.__cause__ or current.__context__
    return False
