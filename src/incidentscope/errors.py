"""One error hierarchy and one table of exit codes.

Every message is written for a person and never contains a value read from the
inputs: errors name files, rows, columns and reasons only.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of the command-line tool (sysexits.h where one fits)."""

    OK = 0
    DIFFERENCE = 1  # verify found a difference; the post-fix control failed with --fail-on-leak
    USAGE = 64  # bad command line or incident file
    BAD_DATA = 65  # input data rejected (for example under --strict)
    NO_INPUT = 66  # an input file or the workspace does not exist
    INTERNAL = 70  # a bug in incidentscope
    IO = 74  # reading or writing failed (disk full, permissions)
    IN_USE = 75  # the workspace is used by another process
    INTERRUPTED = 130  # Ctrl-C


class IncidentScopeError(Exception):
    """Base of every error incidentscope reports to its users."""

    exit_code: ExitCode = ExitCode.INTERNAL


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


class WorkspaceInUseError(IncidentScopeError):
    exit_code = ExitCode.IN_USE


class InterruptedRunError(IncidentScopeError):
    exit_code = ExitCode.INTERRUPTED
