"""DuckDB SQL -> Spark SQL for the ingest checks and the compaction steps.

sqlglot transpiles almost all of it. What it cannot carry with the same meaning is
rewritten here, each rule small and named:

- `regexp_matches` / `regexp_full_match` (RE2) become `RLIKE` with a Java pattern of the
  same meaning: `$` -> `\\z` (Java's `$` also matches before a final newline), `\\s` ->
  RE2's `[\\t\\n\\f\\r ]` (Java's also has \\v), POSIX `[:space:]` spelled out, and the
  full match anchored.
- `trim(x)` strips what DuckDB strips: Unicode space separators (category Zs), not tabs
  or newlines; Spark's TRIM strips only U+0020.
- `lower(x)`: DuckDB maps U+0130 to a plain `i`, Java to `i` + a combining dot.
- `timezone('UTC', TRY_CAST(v AS TIMESTAMPTZ))` and
  `timezone('UTC', timezone(tz, TRY_CAST(v AS TIMESTAMP)))`: Spark's timestamp parser
  accepts and refuses other strings than DuckDB's (`T10:00Z`, `T24:00:00`, a blank before
  the offset), so the ISO-8601 fields are taken apart with regular expressions and
  checked as DuckDB does; a local time that occurs twice (DST ends) is the later instant,
  as in DuckDB (ICU), where Java takes the earlier one.

Results are naive UTC `TIMESTAMP_NTZ`, like DuckDB's TIMESTAMP; the session time zone
must be UTC (the loader sets it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, cast

import sqlglot
from sqlglot import exp

# DuckDB's trim(): the Unicode space separators (category Zs), found by probing DuckDB.
_ZS = r"[\x{20}\x{A0}\x{1680}\x{2000}-\x{200A}\x{202F}\x{205F}\x{3000}]"
_RE2_SPACE = r"[\t\n\f\r ]"  # RE2's \s
_POSIX_SPACE = r"\t\n\x{0B}\f\r "  # RE2's [:space:], inside a bracket expression

# ISO-8601 fields, on an upper-cased value (the gate from validate has checked the shape).
_OFFSET_FIELDS = (r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
                  r"(\s*)(?:Z|([+-])(\d{2})(?::?(\d{2}))?)\z")
_NAIVE_FIELDS = r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\z"


class PortError(ValueError):
    """A DuckDB construct with no Spark rule here (a programming error, not bad data)."""


def java_regex(pattern: str) -> str:
    """An RE2 pattern (as DuckDB's regexp_matches uses it) as a Java pattern."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            pair = pattern[i:i + 2]
            out.append(_RE2_SPACE if pair == r"\s" else pair)
            i += 2
            continue
        if pattern.startswith("[:space:]", i):
            out.append(_POSIX_SPACE)
            i += len("[:space:]")
            continue
        out.append(r"\z" if ch == "$" else ch)
        i += 1
    return "".join(out)


def _spark(sql: str) -> exp.Expression:
    return cast(exp.Expression, sqlglot.parse_one(sql, read="spark"))


def _fill(template: str, **values: exp.Expression) -> exp.Expression:
    """A Spark SQL template whose identifiers `__name` are replaced by expressions."""
    tree = _spark(template)

    def put(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and node.name.startswith("__") and not node.table:
            return values[node.name[2:]].copy()
        return node

    return tree.transform(put)


def _fields(value: exp.Expression, pattern: str, groups: int,
            body: str, **values: exp.Expression) -> exp.Expression:
    """`body` with `f` bound to the pattern's groups (1..groups) of `value`, as an array.

    One regexp_replace takes the value apart once (a group that did not take part is
    empty), and a lambda binds the parts, which keeps the generated code small.
    """
    layout = ",".join(f"${g}" for g in range(1, groups + 1))
    return _fill(
        f"CASE WHEN __value RLIKE __pattern THEN element_at(transform(array(split("
        f"regexp_replace(__value, __pattern, __layout), ',')), f -> {body}), 1) END",
        value=value, pattern=exp.Literal.string(pattern), layout=exp.Literal.string(layout),
        **values)


# The wall-clock time from the fields f[0] day, f[1] hour, f[2] minute, f[3] second,
# f[4] fraction: DuckDB keeps microseconds and drops further digits; 24:00 is the next
# midnight; anything else out of range is NULL (Spark's cast checks day, hour, minute,
# second of a canonical text).
_LOCAL = (
    "CASE WHEN f[1] = '24' THEN CASE WHEN f[2] = '00' AND f[3] IN ('', '00') "
    "AND f[4] RLIKE '^0*$' THEN CAST(date_add(TRY_CAST(f[0] AS DATE), 1) AS TIMESTAMP_NTZ) "
    "END ELSE TRY_CAST(concat(f[0], ' ', coalesce(nullif(f[1], ''), '00'), ':', "
    "coalesce(nullif(f[2], ''), '00'), ':', coalesce(nullif(f[3], ''), '00'), '.', "
    "rpad(substr(f[4], 1, 6), 6, '0')) AS TIMESTAMP_NTZ) END")


def offset_timestamp(value: exp.Expression) -> exp.Expression:
    """timezone('UTC', TRY_CAST(value AS TIMESTAMPTZ)) for an offset-bearing value."""
    # f[5] the blank before the offset (DuckDB refuses one), f[6] sign, f[7] hours,
    # f[8] minutes.
    return _fields(value, _OFFSET_FIELDS, 9,
                   f"CASE WHEN f[5] <> '' THEN NULL WHEN f[6] = '' THEN {_LOCAL} ELSE "
                   "timestampadd(MINUTE, (CASE WHEN f[6] = '-' THEN 1 ELSE -1 END) * "
                   "(CAST(f[7] AS INT) * 60 + CAST(coalesce(nullif(f[8], ''), '0') AS INT)), "
                   f"{_LOCAL}) END")


def zoned_timestamp(value: exp.Expression, zone: exp.Expression) -> exp.Expression:
    """timezone('UTC', timezone(zone, TRY_CAST(value AS TIMESTAMP))) for a naive value."""
    local = _fields(value, _NAIVE_FIELDS, 5, _LOCAL)
    if isinstance(zone, exp.Literal) and zone.this == "UTC":
        return local
    # Java resolves a repeated local time to the earlier instant, DuckDB to the later: the
    # later one uses the offset in force a day on; take it when it gives back this time.
    return _fill(
        "element_at(transform(array(__local), l -> element_at(transform("
        "array(CAST(to_utc_timestamp(l, __zone) AS TIMESTAMP_NTZ)), u -> element_at(transform("
        "array(timestampadd(SECOND, -timestampdiff(SECOND, timestampadd(DAY, 1, u), "
        "CAST(from_utc_timestamp(timestampadd(DAY, 1, u), __zone) AS TIMESTAMP_NTZ)), l)), "
        "v -> CASE WHEN v > u AND CAST(from_utc_timestamp(v, __zone) AS TIMESTAMP_NTZ) = l "
        "THEN v ELSE u END), 1)), 1)), 1)",
        local=local, zone=zone)


def _is_timezone(node: exp.Expression, args: int = 2) -> bool:
    return (isinstance(node, exp.Anonymous) and str(node.name).lower() == "timezone"
            and len(node.expressions) == args)


def _cast_to(node: exp.Expression, *kinds: object) -> exp.Expression | None:
    if isinstance(node, exp.TryCast) and node.to.this in kinds:
        value: exp.Expression = node.this
        return value
    return None


def _sub(node: exp.Expression) -> exp.Expression:
    # transform() does not descend into a node a rule returned: rewrite its parts first.
    return node.transform(rewrite, copy=True)


def _to_utc(node: exp.Expression) -> exp.Expression:
    """timezone('UTC', ...) of an offset-bearing or a zoned local time."""
    target, inner = node.expressions
    if not (isinstance(target, exp.Literal) and target.this == "UTC"):
        raise PortError("timezone() is carried over only into UTC")
    value = _cast_to(inner, exp.DataType.Type.TIMESTAMPTZ)
    if value is not None:
        return offset_timestamp(_sub(value))
    if _is_timezone(inner):
        zone, cast = inner.expressions
        value = _cast_to(cast, exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ)
        if value is not None:
            return zoned_timestamp(_sub(value), _sub(zone))
    raise PortError("a timezone() form without a Spark rule")


def rewrite(node: exp.Expression) -> exp.Expression:
    """One node with its DuckDB meaning in Spark SQL (a `transform` rule, leaves first)."""
    if isinstance(node, exp.RegexpFullMatch):
        pattern = node.expression
        if not isinstance(pattern, exp.Literal):
            raise PortError("regexp_full_match needs a literal pattern")
        return exp.RegexpLike(this=_sub(node.this),
                              expression=exp.Literal.string(f"^(?:{java_regex(pattern.this)})\\z"))
    if isinstance(node, exp.RegexpLike):
        pattern = node.expression
        if not isinstance(pattern, exp.Literal):
            raise PortError("regexp_matches needs a literal pattern")
        return exp.RegexpLike(this=_sub(node.this), expression=exp.Literal.string(
            java_regex(pattern.this)))
    if isinstance(node, exp.Trim) and not node.args.get("expression") and not node.args.get(
            "position"):
        return exp.RegexpReplace(this=_sub(node.this),
                                 expression=exp.Literal.string(f"^{_ZS}+|{_ZS}+\\z"),
                                 replacement=exp.Literal.string(""))
    if isinstance(node, exp.Lower):
        return exp.Lower(this=exp.func("replace", _sub(node.this), exp.Literal.string("\u0130"),
                                       exp.Literal.string("i")))
    if _is_timezone(node):
        return _to_utc(node)
    if isinstance(node, exp.Anonymous):
        raise PortError(f"no Spark rule for the DuckDB function {node.name}()")
    return node


def literal(value: Any) -> exp.Expr:
    """A typed SQL literal for a parameter value (values come from the incident file)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        # a bare 0.5 is DECIMAL in Spark; DuckDB binds a Python float as DOUBLE
        return exp.cast(exp.Literal.string(repr(value)), exp.DataType.build("DOUBLE"))
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        text = value.strftime("%Y-%m-%d %H:%M:%S.%f")
        # TIMESTAMP in DuckDB's dialect is naive; sqlglot writes TIMESTAMP_NTZ for Spark
        return exp.cast(exp.Literal.string(text), exp.DataType.build("TIMESTAMP", dialect="duckdb"))
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    if isinstance(value, str):
        return exp.Literal.string(value)
    raise PortError(f"cannot bind a parameter of type {type(value).__name__} for Spark")


def bind(tree: exp.Expr, values: Mapping[str, Any]) -> exp.Expr:
    """The tree with its `$name` parameters as typed literals (a copy; `tree` stays)."""
    def put(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Placeholder):
            if node.name not in values:
                raise PortError(f"parameter ${node.name} is not bound")
            return literal(values[node.name])
        return node

    return tree.transform(put)


def expression(duckdb_sql: str, params: Mapping[str, Any] | None = None) -> str:
    """One DuckDB SQL expression as Spark SQL, its parameters bound."""
    tree = bind(sqlglot.parse_one(duckdb_sql, read="duckdb"), params or {})
    # Rewrite from the leaves up, so that an outer rule sees the inner rules' results.
    return tree.transform(rewrite, copy=True).sql(dialect="spark")


def statement(duckdb_sql: str) -> exp.Expression:
    """One DuckDB statement, rewritten, as a sqlglot tree (generate it with dialect spark)."""
    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    return tree.transform(rewrite, copy=True)
