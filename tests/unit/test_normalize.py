"""Normalization profiles against worked examples from the input contract."""

from __future__ import annotations

import hashlib

import pytest

from incidentscope.normalize import NormalizationError, contact_sha256, normalize


@pytest.mark.parametrize(
    ("profile", "raw", "expected"),
    [
        ("twitter", "  Alice.Smith+ads@Gmail.com ", "alice.smith+ads@gmail.com"),
        ("meta", "\tBob@Example.COM\n", "bob@example.com"),
        ("google", "Alice.Smith+ads@Gmail.com", "alicesmith@gmail.com"),
        ("google", "a.b.c+x+y@GoogleMail.com", "abc@googlemail.com"),
        ("google", " Carol . Jones@Example.org ", "carol.jones@example.org"),
        ("google", "dan.e+tag@example.net", "dan.e+tag@example.net"),
    ],
)
def test_email_profiles(profile: str, raw: str, expected: str) -> None:
    assert normalize("email", raw, profile) == expected


@pytest.mark.parametrize(
    ("profile", "raw", "region", "expected"),
    [
        ("twitter", "(415) 555-0100", "US", "+14155550100"),
        ("twitter", "+1 415 555 0100", None, "+14155550100"),
        ("google", "030 1234567", "DE", "+49301234567"),
        ("twitter", "07700 900123", "GB", "+447700900123"),
        ("twitter", "+44 7700 900123", "DE", "+447700900123"),
        ("meta", "+1 (415) 555-0100", None, "14155550100"),
        ("meta", "030 1234567", "de", "49301234567"),
    ],
)
def test_phone_profiles(profile: str, raw: str, region: str | None, expected: str) -> None:
    assert normalize("phone", raw, profile, region) == expected


@pytest.mark.parametrize(
    ("channel", "raw", "region"),
    [
        ("email", "not-an-email", None),
        ("email", "two@@example.com", None),
        ("email", "@example.com", None),
        ("phone", "(415) 555-0100", None),  # national format needs the account's country
        ("phone", "call me", "US"),
        ("phone", "12", "US"),
    ],
)
def test_unnormalizable_values_are_rejected_without_echoing_them(
    channel: str, raw: str, region: str | None
) -> None:
    with pytest.raises(NormalizationError) as info:
        normalize(channel, raw, "twitter", region)
    assert raw not in str(info.value)


def test_hash_is_sha256_of_the_normalized_value() -> None:
    expected = hashlib.sha256(b"+14155550100").hexdigest()
    assert contact_sha256("phone", "(415) 555-0100", "twitter", "US") == expected
    assert contact_sha256("phone", "(415) 555-0100", "meta", "US") == hashlib.sha256(
        b"14155550100").hexdigest()
