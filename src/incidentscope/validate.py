"""SQL expressions that check and convert one input column.

Each check yields a reason (never a value) or NULL; each conversion yields the
typed value. Column references are positional names (`c0`, `c1`, ...) chosen
by incidentscope, never names read from a file.
"""

from __future__ import annotations

from incidentscope.contract import EARLIEST, LATEST, TIME_RANGE_TEXT, Column

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
    "region": "not an ISO 3166-2 subdivision code",
    "language": "not a language tag",
}
# Valid values of the code kinds (checked case-insensitively, stored upper-case, language
# lower-case): ISO 3166-1 alpha-2, ISO 3166-2 (DE-BY), a BCP 47 tag's language (and region).
_CODE_PATTERNS = {"country": "[A-Za-z]{2}", "region": "[A-Za-z]{2}-[A-Za-z0-9]{1,3}",
                  "language": "[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*"}
OUT_OF_RANGE = f"outside the supported range {TIME_RANGE_TEXT}"

_ALLOWED = {"channel": "('email', 'phone')", "audience_type": "('tailored', 'partner')"}

# Offsets run from -14:00 to +14:00 (DuckDB itself would accept +25:00).
_TS_OFFSET = (r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?\s*"
              r"(Z|z|[+-](0\d|1[0-4])(:?[0-5]\d)?)$")
_TS_NAIVE = r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?$"


def literal(text: str) -> str:
    """A SQL string literal of one of incidentscope's own fixed strings."""
    return "'" + text.replace("'", "''") + "'"


def out_of_range(typed: str) -> str:
    """True when a converted date or timestamp (UTC) lies outside the supported range
    (contract.EARLIEST to LATEST): such a cell is rejected, so that no stored time can
    break a later query or a conversion to Python."""
    return (f"NOT (CAST({typed} AS TIMESTAMP) >= TIMESTAMP '{EARLIEST.isoformat(sep=' ')}' "
            f"AND CAST({typed} AS TIMESTAMP) < TIMESTAMP '{LATEST.isoformat(sep=' ')}')")


def trimmed(ref: str) -> str:
    return f"nullif(trim({ref}), '')"


# Parquet column types that already are the kind's type: such cells need no parsing.
NATIVE_TYPES = {
    "int64": ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UINTEGER", "USMALLINT", "UTINYINT"),
    "positive_int": ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UINTEGER", "USMALLINT",
                     "UTINYINT"),
    "date": ("DATE",),
    "timestamp": ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP", "TIMESTAMP_MS", "TIMESTAMP_S",
                  "TIMESTAMP_NS"),
}


def is_native(column: Column, source_type: str) -> bool:
    """Whether a typed (Parquet) column can be taken as it is, without a text round trip."""
    return source_type in NATIVE_TYPES.get(column.kind, ())


def hex64_ok(value: str) -> str:
    """True when a lower-cased, trimmed value is 64 hexadecimal characters."""
    return f"regexp_full_match({value}, '[0-9a-f]{{64}}')"


def normalized_hex(ref: str) -> str:
    return f"lower({trimmed(ref)})"


def convert_native(column: Column, ref: str, source_type: str, tz_param: str) -> str:
    """The value of a native typed cell (see `is_native`)."""
    if column.kind == "timestamp":
        if source_type == "TIMESTAMP WITH TIME ZONE":
            return f"timezone('UTC', {ref})"
        # A naive timestamp is read in the incident's input time zone, as naive text is.
        return f"timezone('UTC', timezone({tz_param}, CAST({ref} AS TIMESTAMP)))"
    if column.kind in ("int64", "positive_int"):
        return f"CAST({ref} AS BIGINT)"
    return ref


def problem_native(column: Column, ref: str) -> str:
    """A CASE expression for a native typed cell: only NULL and range can be wrong."""
    missing = f"WHEN {ref} IS NULL THEN '{MISSING}'" if column.required else (
        f"WHEN {ref} IS NULL THEN NULL")
    if column.kind == "positive_int":
        return f"CASE {missing} WHEN {ref} < 1 THEN {literal(REASONS[column.kind])} END"
    if column.kind in ("date", "timestamp"):
        # Parquet can hold DuckDB's 'infinity' and years beyond 9999 (Spark reads them as
        # such): out of the supported range like any other time.
        return f"CASE {missing} WHEN {out_of_range(ref)} THEN {literal(OUT_OF_RANGE)} END"
    return f"CASE {missing} END"


def problem_by_dictionary(column: Column, alias: str) -> str:
    """The check of a hex64 cell through its `hash_dict` row (`alias`), made once per value."""
    missing = f"'{MISSING}'" if column.required else "NULL"
    return (f"CASE WHEN {alias}.hash IS NULL THEN {missing} "
            f"WHEN NOT {alias}.ok THEN {literal(REASONS['hex64'])} END")


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
    if kind == "hex64":
        return normalized_hex(ref)
    if kind in ("channel", "audience_type"):
        # Most cells are already canonical: only the others pay for trim and lower.
        return f"CASE WHEN {ref} IN {_ALLOWED[kind]} THEN {ref} ELSE lower({value}) END"
    if kind == "purposes":
        return value  # made canonical once per distinct text, in compaction
    if kind in ("country", "region"):
        return f"upper({value})"
    if kind == "language":
        return f"lower({value})"
    return value


def problem(column: Column, ref: str, tz_param: str) -> str:
    """A CASE expression: NULL when the cell is valid, else the reason."""
    value = trimmed(ref)
    typed = convert(column, ref, tz_param)
    kind = column.kind
    reason = REASONS.get(kind, "invalid value")
    checks: list[tuple[str, str]] = []  # (condition, reason), the first that holds counts
    if kind in ("int64", "positive_int"):
        bad = f"NOT regexp_matches({value}, '^[+-]?[0-9]+$') OR {typed} IS NULL"
        if kind == "positive_int":
            bad += f" OR {typed} < 1"
        checks.append((bad, reason))
    elif kind in ("date", "timestamp"):
        bad = f"{typed} IS NULL"
        if kind == "date":
            bad += f" OR NOT regexp_matches({value}, '^\\d{{4}}-\\d{{2}}-\\d{{2}}$')"
        checks += [(bad, reason), (out_of_range(typed), OUT_OF_RANGE)]
    elif kind in ("channel", "audience_type"):
        checks.append((f"{typed} NOT IN {_ALLOWED[kind]}", reason))
    elif kind == "hex64":
        checks.append((f"NOT {hex64_ok(typed)}", reason))
    elif kind == "purposes":
        # only separators and blanks
        checks.append((f"NOT regexp_matches({value}, '[^|[:space:]]')", reason))
    elif kind in _CODE_PATTERNS:
        checks.append((f"NOT regexp_full_match({value}, '{_CODE_PATTERNS[kind]}')", reason))
    missing = f"WHEN {value} IS NULL THEN '{MISSING}'" if column.required else (
        f"WHEN {value} IS NULL THEN NULL")
    fast = f"WHEN {ref} IN {_ALLOWED[kind]} THEN NULL " if kind in _ALLOWED else ""
    whens = " ".join(f"WHEN {condition} THEN {literal(why)}" for condition, why in checks)
    return f"CASE {fast}{missing} {whens} END"
