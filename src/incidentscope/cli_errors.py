"""How the command line ends: one line on stderr and a documented exit code for every
error (docs/exit-codes.md), usage errors rewritten so that they never echo a value, and
Ctrl-C or a stop signal as exit 128 + the signal.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import traceback
import warnings
from typing import Any

import typer
from typer.exceptions import TyperException

from incidentscope.cli_options import InvalidOption, _line
from incidentscope.errors import (
    STOP_SIGNALS,
    ExitCode,
    IncidentScopeError,
    IncidentScopeWarning,
    caused_by_interrupt,
    interrupt_exit_code,
    record_interrupts,
    storage_cause,
)


def _exit_interrupted() -> None:
    """One line and exit 128 + the signal (130 for Ctrl-C); a second signal during the exit
    must not kill the process."""
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    sys.stderr.write("interrupted: nothing was committed or written half-way\n")
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(interrupt_exit_code())


_python_showwarning = warnings.showwarning


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """incidentscope's own warnings as one line; others (from libraries) as Python shows them."""
    if issubclass(category, IncidentScopeWarning):
        sys.stderr.write(f"warning: {message}\n")
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


# A name the user typed that is echoed in a usage error (an unknown option or command):
# only if it looks like a name. Anything else could be data (`lookup --phone +49 151 ...`).
_NAME = re.compile(r"--?[a-z][a-z0-9-]{0,30}|[a-z][a-z0-9-]{0,30}")


def _usage_message(exc: TyperException) -> str:
    """The one line of a usage error, naming options and reasons, never a value.

    typer (and its click) would echo values: extra arguments (`Got unexpected extra
    argument(s) (151 1234 5678)`), an unknown command, a value not among the choices
    (`'xml' is not one of ...`), any value it cannot convert (`Value 'x' is not a valid
    ...`). This keeps only what names the command line's own parts: option and argument
    names, the allowed choices and ranges.
    """
    from typer._click import exceptions as click_errors

    if isinstance(exc, click_errors.NoArgsIsHelpError):
        return "no command given; the commands are listed above ('incidentscope --help')"
    if isinstance(exc, click_errors.NoSuchOption):
        name = exc.option_name if _NAME.fullmatch(exc.option_name) else None
        text = f"no such option: {name}" if name else "no such option"
        if exc.possibilities:
            text += f" (possible options: {', '.join(sorted(exc.possibilities))})"
        return text
    if isinstance(exc, click_errors.MissingParameter):
        return _line(exc.format_message())
    if isinstance(exc, click_errors.BadParameter):
        where = exc.format_message().split(": ", 1)[0]  # "Invalid value for '--threads'"
        message = exc.message
        if isinstance(exc, InvalidOption) or message.startswith("Input should be"):
            reason = message  # ours, or pydantic's: names the type or the bound only
        elif " is not one of " in message:  # "Value error, 'xml' is not one of 'a', 'b'."
            reason = "not one of " + message.rsplit(" is not one of ", 1)[1].rstrip(".")
        else:
            reason = "not a valid value"
        return _line(f"{where}: {reason}")
    if isinstance(exc, click_errors.BadOptionUsage | click_errors.BadArgumentUsage):
        return _line(exc.format_message())  # built from option and argument names
    message = exc.format_message()
    if message.startswith("Got unexpected extra argument"):
        return "unexpected extra arguments; quote a value that holds spaces"
    if message.startswith("No such command"):
        from difflib import get_close_matches

        typed = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), "")
        ctx = exc.ctx if isinstance(exc, click_errors.UsageError) else None
        commands = sorted(getattr(ctx.command, "commands", {})) if ctx else []
        close = get_close_matches(typed, commands)
        text = f"no such command: {typed}" if _NAME.fullmatch(typed) else "no such command"
        return text + (f"; did you mean {', '.join(close)}?" if close
                       else f" (commands: {', '.join(commands)})")
    if message == "Missing command.":
        return "missing command ('incidentscope --help')"
    return "invalid command line ('incidentscope --help')"


def run(app: typer.Typer) -> None:
    """Run the app: every error is one line on stderr and a documented exit code."""
    os.umask(0o077)  # everything the tool creates is readable by its owner only
    warnings.showwarning = _show_warning
    debug = "--debug" in sys.argv[1:]
    record_interrupts()
    try:
        code = app(standalone_mode=False)
        if code == int(ExitCode.INTERRUPTED):  # typer turns Ctrl-C into a return value
            raise KeyboardInterrupt
        if isinstance(code, int) and code:
            sys.exit(code)
    except SystemExit as exc:
        if exc.code not in (0, None) and caused_by_interrupt(exc):
            _exit_interrupted()
        raise
    except (KeyboardInterrupt, Exception) as exc:
        sys.exit(_exit_code(exc, debug))


def _exit_code(exc: BaseException, debug: bool) -> int:
    """Say what went wrong in one line (the traceback too with --debug); the exit code."""
    if isinstance(exc, IncidentScopeError):
        if caused_by_interrupt(exc):
            _exit_interrupted()
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"error: {_line(exc)}\n")
        return int(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt | typer.Abort):
        _exit_interrupted()
    if isinstance(exc, typer.Exit):
        return int(exc.exit_code)
    if isinstance(exc, TyperException):  # a usage error: bad option or argument
        sys.stderr.write(f"error: {_usage_message(exc)}\n")
        return int(ExitCode.USAGE)
    if caused_by_interrupt(exc):  # DuckDB stopped a query for Ctrl-C
        _exit_interrupted()
    if debug:
        traceback.print_exc()
    if isinstance(exc, OSError):
        # Reading or writing failed where no command said so itself: a permission, a full
        # disk, a read-only file system. The path is shown, the OS's own words are not.
        where = f"{exc.filename}: " if isinstance(exc.filename, str | os.PathLike) else ""
        sys.stderr.write(f"error: {_line(where)}{storage_cause(exc)}\n")
        return int(ExitCode.IO)
    # The exception's text may quote data; name only its type.
    sys.stderr.write(f"internal error ({type(exc).__name__}); rerun with --debug for details\n")
    return int(ExitCode.INTERNAL)
