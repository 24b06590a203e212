"""A small hand-checked investigation written as input files, for ingest and CLI tests.

All values are synthetic: reserved example domains and fictitious phone numbers.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

CANARY_EMAIL = "Canary.Person@Example.org"
CANARY_EMAIL_NORMALIZED = "canary.person@example.org"
CANARY_PHONE = "(201) 555-0123"
CANARY_PHONE_NORMALIZED = "+12015550123"

INCIDENT = """\
[incident]
id = "small"
title = "Small hand-checked case"
window_start = "2019-01-01"
fix_at = "2019-09-17T00:00:00Z"
restricted_purposes = ["two_factor", "account_recovery"]
audience_types = ["tailored", "partner"]
"""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_small_case(root: Path, *, incident: str = INCIDENT) -> tuple[Path, Path]:
    """Write incident.toml and data/ under root; return (incident path, data dir)."""
    data = root / "data"
    (data / "contacts").mkdir(parents=True, exist_ok=True)
    (root / "incident.toml").write_text(incident)
    (data / "accounts.csv").write_text("account_id,country\n1,US\n2,DE\n3,GB\n")
    (data / "contacts" / "contacts_2019-08-05.csv").write_text(
        "account_id,channel,contact,purposes\n"
        f"1,phone,{CANARY_PHONE},two_factor\n"
        f"1,email, {CANARY_EMAIL} ,signup|profile\n"
        "2,phone,030 1234567,two_factor\n"
        "3,email,not-an-email,profile\n"
    )
    (data / "contacts" / "contacts_2019-08-12.csv").write_text(
        "account_id,channel,contact,purposes\n"
        f"1,phone,+1 201 555 0123,two_factor|profile\n"
        f"1,email,{CANARY_EMAIL_NORMALIZED},signup|profile\n"
        "2,phone,+49 30 1234567,two_factor\n"
    )
    rows = [
        f"2019-08-06T10:00:00Z,1,aud1,phone,{sha(CANARY_PHONE_NORMALIZED)}",
        f"2019-08-06T10:00:00Z,1,aud1,phone,{sha(CANARY_PHONE_NORMALIZED)}",
        "2019-08-07T10:00:00Z,2,aud2,,",
        "2019-08-07T12:00:00+02:00,2,aud3,,",
        f"2019-08-20T10:00:00Z,1,aud1,email,{sha(CANARY_EMAIL_NORMALIZED)}",
        f"2019-09-20T10:00:00Z,2,aud1,phone,{sha('+49301234567')}",
        f"not-a-time,2,aud1,phone,{sha('+49301234567')}",
    ]
    (data / "matches.csv").write_text(
        "matched_at,account_id,audience_id,channel,identifier_sha256\n" + "\n".join(rows) + "\n")
    (data / "audiences.csv").write_text(
        "audience_id,advertiser_id,audience_type,partner_id,notes\n"
        "aud1,adv1,tailored,,x\naud2,adv2,partner,p1,y\naud3,adv2,lookalike,,z\n")
    (data / "campaigns.csv").write_text("campaign_id,advertiser_id,name\nc1,adv1,Spring\n"
                                        "c2,adv2,Fall\n")
    (data / "campaign_audiences.csv").write_text("campaign_id,audience_id\nc1,aud1\nc2,aud2\n")
    (data / "deliveries.csv").write_text(
        "served_at,campaign_id,account_id,impressions\n"
        "2019-08-08T00:00:00Z,c1,1,3\n2019-09-20T12:00:00Z,c1,2,2\n")
    return root / "incident.toml", data


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    """Rows of one query on a workspace, opened read-only."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
