"""`incidentscope ARGS` in this process: `cli.main` with argv, stdout and stderr replaced.

Faithful to the console script for what the option and renderer cases check (parsing,
validation, the one-line error, the exit code, what is printed), and about 1 s cheaper per
call than a subprocess. What it cannot show (a terminal's width, signals, stdin) is left to
the subprocess checks. The process state `main` changes (umask, SIGINT handler) is restored.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys

from incidentscope.cli import main


class _Stream(io.StringIO):
    """A captured stream that is not a terminal, as in CI or a log file."""

    def isatty(self) -> bool:
        return False


def invoke(*args: str, stdin: str = "") -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `incidentscope ARGS`."""
    out, err = _Stream(), _Stream()
    argv, old_stdin = sys.argv, sys.stdin
    handler = signal.getsignal(signal.SIGINT)
    umask = os.umask(0o022)
    os.umask(umask)
    sys.argv = ["incidentscope", *args]
    sys.stdin = io.StringIO(stdin)
    code: int | str | None = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code
    finally:
        sys.argv, sys.stdin = argv, old_stdin
        signal.signal(signal.SIGINT, handler)
        os.umask(umask)
    if code is None:
        code = 0
    if isinstance(code, str):  # sys.exit("message"): printed, exit 1
        err.write(code + "\n")
        code = 1
    return code, out.getvalue(), err.getvalue()
