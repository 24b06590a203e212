"""The incident file (incident.toml) as a validated, immutable model.

Unknown sections and keys are rejected, and every error names the file and the
key, so a typo cannot silently change what a run computes.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from incidentscope.contract import TABLES, TIME_RANGE_TEXT, in_time_range
from incidentscope.errors import ConfigError, MissingInputError
from incidentscope.notification import Notification, parse_notification, reject_moved_report_keys

NORMALIZATION_PROFILES = ("twitter", "google", "meta")
AUDIENCE_TYPES = ("tailored", "partner")



@dataclass(frozen=True)
class InputOverride:
    """An `[inputs.NAME]` section: where a table's files are and how its columns are named."""

    path: str | None = None
    columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Incident:
    id: str
    title: str
    window_start: datetime | None  # naive UTC; None means "earliest match"
    fix_at: datetime  # naive UTC
    restricted_purposes: tuple[str, ...]
    audience_types: tuple[str, ...]
    input_timezone: str = "UTC"
    normalization: str = "twitter"
    # the smallest audience a campaign could target (whole-window.md); None: not known
    min_audience_size: int | None = None
    # replay the uploaded lists when loaded (not a key of the file: what-if
    # --without-uploads turns it off)
    use_uploads: bool = True
    min_cell: int = 10
    # the controller's statements for the regulator notification (notification.py)
    notification: Notification = field(default_factory=Notification)
    inputs: dict[str, InputOverride] = field(default_factory=dict)
    source_path: Path | None = None

    def with_changes(self, **changes: Any) -> Incident:
        """A copy with some parameters changed (what-if runs)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values.update(changes)
        return Incident(**values)


def is_time_zone_name(name: object) -> bool:
    """An IANA time zone name (Europe/Berlin, UTC), as every engine knows it: not the names
    of files in the zone database that name no zone (localtime, posixrules)."""
    if not isinstance(name, str) or name in ("localtime", "posixrules"):
        return False
    try:
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        return False
    return name in available_timezones()


def parse_instant(value: object, where: str) -> datetime:
    """A TOML date, datetime or ISO-8601 string as a naive UTC datetime.

    A date means 00:00 UTC of that day; a datetime without an offset is UTC.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ConfigError(f"{where}: not an ISO-8601 date or timestamp") from None
    else:
        raise ConfigError(f"{where}: expected a date or timestamp")
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # an offset that moves the time beyond year 1 or 9999
            raise ConfigError(f"{where}: outside the supported range {TIME_RANGE_TEXT}"
                              ) from None
    if not in_time_range(moment):
        raise ConfigError(f"{where}: outside the supported range {TIME_RANGE_TEXT}")
    return moment


def _string_list(value: object, where: str) -> tuple[str, ...]:
    """A non-empty list of labels, each trimmed, non-blank and without '|' (the separator
    of purposes: a label holding it could never match)."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a non-empty list of strings")
    labels = {v.strip() for v in value}
    if "" in labels:
        raise ConfigError(f"{where}: a label is blank")
    if any("|" in label for label in labels):
        raise ConfigError(f"{where}: a label contains '|', the separator of purposes")
    return tuple(sorted(labels))


def _whole_number(value: object) -> bool:
    """A whole number >= 1 (TOML integers only: not a bool, a float or a string)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _reject_unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}'")


def load_incident(path: Path) -> Incident:
    """Read and validate an incident file."""
    if not path.is_file():
        raise MissingInputError(f"{path}: incident file not found")
    try:
        # utf-8-sig: a byte order mark, as some editors write, is not part of the TOML
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message names a line and column, never a value.
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_incident(raw, str(path), source_path=path)


def parse_incident(raw: dict[str, Any], name: str, source_path: Path | None = None) -> Incident:
    _reject_unknown(raw, {"incident", "report", "notification", "inputs"}, name)
    section = raw.get("incident")
    if not isinstance(section, dict):
        raise ConfigError(f"{name}: missing section [incident]")
    where = f"{name}: [incident]"
    _reject_unknown(
        section,
        {
            "id", "title", "window_start", "fix_at", "restricted_purposes",
            "audience_types", "input_timezone", "normalization", "min_audience_size",
        },
        where,
    )
    incident_id, title = _identity(section, where)
    window_start, fix_at = _window(section, where)
    restricted, audience_types = _scope(section, where)
    input_timezone = section.get("input_timezone", "UTC")
    if not is_time_zone_name(input_timezone):
        raise ConfigError(f"{where}.input_timezone: not an IANA time zone name")
    normalization = section.get("normalization", "twitter")
    if normalization not in NORMALIZATION_PROFILES:
        raise ConfigError(f"{where}.normalization: one of {', '.join(NORMALIZATION_PROFILES)}")
    min_audience_size = section.get("min_audience_size")
    if min_audience_size is not None and not _whole_number(min_audience_size):
        raise ConfigError(f"{where}.min_audience_size: a whole number >= 1")
    return Incident(
        id=incident_id,
        title=title,
        window_start=window_start,
        fix_at=fix_at,
        restricted_purposes=restricted,
        audience_types=audience_types,
        input_timezone=input_timezone,
        normalization=normalization,
        min_audience_size=min_audience_size,
        min_cell=_min_cell(raw, name),
        notification=parse_notification(raw.get("notification", {}), name),
        inputs=_inputs(raw.get("inputs", {}), name),
        source_path=source_path,
    )


def _identity(section: dict[str, Any], where: str) -> tuple[str, str]:
    """[incident].id and .title."""
    incident_id = section.get("id")
    if not isinstance(incident_id, str) or not incident_id.strip():
        raise ConfigError(f"{where}.id: required, a non-empty string")
    if not all(ch.isalnum() or ch in "-_." for ch in incident_id):
        raise ConfigError(f"{where}.id: use letters, digits, '-', '_' and '.' only")
    title = section.get("title", incident_id)
    if not isinstance(title, str):
        raise ConfigError(f"{where}.title: expected a string")
    return incident_id, title


def _window(section: dict[str, Any], where: str) -> tuple[datetime | None, datetime]:
    """[incident].window_start (optional) and .fix_at."""
    if "fix_at" not in section:
        raise ConfigError(f"{where}.fix_at: required")
    fix_at = parse_instant(section["fix_at"], f"{where}.fix_at")
    window_start = None
    if "window_start" in section:
        window_start = parse_instant(section["window_start"], f"{where}.window_start")
        if window_start >= fix_at:
            raise ConfigError(f"{where}.window_start: must be before fix_at")
    return window_start, fix_at


def _scope(section: dict[str, Any], where: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """[incident].restricted_purposes and .audience_types."""
    restricted = _string_list(
        section.get("restricted_purposes", ["two_factor", "account_recovery"]),
        f"{where}.restricted_purposes",
    )
    audience_types = _string_list(
        section.get("audience_types", list(AUDIENCE_TYPES)), f"{where}.audience_types"
    )
    for audience_type in audience_types:
        if audience_type not in AUDIENCE_TYPES:
            raise ConfigError(f"{where}.audience_types: '{audience_type}' is not one of "
                              f"{', '.join(AUDIENCE_TYPES)}")
    return restricted, audience_types


def _min_cell(raw: dict[str, Any], name: str) -> int:
    """[report].min_cell."""
    report = raw.get("report", {})
    if not isinstance(report, dict):
        raise ConfigError(f"{name}: [report] must be a table")
    reject_moved_report_keys(report, name)
    _reject_unknown(report, {"min_cell"}, f"{name}: [report]")
    min_cell = report.get("min_cell", 10)
    if not _whole_number(min_cell):
        raise ConfigError(f"{name}: [report].min_cell: a whole number >= 1")
    return int(min_cell)


def _inputs(inputs_raw: Any, name: str) -> dict[str, InputOverride]:
    """[inputs.TABLE]: a path and column names other than the contract's."""
    if not isinstance(inputs_raw, dict):
        raise ConfigError(f"{name}: [inputs] must be a table")
    inputs: dict[str, InputOverride] = {}
    for table_name, override in sorted(inputs_raw.items()):
        where_input = f"{name}: [inputs.{table_name}]"
        if table_name not in TABLES:
            raise ConfigError(f"{name}: [inputs]: unknown table '{table_name}'")
        if not isinstance(override, dict):
            raise ConfigError(f"{where_input}: must be a table")
        _reject_unknown(override, {"path", "columns"}, where_input)
        input_path = override.get("path")
        if input_path is not None and not isinstance(input_path, str):
            raise ConfigError(f"{where_input}.path: expected a string")
        columns = override.get("columns", {})
        if not isinstance(columns, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in columns.items()
        ):
            raise ConfigError(f"{where_input}.columns: expected a table of strings")
        known = {column.name for column in TABLES[table_name].columns}
        for contract_column in columns:
            if contract_column not in known:
                raise ConfigError(f"{where_input}.columns: unknown column '{contract_column}'")
        inputs[table_name] = InputOverride(path=input_path, columns=dict(sorted(columns.items())))
    return inputs
