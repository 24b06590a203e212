"""Normalization profiles: how a raw contact becomes the value the matcher hashed.

Platforms normalized differently, so the profile is named in the incident file.
Raw values exist only in memory here; callers hash the result at once.
"""

from __future__ import annotations

import hashlib
import re

import phonenumbers

_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_WHITESPACE = re.compile(r"\s+")
_GMAIL_DOMAINS = ("gmail.com", "googlemail.com")


class NormalizationError(ValueError):
    """A raw value that cannot be normalized. The message is a reason, never the value."""


def normalize_email(raw: str, profile: str) -> str:
    # google removes all whitespace; twitter and meta strip the ends only
    value = _WHITESPACE.sub("", raw).lower() if profile == "google" else raw.strip().lower()
    if not _EMAIL_SHAPE.match(value):
        raise NormalizationError("not an email address")
    if profile == "google":
        local, domain = value.rsplit("@", 1)
        if domain in _GMAIL_DOMAINS:
            local = local.split("+", 1)[0].replace(".", "")
            if not local:
                raise NormalizationError("not an email address")
            value = f"{local}@{domain}"
    return value


def normalize_phone(raw: str, profile: str, region: str | None) -> str:
    """E.164 (`+14155550100`; digits only for `meta`), parsed with `region` as default."""
    try:
        number = phonenumbers.parse(raw, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        if region:
            raise NormalizationError("not a phone number") from None
        raise NormalizationError(
            "not a phone number in international form, and no country is known for it"
        ) from None
    if not phonenumbers.is_possible_number(number):
        raise NormalizationError("not a possible phone number")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164[1:] if profile == "meta" else e164


def normalize(channel: str, raw: str, profile: str, region: str | None = None) -> str:
    if channel == "email":
        return normalize_email(raw, profile)
    if channel == "phone":
        return normalize_phone(raw, profile, region)
    raise NormalizationError("unknown channel")


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def contact_sha256(channel: str, raw: str, profile: str, region: str | None = None) -> str:
    """The hash the matcher would have compared: SHA-256 of the normalized value."""
    return sha256_hex(normalize(channel, raw, profile, region))
