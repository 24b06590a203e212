"""The scenario generator: determinism, the input contract, and ground-truth consistency."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from incidentscope.contract import CHANNELS, TABLES
from incidentscope.errors import UsageError
from incidentscope.generate import GenerateSummary, ScenarioParams, generate
from incidentscope.normalize import contact_sha256

HEX64 = re.compile(r"^[0-9a-f]{64}$")
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
CONTACT_FILE = re.compile(r"^contacts_(\d{4}-\d{2}-\d{2})\.(csv|parquet)$")
RESTRICTED = {"two_factor", "account_recovery"}
SMALL = ScenarioParams(accounts=600, seed=7)


def _read(path: Path) -> pl.DataFrame:
    """A data file with every column as text (CSV) or as typed (Parquet)."""
    if path.suffix == ".csv":
        return pl.read_csv(path, infer_schema=False)
    return pl.read_parquet(path)


def _truth(summary: GenerateSummary) -> dict[str, object]:
    data: dict[str, object] = json.loads(summary.truth_path.read_text())
    return data


def _file_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def _valid_matches(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows of a CSV match log that the contract accepts (the generator's malformed rows out)."""
    return frame.filter(
        pl.col("account_id").str.contains(r"^\d+$")
        & pl.col("matched_at").str.strptime(pl.Datetime, "%Y-%m-%dT%H:%M:%SZ", strict=False)
        .is_not_null()
        & (pl.col("channel").is_null() | pl.col("channel").is_in(list(CHANNELS)))
        & (pl.col("identifier_sha256").is_null()
           | pl.col("identifier_sha256").str.contains(HEX64.pattern))
    )


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> GenerateSummary:
    return generate(tmp_path_factory.mktemp("csv"), SMALL)


@pytest.fixture(scope="module")
def small_hashed(tmp_path_factory: pytest.TempPathFactory) -> GenerateSummary:
    params = ScenarioParams(accounts=600, seed=7, hashed=True, file_format="parquet")
    return generate(tmp_path_factory.mktemp("parquet"), params)


def test_determinism_across_processes(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from datetime import date\n"
        "from incidentscope.generate import ScenarioParams, generate\n"
        "for fmt in ('csv', 'parquet'):\n"
        "    generate(Path(sys.argv[1]) / fmt, ScenarioParams(accounts=400, seed=11,\n"
        "             file_format=fmt, hashed=fmt == 'parquet', post_fix_leak=True))\n"
    )
    for name in ("a", "b"):
        subprocess.run([sys.executable, "-c", script, str(tmp_path / name)], check=True)
    first, second = _file_hashes(tmp_path / "a"), _file_hashes(tmp_path / "b")
    assert first == second
    assert any(name.endswith(".parquet") for name in first)
    assert {"csv/data/uploads.csv", "parquet/data/uploads.parquet",
            "csv/truth_accounts_whole_window.csv"} <= set(first)
    # A different seed gives a different scenario.
    other = generate(tmp_path / "c", ScenarioParams(accounts=400, seed=12))
    assert _file_hashes(other.data_dir) != _file_hashes(tmp_path / "a" / "csv" / "data")


def test_layout_and_incident_file(small_csv: GenerateSummary) -> None:
    out = small_csv.out_dir
    for name in ("accounts", "audiences", "campaigns", "campaign_audiences", "matches",
                 "deliveries"):
        assert (out / "data" / f"{name}.csv").is_file()
    snapshot_files = sorted((out / "data" / "contacts").iterdir())
    assert len(snapshot_files) == small_csv.snapshots == 53
    assert all(CONTACT_FILE.match(p.name) for p in snapshot_files)
    incident = tomllib.loads(small_csv.incident_path.read_text())
    assert incident["incident"]["window_start"] == "2019-01-01T00:00:00Z"
    assert incident["incident"]["fix_at"] == "2019-09-17T00:00:00Z"
    assert incident["incident"]["restricted_purposes"] == ["two_factor", "account_recovery"]
    assert incident["incident"]["audience_types"] == ["tailored", "partner"]
    assert incident["incident"]["normalization"] == "twitter"
    assert incident["report"]["min_cell"] == 10
    from incidentscope.config import load_incident

    loaded = load_incident(small_csv.incident_path)
    assert loaded.restricted_purposes


def test_columns_follow_the_contract(small_csv: GenerateSummary) -> None:
    data = small_csv.data_dir
    for name in ("accounts", "audiences", "campaigns", "campaign_audiences", "matches",
                 "deliveries"):
        frame = _read(data / f"{name}.csv")
        allowed = {c.name for c in TABLES[name].columns}
        required = {c.name for c in TABLES[name].columns if c.required}
        assert required <= set(frame.columns) <= allowed, name
        assert frame.height == small_csv.row_counts[name]
    for path in sorted((data / "contacts").iterdir()):
        frame = _read(path)
        assert frame.columns == ["account_id", "channel", "contact", "purposes"]
    audiences = _read(data / "audiences.csv")
    assert set(audiences["audience_type"]) == {"tailored", "partner"}
    partner = audiences.filter(pl.col("audience_type") == "partner")
    assert partner["partner_id"].null_count() == 0
    assert audiences.filter(pl.col("audience_type") == "tailored")["partner_id"].null_count() == (
        audiences.height - partner.height)
    deliveries = _read(data / "deliveries.csv")
    assert all(TS.match(v) for v in deliveries["served_at"])
    assert deliveries["impressions"].cast(pl.Int64).min() >= 1  # type: ignore[operator]
    campaigns = set(_read(data / "campaigns.csv")["campaign_id"])
    pairs = _read(data / "campaign_audiences.csv")
    assert set(pairs["campaign_id"]) <= campaigns
    assert set(pairs["audience_id"]) <= set(audiences["audience_id"])
    assert set(deliveries["campaign_id"]) <= set(pairs["campaign_id"])


def test_match_log_values(small_csv: GenerateSummary) -> None:
    matches = _read(small_csv.data_dir / "matches.csv")
    valid = _valid_matches(matches)
    truth = _truth(small_csv)
    assert matches.height - valid.height == truth["malformed_rows"]["matches"] == 8  # type: ignore[index]
    assert set(valid["channel"].drop_nulls()) == {"email", "phone"}
    # channel and identifier come together; some older rows lack both.
    assert (valid["channel"].is_null() == valid["identifier_sha256"].is_null()).all()
    with_id = valid["identifier_sha256"].is_not_null().mean()
    assert with_id is not None and 0.6 < float(with_id) < 0.8  # type: ignore[arg-type]
    first_month = valid.filter(pl.col("matched_at") < "2019-02")["identifier_sha256"]
    last_month = valid.filter(pl.col("matched_at") >= "2019-12")["identifier_sha256"]
    assert first_month.is_not_null().mean() < last_month.is_not_null().mean()  # type: ignore[operator]
    audiences = set(_read(small_csv.data_dir / "audiences.csv")["audience_id"])
    assert set(matches["audience_id"]) <= audiences
    accounts = set(_read(small_csv.data_dir / "accounts.csv")["account_id"])
    assert set(valid["account_id"]) <= accounts
    # Midnight matches exist, so some fall exactly on snapshot times.
    assert valid["matched_at"].str.ends_with("T00:00:00Z").any()


def test_account_ids_are_64_bit(small_csv: GenerateSummary) -> None:
    ids = [int(v) for v in _read(small_csv.data_dir / "accounts.csv")["account_id"]]
    assert len(set(ids)) == len(ids)
    assert any(v > 2**53 for v in ids)
    assert all(0 < v < 2**63 for v in ids)
    countries = set(_read(small_csv.data_dir / "accounts.csv")["country"])
    assert {"US", "GB", "DE", "JP"} <= countries


@functools.cache
def _hash(channel: str, value: str, region: str) -> str:
    return contact_sha256(channel, value, "twitter", region)


def _contact_keys(summary: GenerateSummary) -> dict[str, set[tuple[str, str, str, str]]]:
    """Per snapshot date: (account_id, channel, sha256, purposes) of the well-formed rows,
    raw contacts normalized (twitter profile, account's country) and hashed here."""
    data = summary.data_dir
    accounts = _read(data / "accounts.csv" if (data / "accounts.csv").exists()
                     else data / "accounts.parquet")
    country = dict(zip(accounts["account_id"].cast(pl.String), accounts["country"], strict=True))
    out: dict[str, set[tuple[str, str, str, str]]] = {}
    for path in sorted((data / "contacts").iterdir()):
        match = CONTACT_FILE.match(path.name)
        assert match is not None
        rows: set[tuple[str, str, str, str]] = set()
        frame = _read(path)
        raw = "contact" in frame.columns
        for account, channel, value, purposes in frame.iter_rows():
            if account is None or channel not in CHANNELS or not purposes:
                continue
            account = str(account)
            if not account.isdigit():
                continue
            if raw:
                if value == "n/a":
                    continue
                digest = _hash(channel, value, country[account])
            else:
                if not HEX64.match(value):
                    continue
                digest = value
            rows.add((account, channel, digest, purposes))
        out[match.group(1)] = rows
    return out


def test_raw_contacts_normalize_to_the_hashed_export(
    small_csv: GenerateSummary, small_hashed: GenerateSummary
) -> None:
    raw = _contact_keys(small_csv)
    hashed = _contact_keys(small_hashed)
    assert raw == hashed
    purposes = {p for rows in raw.values() for (_, _, _, p) in rows}
    assert {"signup|profile", "two_factor", "account_recovery", "two_factor|profile"} <= purposes
    # Split exports: the same key on two rows of one snapshot.
    assert any(len({k[:3] for k in rows}) < len(rows) for rows in raw.values())


def test_raw_values_look_typed(small_csv: GenerateSummary) -> None:
    frame = pl.concat([_read(p) for p in sorted((small_csv.data_dir / "contacts").iterdir())])
    emails = frame.filter(pl.col("channel") == "email")["contact"].drop_nulls()
    phones = frame.filter(pl.col("channel") == "phone")["contact"].drop_nulls()
    assert emails.str.contains(r"^\s|\s$").any()
    assert emails.str.contains(r"[A-Z]").any()
    domains = emails.str.strip_chars().str.to_lowercase().str.extract(r"@(.+)$").drop_nulls()
    assert set(domains) <= {"example.com", "example.org", "example.net", "mail.example",
                            "post.example"}
    assert phones.str.starts_with("+").any()
    assert (~phones.str.starts_with("+") & (phones != "n/a")).any()


def test_parquet_types(small_hashed: GenerateSummary) -> None:
    data = small_hashed.data_dir
    matches = pl.read_parquet(data / "matches.parquet")
    assert matches.schema["matched_at"] == pl.Datetime("us", "UTC")
    assert matches.schema["account_id"] == pl.Int64
    deliveries = pl.read_parquet(data / "deliveries.parquet")
    assert deliveries.schema["impressions"] == pl.Int64
    snapshot = pl.read_parquet(next((data / "contacts").iterdir()))
    assert snapshot.columns == ["account_id", "channel", "contact_sha256", "purposes"]
    assert snapshot["contact_sha256"].str.contains(HEX64.pattern).all()


def test_truth_is_consistent_with_the_log(small_csv: GenerateSummary) -> None:
    truth = _truth(small_csv)
    truth_ids = [int(v) for v in small_csv.truth_accounts_path.read_text().split()[1:]]
    assert truth_ids == sorted(truth_ids)
    assert len(truth_ids) == truth["affected_accounts"] == small_csv.truth_affected_accounts > 0
    valid = _valid_matches(_read(small_csv.data_dir / "matches.csv"))
    in_window = valid.filter((pl.col("matched_at") >= "2019-01-01")
                             & (pl.col("matched_at") < "2019-09-17"))
    assert set(truth_ids) <= {int(v) for v in in_window["account_id"]}
    log = truth["log"]
    matches = truth["matches"]
    assert isinstance(log, dict) and isinstance(matches, dict)
    # Exact duplicates injected, and de-duplicated in-window rows equal the logged truth classes.
    assert valid.height - valid.unique().height == log["duplicate_rows"] > 0
    logged = matches["logged"]["in_window"]
    assert in_window.unique().height == logged["caused"] + logged["permitted"]
    assert logged["caused"] <= matches["made"]["in_window"]["caused"]
    assert truth["affected_accounts"] <= truth["affected_accounts_made"]  # type: ignore[operator]
    # Lost days have no rows at all.
    days = set(valid["matched_at"].str.slice(0, 10))
    assert len(log["lost_days"]) == 3
    assert not days & set(log["lost_days"])
    assert log["missing_log_days"] >= 3
    assert truth["post_fix_caused"] == 0
    assert matches["logged"]["post_fix"]["caused"] == 0
    assert matches["made"]["before_window"]["caused"] == 0
    by_month = truth["affected_by_month"]
    assert isinstance(by_month, dict)
    assert max(by_month.values()) <= truth["affected_accounts"] <= sum(by_month.values())
    by_country = truth["affected_by_country"]
    assert isinstance(by_country, dict) and sum(by_country.values()) == truth["affected_accounts"]
    assert 6 <= log["mean_matches_per_matched_account"] <= 10


def test_no_damage_means_a_clean_log(tmp_path: Path) -> None:
    summary = generate(tmp_path, ScenarioParams(accounts=300, seed=3, damage=False,
                                                deliveries=False))
    truth = _truth(summary)
    assert truth["malformed_rows"] == {"matches": 0, "contacts": 0}
    assert truth["log"]["duplicate_rows"] == 0  # type: ignore[index]
    assert truth["deliveries"] is None
    assert not (summary.data_dir / "deliveries.csv").exists()
    matches = _read(summary.data_dir / "matches.csv")
    assert _valid_matches(matches).height == matches.height == matches.unique().height


def test_post_fix_leak_knob(tmp_path: Path) -> None:
    params = ScenarioParams(accounts=3000, seed=5, post_fix_leak=True, leak_days=5.0,
                            damage=False, deliveries=False)
    summary = generate(tmp_path, params)
    assert summary.truth_post_fix_caused > 0
    truth = _truth(summary)
    assert truth["matches"]["logged"]["post_fix"]["caused"] == summary.truth_post_fix_caused  # type: ignore[index]


def test_identifiers_belong_to_the_accounts_snapshots(tmp_path: Path) -> None:
    """Without assumption breaks every logged identifier is a key of that account seen in a
    snapshot (ephemeral contacts would not be)."""
    summary = generate(tmp_path, ScenarioParams(accounts=500, seed=9, hashed=True,
                                                assumption_breaks=False, damage=False))
    keys = {(a, c, h) for rows in _contact_keys(summary).values() for (a, c, h, _) in rows}
    matches = _read(summary.data_dir / "matches.csv").drop_nulls("identifier_sha256")
    assert matches.height > 0
    for account, channel, digest in matches.select(
            "account_id", "channel", "identifier_sha256").iter_rows():
        assert (account, channel, digest) in keys
    assert _truth(summary)["assumption_violations"] == {
        "rows": 0, "accounts": 0, "affected_accounts": 0}


def test_matches_total_knob(tmp_path: Path) -> None:
    summary = generate(tmp_path, ScenarioParams(accounts=500, seed=2, matches_total=20_000,
                                                damage=False, deliveries=False))
    assert 18_000 <= summary.row_counts["matches"] <= 22_000


def test_regenerating_removes_stale_snapshots(tmp_path: Path) -> None:
    generate(tmp_path, ScenarioParams(accounts=100, snapshot_every_days=7))
    summary = generate(tmp_path, ScenarioParams(accounts=100, snapshot_every_days=30))
    assert len(list((tmp_path / "data" / "contacts").iterdir())) == summary.snapshots == 13


def test_cadence_does_not_change_the_world(tmp_path: Path) -> None:
    """Only the ephemeral contacts' placement depends on the snapshot dates."""
    weekly = generate(tmp_path / "w", ScenarioParams(accounts=500, seed=8, ephemeral_share=0.0))
    monthly = generate(
        tmp_path / "m",
        ScenarioParams(accounts=500, seed=8, ephemeral_share=0.0, snapshot_every_days=30),
    )
    assert weekly.truth_accounts_path.read_bytes() == monthly.truth_accounts_path.read_bytes()
    assert (weekly.data_dir / "matches.csv").read_bytes() == (
        monthly.data_dir / "matches.csv"
    ).read_bytes()


def test_invalid_parameters(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="file_format"):
        generate(tmp_path, ScenarioParams(file_format="json"))
    with pytest.raises(ValueError, match="fix_at"):
        generate(tmp_path, ScenarioParams(fix_at=date(2018, 1, 1)))


def test_ten_thousand_accounts_in_seconds(tmp_path: Path) -> None:
    started = time.perf_counter()
    summary = generate(tmp_path, ScenarioParams(accounts=10_000, seed=4))
    elapsed = time.perf_counter() - started
    assert summary.row_counts["matches"] > 30_000
    assert elapsed < 15, elapsed


# --- uploads, a late log, random loss, whole-window truth, the folder guard ------------------

def _upload_entries(summary: GenerateSummary) -> list[tuple[int, str, str, str]]:
    """The well-formed upload rows as (epoch seconds, audience_id, channel, sha256), raw
    contacts normalized (twitter profile, the row's country as region) and hashed here."""
    csv = summary.data_dir / "uploads.csv"
    if csv.exists():
        frame = _read(csv).with_columns(
            pl.col("uploaded_at").str.strptime(pl.Datetime("us", "UTC"), "%Y-%m-%dT%H:%M:%SZ",
                                               strict=False).alias("uploaded_at"))
    else:
        frame = _read(summary.data_dir / "uploads.parquet")
    frame = frame.filter(pl.col("uploaded_at").is_not_null()
                         & pl.col("channel").is_in(list(CHANNELS)))
    frame = frame.with_columns(pl.col("uploaded_at").dt.epoch("s").alias("t"))
    out: list[tuple[int, str, str, str]] = []
    if "contact" in frame.columns:
        for t, audience, channel, value, region in frame.select(
                "t", "audience_id", "channel", "contact", "country").iter_rows():
            if value == "n/a":
                continue
            out.append((t, audience, channel, _hash(channel, value, region)))
    else:
        for t, audience, channel, digest in frame.select(
                "t", "audience_id", "channel", "identifier_sha256").iter_rows():
            if HEX64.match(digest):
                out.append((t, audience, channel, digest))
    return out


def _in_window(t: int) -> bool:
    return 1546300800 <= t < 1568678400  # [2019-01-01, 2019-09-17) UTC


def test_uploads_in_both_formats_raw_and_hashed(
    small_csv: GenerateSummary, small_hashed: GenerateSummary
) -> None:
    raw = _read(small_csv.data_dir / "uploads.csv")
    assert raw.columns == ["uploaded_at", "audience_id", "channel", "contact", "country"]
    hashed = pl.read_parquet(small_hashed.data_dir / "uploads.parquet")
    assert hashed.columns == ["uploaded_at", "audience_id", "channel", "identifier_sha256"]
    assert hashed.schema["uploaded_at"] == pl.Datetime("us", "UTC")
    for summary, frame in ((small_csv, raw), (small_hashed, hashed)):
        uploads = _truth(summary)["uploads"]
        assert isinstance(uploads, dict)
        assert frame.height == summary.row_counts["uploads"] == uploads["rows"]
        assert uploads["rows"] == (uploads["entries"] + uploads["duplicate_rows"]
                                   + uploads["malformed_rows"])
        assert uploads["malformed_by_kind"] == {"bad_channel": 2, "bad_value": 2,
                                                "bad_timestamp": 2}
        entries = _upload_entries(summary)
        # Exact duplicates (after parsing) are the truth's duplicate rows; the rest are entries.
        assert len(set(entries)) == uploads["entries"]
        assert len(entries) - len(set(entries)) == uploads["duplicate_rows"] > 0
        in_window = [e for e in entries if _in_window(e[0])]
        assert len(set(in_window)) == uploads["entries_in_window"] < uploads["entries"]
        assert len(in_window) - len(set(in_window)) == uploads["duplicates_in_window"]
        assert 0 < uploads["nonuser_entries"] < uploads["unheld_entries"] < uploads["entries"]
        # Entries before the window, in it and after the fix.
        times = [t for t, _, _, _ in entries]
        assert min(times) < 1546300800 + 31 * 86400 and max(times) > 1568678400
    # The raw export is the hashed one, typed: the same entries once normalized.
    assert sorted(_upload_entries(small_csv)) == sorted(_upload_entries(small_hashed))
    # Raw values as typed: mixed-case emails, national-format phones with their region only.
    phones = raw.filter(pl.col("channel") == "phone")
    national = phones.filter(~pl.col("contact").str.starts_with("+")
                             & (pl.col("contact") != "n/a"))
    assert national.height > 0 and national["country"].null_count() == 0
    assert phones.filter(pl.col("contact").str.starts_with("+"))["country"].null_count() > 0
    assert raw.filter(pl.col("channel") == "email")["country"].null_count() == raw.filter(
        pl.col("channel") == "email").height
    emails = raw.filter(pl.col("channel") == "email")["contact"]
    assert emails.str.contains(r"[A-Z]").any()
    domains = emails.str.strip_chars().str.to_lowercase().str.extract(r"@(.+)$").drop_nulls()
    assert set(domains) <= {"example.com", "example.org", "example.net", "mail.example",
                            "post.example"}


def test_non_users_are_values_no_account_holds(small_hashed: GenerateSummary) -> None:
    from incidentscope.generator.world import build_world

    world = build_world(ScenarioParams(accounts=600, seed=7))
    held = set(world.value_sha.to_list())
    unheld = {h for _, _, _, h in _upload_entries(small_hashed) if h not in held}
    uploads = _truth(small_hashed)["uploads"]
    assert isinstance(uploads, dict)
    # Non-users: distinct values, each uploaded about as often as a listed account's value.
    assert 0 < len(unheld) <= uploads["nonuser_entries"]


def test_every_logged_match_is_an_upload_of_a_value_the_account_held(
    small_hashed: GenerateSummary,
) -> None:
    from incidentscope.generator.world import CHANNELS as WORLD_CHANNELS
    from incidentscope.generator.world import build_world

    world = build_world(ScenarioParams(accounts=600, seed=7))
    c = world.contacts
    holds: dict[int, list[tuple[str, str, int, int]]] = {}
    shas = world.value_sha.to_list()
    for i in range(len(c)):
        holds.setdefault(int(world.account_ids[c.acct[i]]), []).append(
            (WORLD_CHANNELS[c.channel[i]], shas[c.value[i]], int(c.created[i]),
             int(c.removed[i])))
    at: dict[tuple[int, str], set[tuple[str, str]]] = {}
    for t, audience, channel, digest in _upload_entries(small_hashed):
        at.setdefault((t, audience), set()).add((channel, digest))
    matches = pl.read_parquet(small_hashed.data_dir / "matches.parquet").filter(
        pl.col("matched_at").is_not_null() & pl.col("account_id").is_not_null()
        & (pl.col("channel").is_null() | pl.col("channel").is_in(list(CHANNELS)))
        & (pl.col("identifier_sha256").is_null()
           | pl.col("identifier_sha256").str.contains(HEX64.pattern)))
    rows = matches.with_columns(pl.col("matched_at").dt.epoch("s").alias("t")).select(
        "t", "account_id", "audience_id", "channel", "identifier_sha256").iter_rows()
    checked = 0
    for t, account, audience, channel, digest in rows:
        uploaded = at.get((t, audience), set())
        held_then = {(ch, h) for ch, h, created, removed in holds[account]
                     if created <= t < removed}
        candidates = uploaded & held_then
        if digest is not None:
            candidates &= {(channel, digest)}
        assert candidates, (t, audience)
        checked += 1
    assert checked == matches.height > 1000


def test_uploads_use_streams_of_their_own(tmp_path: Path) -> None:
    """With and without uploads, every other file is byte-identical."""
    params = ScenarioParams(accounts=300, seed=4, post_fix_leak=True)
    on = generate(tmp_path / "on", params)
    off = generate(tmp_path / "off", ScenarioParams(accounts=300, seed=4, post_fix_leak=True,
                                                   uploads=False))
    first, second = _file_hashes(on.out_dir), _file_hashes(off.out_dir)
    assert set(first) - set(second) == {"data/uploads.csv"}
    for name in second:
        if name != "truth.json":
            assert first[name] == second[name], name
    truth_on, truth_off = _truth(on), _truth(off)
    assert truth_off["uploads"] is None and isinstance(truth_on["uploads"], dict)
    for key in truth_on:
        if key not in ("uploads", "parameters"):
            assert truth_on[key] == truth_off[key], key


def test_a_late_log_and_random_loss(tmp_path: Path) -> None:
    base = ScenarioParams(accounts=800, seed=6, damage=False, deliveries=False)
    full = generate(tmp_path / "full", base)
    late = generate(tmp_path / "late", ScenarioParams(
        accounts=800, seed=6, damage=False, deliveries=False, log_start=date(2019, 4, 1),
        log_loss_share=0.2))
    # The uploads cover the whole period either way: the same entries, the same bytes.
    assert (full.data_dir / "uploads.csv").read_bytes() == (
        late.data_dir / "uploads.csv").read_bytes()
    assert _read(late.data_dir / "uploads.csv")["uploaded_at"].min() < "2019-01-02"  # type: ignore[operator]
    rows = _read(full.data_dir / "matches.csv")
    kept = _read(late.data_dir / "matches.csv")
    before = rows.filter(pl.col("matched_at") < "2019-04-01")
    after = rows.filter(pl.col("matched_at") >= "2019-04-01")
    assert kept["matched_at"].min() >= "2019-04-01"  # type: ignore[operator]
    # The late log is the full log from its first day, less the rows lost at random.
    assert kept.join(after, on=kept.columns, how="anti", nulls_equal=True).height == 0
    truth_full, truth_late = _truth(full), _truth(late)
    log = truth_late["log"]
    assert isinstance(log, dict)
    assert log["log_start"] == "2019-04-01"
    assert log["first_logged_day"] == kept["matched_at"].min()[:10]  # type: ignore[index]
    assert log["rows_before_log_start"] == before.height > 0
    assert kept.height == after.height - log["randomly_lost_rows"]
    assert 0.15 < log["randomly_lost_rows"] / after.height < 0.25
    assert log["missing_log_days"] >= 90  # 2019-01-01 .. 2019-03-31 are not logged
    assert truth_full["log"]["first_logged_day"] == "2019-01-01"  # type: ignore[index]
    # What the matcher did is the same; only what the log shows of it differs.
    assert truth_late["matches"]["made"] == truth_full["matches"]["made"]  # type: ignore[index]
    assert (truth_late["affected_accounts_whole_window"]
            == truth_full["affected_accounts_whole_window"])
    assert truth_late["affected_accounts"] < truth_full["affected_accounts"]  # type: ignore[operator]
    assert truth_late["affected_accounts"] < truth_late["affected_accounts_whole_window"]  # type: ignore[operator]
    assert truth_late["exposed_accounts"] == truth_full["exposed_accounts"]


def test_a_late_log_with_damage_loses_days_it_covers(tmp_path: Path) -> None:
    summary = generate(tmp_path, ScenarioParams(accounts=300, seed=2,
                                                log_start=date(2019, 6, 1)))
    log = _truth(summary)["log"]
    assert isinstance(log, dict)
    assert len(log["lost_days"]) == 3
    assert all("2019-06-01" <= day < "2019-09-17" for day in log["lost_days"])
    assert _valid_matches(_read(summary.data_dir / "matches.csv"))["matched_at"].min() >= (  # type: ignore[operator]
        "2019-06-01")


def test_whole_window_truth_is_consistent(small_csv: GenerateSummary) -> None:
    truth = _truth(small_csv)
    logged, whole, exposed = (truth["affected_accounts"], truth["affected_accounts_whole_window"],
                              truth["exposed_accounts"])
    assert isinstance(logged, int) and isinstance(whole, int) and isinstance(exposed, int)
    assert 0 < logged <= whole < exposed < 600
    assert whole == truth["affected_accounts_made"]
    assert small_csv.truth_affected_accounts_whole_window == whole
    assert small_csv.truth_exposed_accounts == exposed
    listed = [int(v) for v in (small_csv.out_dir / "truth_accounts_whole_window.csv")
              .read_text().split()[1:]]
    assert listed == sorted(listed) and len(listed) == whole
    affected = [int(v) for v in small_csv.truth_accounts_path.read_text().split()[1:]]
    assert set(affected) <= set(listed)
    # Every account with a restricted-only key in an in-window snapshot truly held one then.
    in_window: set[str] = set()
    for day, rows in _contact_keys(small_csv).items():
        if not "2019-01-01" <= day < "2019-09-17":
            continue
        labels: dict[tuple[str, str, str], set[str]] = {}
        for account, channel, digest, purposes in rows:
            labels.setdefault((account, channel, digest), set()).update(purposes.split("|"))
        in_window |= {key[0] for key, found in labels.items() if found <= RESTRICTED}
    assert 0 < len(in_window) <= exposed
    audiences, campaigns = (truth["affected_audiences_whole_window"],
                            truth["affected_campaigns_whole_window"])
    assert isinstance(audiences, int) and isinstance(campaigns, int)
    assert 0 < audiences <= 20 and campaigns > 0


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "incidentscope", *args], capture_output=True,
                          text=True, timeout=120)


def test_generate_refuses_a_folder_that_is_not_a_scenario(tmp_path: Path) -> None:
    real = tmp_path / "investigation"
    (real / "data").mkdir(parents=True)
    (real / "data" / "matches.csv").write_text("precious\n")
    done = _cli("generate", str(real), "--accounts", "50")
    assert done.returncode == 64
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(real) in lines[0] and "--force" in lines[0]
    assert "matches.csv" not in done.stderr and "Traceback" not in done.stderr
    assert (real / "data" / "matches.csv").read_text() == "precious\n"
    assert not (real / ".incidentscope-scenario").exists()
    with pytest.raises(UsageError, match="not empty"):
        generate(real, ScenarioParams(accounts=50))
    # --force writes there, and marks the folder as a scenario.
    done = _cli("generate", str(real), "--accounts", "50", "--force")
    assert done.returncode == 0, done.stderr
    assert (real / ".incidentscope-scenario").is_file()
    assert (real / "truth.json").is_file()


def test_generate_over_a_previous_scenario_and_into_a_new_folder(tmp_path: Path) -> None:
    target = tmp_path / "new" / "scenario"
    first = generate(target, ScenarioParams(accounts=50, seed=1))
    assert (target / ".incidentscope-scenario").is_file()
    assert target / ".incidentscope-scenario" in first.files
    (target / "notes.txt").write_text("mine\n")
    second = generate(target, ScenarioParams(accounts=50, seed=2, file_format="parquet",
                                             uploads=False))
    assert (target / "notes.txt").read_text() == "mine\n"
    assert not (target / "data" / "uploads.csv").exists()
    assert not (target / "data" / "matches.csv").exists()
    assert second.row_counts["matches"] > 0
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="not a folder"):
        generate(tmp_path / "file", ScenarioParams(accounts=50))


@pytest.mark.parametrize(("args", "needle"), [
    (["--log-start", "2019-02-30"], "--log-start"),
    (["--log-start", "2020-01-05"], "log_start"),
    (["--log-loss", "1.0"], "--log-loss"),
    (["--log-loss", "-0.1"], "--log-loss"),
])
def test_bad_generate_options_are_usage_errors(tmp_path: Path, args: list[str],
                                               needle: str) -> None:
    done = _cli("generate", str(tmp_path / "out"), "--accounts", "50", *args)
    assert done.returncode == 64
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], done.stderr
    assert not (tmp_path / "out").exists()


def test_generate_cli_knobs(tmp_path: Path) -> None:
    done = _cli("generate", str(tmp_path / "g"), "--accounts", "200", "--log-start",
                "2019-05-01", "--log-loss", "0.1", "--no-uploads")
    assert done.returncode == 0, done.stderr
    truth = json.loads((tmp_path / "g" / "truth.json").read_text())
    assert truth["parameters"]["log_start"] == "2019-05-01"
    assert truth["parameters"]["log_loss_share"] == 0.1
    assert truth["uploads"] is None and not (tmp_path / "g" / "data" / "uploads.csv").exists()
    assert truth["log"]["first_logged_day"] >= "2019-05-01"
    assert truth["log"]["randomly_lost_rows"] > 0


# --- against the engine: the truth lies within the reported bounds ---------------------------

def _engine_available() -> bool:
    try:
        import incidentscope.api  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def engine_run(tmp_path: Path) -> Iterator[object]:
    from incidentscope.api import run

    def go(params: ScenarioParams) -> tuple[dict[str, object], dict[str, object]]:
        summary = generate(tmp_path / "scenario", params)
        result = run(summary.incident_path, summary.data_dir, tmp_path / "out",
                     db_path=tmp_path / "workspace.duckdb")
        return result.report, _truth(summary)

    yield go


@pytest.mark.skipif(not _engine_available(), reason="engine not built yet")
@pytest.mark.parametrize(("seed", "every"), [(1, 1), (2, 7), (3, 30)])
def test_truth_within_engine_bounds(engine_run: object, seed: int, every: int) -> None:
    """With the replay semantics' assumptions honoured, lower <= truth <= upper exactly."""
    # Daily snapshots over part of the year only: keeps it quick and puts some matches
    # outside the snapshot range.
    daily = every == 1
    params = ScenarioParams(accounts=400 if daily else 800, seed=seed, snapshot_every_days=every,
                            assumption_breaks=False,
                            snapshots_from=date(2019, 5, 1) if daily else None,
                            snapshots_until=date(2019, 10, 15) if daily else None)
    report, truth = engine_run(params)  # type: ignore[operator]
    bounds = report["affected_accounts"]
    assert bounds["lower"] <= truth["affected_accounts"] <= bounds["upper"]
    assert bounds["lower"] <= bounds["estimate"] <= bounds["upper"]
    assert report["post_fix"]["caused"] == truth["post_fix_caused"] == 0
    coverage = report["coverage"]
    assert coverage["missing_log_days"] == truth["log"]["missing_log_days"]
    assert coverage["duplicate_rows"] == truth["log"]["duplicate_rows"]
    classes = report["matches"]
    logged = truth["matches"]["logged"]["in_window"]
    assert (classes["caused"] + classes["permitted"] + classes["uncertain"]
            + classes["unexplained"]) == logged["caused"] + logged["permitted"]
    assert classes["caused"] <= logged["caused"]
    assert classes["permitted"] <= logged["permitted"]


@pytest.mark.slow
@pytest.mark.skipif(not _engine_available(), reason="engine not built yet")
@pytest.mark.parametrize("every", [1, 7, 30])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_truth_within_engine_bounds_slow(engine_run: object, seed: int, every: int) -> None:
    params = ScenarioParams(accounts=3000, seed=seed, snapshot_every_days=every,
                            assumption_breaks=False, post_fix_leak=seed == 3)
    report, truth = engine_run(params)  # type: ignore[operator]
    bounds = report["affected_accounts"]
    assert bounds["lower"] <= truth["affected_accounts"] <= bounds["upper"]
    assert report["post_fix"]["caused"] <= truth["post_fix_caused"]
    assert report["post_fix"]["fix_held"] == (truth["post_fix_caused"] == 0 or
                                              report["post_fix"]["caused"] == 0)
