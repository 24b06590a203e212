"""Synthetic contact values: phones from phonenumbers' example ranges, reserved-domain emails.

Every value is built vectorized from a per-country template, so a million phones cost
no more than a few polars string operations. Raw values are written the way people type
them; the normalized value (twitter profile) is what the matcher hashed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import phonenumbers
import polars as pl

EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "post.example")
FIRST_NAMES = (
    "anna", "ben", "carla", "dario", "emma", "felix", "greta", "hugo", "ines", "jonas", "kira",
    "liam", "mia", "noah", "olga", "paul", "quinn", "rosa", "sami", "tara", "umar", "vera",
    "wei", "xena", "yuki", "zoe", "aiko", "bruno", "chloe", "dev",
)
LAST_NAMES = (
    "smith", "mueller", "martin", "garcia", "rossi", "silva", "kumar", "sato", "murphy", "jansen",
    "dubois", "schmidt", "lopez", "bianchi", "santos", "patel", "tanaka", "kelly", "devries",
    "moreau", "fischer", "jones", "romero", "ferrari", "costa", "singh", "suzuki", "walsh",
    "bakker", "bernard",
)

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class PhoneTemplate:
    country: str
    calling_code: str
    nsn_prefix: str  # national significant number without the varied tail
    tail_digits: int
    national: tuple[str, str]  # (text before the tail, separators pattern of the tail)
    international: tuple[str, str]


def _split_template(formatted: str, tail_digits: int) -> tuple[str, str]:
    """Cut a formatted number where its last `tail_digits` digits start."""
    seen = 0
    for pos in range(len(formatted) - 1, -1, -1):
        if formatted[pos].isdigit():
            seen += 1
            if seen == tail_digits:
                return formatted[:pos], formatted[pos:]
    raise ValueError("number shorter than its tail")


def phone_template(country: str, tail_digits: int) -> PhoneTemplate:
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        raise ValueError(f"no example mobile number for {country}")
    nsn = phonenumbers.national_significant_number(example)
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    intl = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return PhoneTemplate(
        country=country,
        calling_code=str(example.country_code),
        nsn_prefix=nsn[:-tail_digits],
        tail_digits=tail_digits,
        national=_split_template(national, tail_digits),
        international=_split_template(intl, tail_digits),
    )


def _render(head: str, pattern: str, tails: pl.Expr) -> pl.Expr:
    """head + the tail digits laid into pattern's digit positions (keeping its separators)."""
    parts: list[pl.Expr] = [pl.lit(head)]
    digit = 0
    literal = ""
    for char in pattern:
        if char.isdigit():
            if literal:
                parts.append(pl.lit(literal))
                literal = ""
            parts.append(tails.str.slice(digit, 1))
            digit += 1
        else:
            literal += char
    if literal:
        parts.append(pl.lit(literal))
    return pl.concat_str(parts)


def phone_values(
    template: PhoneTemplate, tails: IntArray, style: npt.NDArray[np.int8]
) -> tuple[pl.Series, pl.Series]:
    """(raw, e164) for numbers of one country. style 0 national, 1 international, 2 E.164."""
    frame = pl.DataFrame({"tail": tails, "style": style})
    tail = pl.col("tail").cast(pl.String).str.zfill(template.tail_digits)
    e164 = pl.concat_str([pl.lit("+" + template.calling_code + template.nsn_prefix), tail])
    raw = (
        pl.when(pl.col("style") == 0).then(_render(*template.national, tail))
        .when(pl.col("style") == 1).then(_render(*template.international, tail))
        .otherwise(e164)
    )
    out = frame.select(raw.alias("raw"), e164.alias("e164"))
    return out["raw"], out["e164"]


def email_values(
    rng: np.random.Generator, unique_ids: IntArray
) -> tuple[pl.Series, pl.Series]:
    """(raw, normalized) emails, one per unique id: mixed case, some stray whitespace."""
    n = len(unique_ids)
    first = np.asarray(FIRST_NAMES)[rng.integers(0, len(FIRST_NAMES), n)]
    last = np.asarray(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), n)]
    sep = np.asarray([".", "_", ""])[rng.integers(0, 3, n)]
    domain = np.asarray(EMAIL_DOMAINS)[rng.integers(0, len(EMAIL_DOMAINS), n)]
    case_style = rng.choice(4, size=n, p=[0.55, 0.3, 0.1, 0.05])
    pad_style = rng.choice(4, size=n, p=[0.9, 0.04, 0.04, 0.02])
    frame = pl.DataFrame({
        "first": first, "last": last, "sep": sep, "uid": unique_ids, "domain": domain,
        "case": case_style, "pad": pad_style,
    })
    local = pl.concat_str([pl.col("first"), pl.col("sep"), pl.col("last"),
                           pl.col("uid").cast(pl.String)])
    normalized = pl.concat_str([local, pl.lit("@"), pl.col("domain")])
    titled_local = pl.concat_str([
        pl.col("first").str.to_titlecase(), pl.col("sep"), pl.col("last").str.to_titlecase(),
        pl.col("uid").cast(pl.String),
    ])
    cased = (
        pl.when(pl.col("case") == 1).then(
            pl.concat_str([titled_local, pl.lit("@"), pl.col("domain")]))
        .when(pl.col("case") == 2).then(
            pl.concat_str([local, pl.lit("@"), pl.col("domain").str.to_uppercase()]))
        .when(pl.col("case") == 3).then(normalized.str.to_uppercase())
        .otherwise(normalized)
    )
    raw = (
        pl.when(pl.col("pad") == 1).then(pl.concat_str([pl.lit(" "), cased]))
        .when(pl.col("pad") == 2).then(pl.concat_str([cased, pl.lit(" ")]))
        .when(pl.col("pad") == 3).then(pl.concat_str([pl.lit("  "), cased, pl.lit(" ")]))
        .otherwise(cased)
    )
    out = frame.select(raw.alias("raw"), normalized.alias("norm"))
    return out["raw"], out["norm"]


def sha256_series(values: pl.Series) -> pl.Series:
    """Lowercase hex SHA-256 of each UTF-8 value, in order."""
    return pl.Series(
        values.name,
        [hashlib.sha256(v.encode("utf-8")).hexdigest() for v in values.to_list()],
        dtype=pl.String,
    )
