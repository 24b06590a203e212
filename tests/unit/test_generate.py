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
