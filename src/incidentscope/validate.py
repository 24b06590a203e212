"""SQL expressions that check and convert one input column.

Each check yields a reason (never a value) or NULL; each conversion yields the
typed value. Column references are positional names (`c0`, `c1`, ...) chosen
by incidentscope, never names read from a file.
"""

from __future__ import annotations

from incidentscope.contract import Column

# Reasons are fixed strings: the only thing a rejected row reports besides its place.
MISSING = "missing value"
REASONS = {
    "int64": "not a 64-bit integer",
    "positive_int": "not a whole number >= 1",
    "date": "not a date (YYYY-MM-DD)",
    "timestamp": "not an ISO-8601 timestamp",
    "channel": "channel is not 'email' or 'phone'",
    "audience_type": "audience_type is not 'tailored' or 'partner'",
    "hex64": "not 64 hexadecimal characters",
    "purposes": "no purposes",
    "country": "not an ISO 3166-1 alpha-2 country code",
}

# Offsets run from -14:00 to +14:00 (DuckDB itself would accept +25:00).
_TS_OFFSET = (r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?\s*"
              r"(Z|z|[+-](0\d|1[0-4])(:?[0-5]\d)?)$")
_TS_NAIVE = r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?$"


def literal(text: str) -> str:
    """A SQL string literal of one of incidentscope's own fixed strings."""
    return "'" + text.replace("'", "''") + "'"


def trimmed(ref: str) -> str:
    return f"nullif(trim({ref}), '')"


def convert(column: Column, ref: str, tz_param: str) -> str:
    """The typed value of a valid cell (NULL for an optional empty one)."""
    value = trimmed(ref)
    kind = column.kind
    if kind in ("int64", "positive_int"):
        return f"TRY_CAST({value} AS BIGINT)"
    if kind == "date":
        return f"TRY_CAST({value} AS DATE)"
    if kind == "timestamp":
        # An offset is honoured; a naive value is read in the incident's input time zone.
        value = f"upper({value})"  # 't' and 'z' are valid ISO-8601 too
        return (
            f"CASE WHEN regexp_matches({value}, '{_TS_OFFSET}') "
            f"THEN timezone('UTC', TRY_CAST({value} AS TIMESTAMPTZ)) "
            f"WHEN regexp_matches({value}, '{_TS_NAIVE}') "
            f"THEN timezone('UTC', timezone({tz_param}, TRY_CAST({value} AS TIMESTAMP))) END"
        )
    if kind in ("channel", "audience_type", "hex64"):
        return f"lower({value})"
    if kind == "purposes":
        return value  # made canonical once per distinct text, in compaction
    if column.name == "country":
        return f"upper({value})"
    return value


def problem(column: Column, ref: str, tz_param: str) -> str:
    """A CASE expression: NULL when the cell is valid, else the reason."""
    value = trimmed(ref)
    typed = convert(column, ref, tz_param)
    kind = column.kind
    if kind in ("int64", "positive_int"):
        bad = f"NOT regexp_matches({value}, '^[+-]?[0-9]+$') OR {typed} IS NULL"
        if kind == "positive_int":
            bad += f" OR {typed} < 1"
    elif kind in ("date", "timestamp"):
        bad = f"{typed} IS NULL"
        if kind == "date":
            bad += f" OR NOT regexp_matches({value}, '^\\d{{4}}-\\d{{2}}-\\d{{2}}$')"
    elif kind == "channel":
        bad = f"{typed} NOT IN ('email', 'phone')"
    elif kind == "audience_type":
        bad = f"{typed} NOT IN ('tailored', 'partner')"
    elif kind == "hex64":
        bad = f"NOT regexp_full_match({typed}, '[0-9a-f]{{64}}')"
    elif kind == "purposes":
        bad = f"NOT regexp_matches({value}, '[^|[:space:]]')"  # only separators and blanks
    elif column.name == "country":
        bad = f"NOT regexp_full_match({value}, '[A-Za-z]{{2}}')"
    else:
        bad = "false"
    reason = REASONS["country"] if column.name == "country" else REASONS.get(kind, "invalid value")
    missing = f"WHEN {value} IS NULL THEN '{MISSING}'" if column.required else (
        f"WHEN {value} IS NULL THEN NULL")
    return f"CASE {missing} WHEN {bad} THEN {literal(reason)} END"
