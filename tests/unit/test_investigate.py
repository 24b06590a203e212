"""The investigation tools: explain, lookup and what-if, on sample data and generated truth."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import phonenumbers
import pytest

from incidentscope import api, investigate, results, workspace
from incidentscope.config import load_incident
from incidentscope.errors import MissingInputError, UsageError
from incidentscope.generator import ScenarioParams, generate
from incidentscope.normalize import NormalizationError, contact_sha256
from incidentscope.samples import sample_dir


@dataclass(frozen=True)
class Case:
    incident: Path
    data: Path
    db: Path
    out: Path
    truth: frozenset[int]


def _truth(path: Path) -> frozenset[int]:
    with path.open() as handle:
        return frozenset(int(row["account_id"]) for row in csv.DictReader(handle))


def _load_and_replay(incident: Path, data: Path, root: Path) -> None:
    """What `run` does before it renders: load, replay (persisting), keep report.json."""
    api.load(incident, data, db_path=root / "ws.duckdb")
    result = api.replay(incident, db_path=root / "ws.duckdb")
    (root / "out").mkdir()
    (root / "out" / "report.json").write_text(json.dumps(result.report, default=str))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Case:
    root = tmp_path_factory.mktemp("sample")
    incident, data = sample_dir() / "incident.toml", sample_dir() / "data"
    _load_and_replay(incident, data, root)
    return Case(incident, data, root / "ws.duckdb", root / "out",
                _truth(sample_dir() / "truth_accounts.csv"))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Case:
    """A generated case that obeys the replay assumptions, so its truth is exact."""
    root = tmp_path_factory.mktemp("generated")
    params = ScenarioParams(accounts=400, seed=11, snapshot_every_days=7, hashed=False,
                            damage=False, assumption_breaks=False)
    summary = generate(root / "case", params)
    _load_and_replay(summary.incident_path, summary.data_dir, root)
    return Case(summary.incident_path, summary.data_dir, root / "ws.duckdb", root / "out",
                _truth(root / "case" / "truth_accounts.csv"))


def _report(case: Case) -> dict[str, object]:
    data: dict[str, object] = json.loads((case.out / "report.json").read_text())
    return data


# --------------------------------------------------------------------- an independent view


def _countries(data: Path) -> dict[int, str]:
    with (data / "accounts.csv").open() as handle:
        return {int(r["account_id"]): r["country"] for r in csv.DictReader(handle)}


def _fingerprint(key: workspace.PseudonymKey, hashed: str) -> str:
    """The fingerprint of a contact hash, computed without the workspace."""
    pseudonym = int(hashlib.sha256((key.hex + hashed).encode()).hexdigest()[:32], 16)
    text = f"incidentscope-contact-fingerprint:{pseudonym}"
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _states_from_files(case: Case, account_id: int, restricted: set[str]
                       ) -> dict[tuple[str, date], str]:
    """(fingerprint, snapshot date) -> restricted | permitted, read from the raw snapshots."""
    key = workspace.load_or_create_key(workspace.key_path_for(case.db), create=False)
    profile = load_incident(case.incident).normalization
    country = _countries(case.data).get(account_id)
    purposes: dict[tuple[str, date], set[str]] = {}
    for path in sorted((case.data / "contacts").glob("contacts_*.csv")):
        snapshot = date.fromisoformat(path.stem.removeprefix("contacts_"))
        with path.open() as handle:
            for row in csv.DictReader(handle):
                if row["account_id"].strip() != str(account_id):
                    continue
                labels = {p.strip() for p in (row["purposes"] or "").split("|") if p.strip()}
                try:
                    hashed = contact_sha256(row["channel"].strip().lower(), row["contact"],
                                            profile, country)
                except NormalizationError:
                    continue  # rejected at load as well
                if not labels:
                    continue
                purposes.setdefault((_fingerprint(key, hashed), snapshot), set()).update(labels)
    return {k: "restricted" if v <= restricted else "permitted" for k, v in purposes.items()}


def _check_states(case: Case, explanation: results.AccountExplanation) -> int:
    """Every candidate state shown agrees with the raw files; returns how many were checked."""
    truth = _states_from_files(case, explanation.account_id,
                               set(explanation.restricted_purposes))
    checked = 0
    for match in explanation.matches:
        for candidate in match.candidates:
            sides = [candidate.before] + ([candidate.after] if candidate.after else [])
            for side in sides:
                if side.snapshot is None:
                    continue
                expected = truth.get((candidate.fingerprint, side.snapshot), "absent")
                assert side.state == expected, (match, candidate)
                checked += 1
    return checked


# --------------------------------------------------------------------- explain


def test_explain_truly_affected_accounts_on_generated_truth(generated: Case) -> None:
    outcomes = {}
    checked = 0
    for account in sorted(generated.truth)[:25]:
        explanation = api.explain(generated.incident, account, db_path=generated.db)
        outcomes[account] = explanation.outcome
        checked += _check_states(generated, explanation)
        for match in explanation.matches:
            if match.match_class == "caused":
                assert match.candidates
                assert all(c.possible == ("restricted",) for c in match.candidates)
                states = {s.state for c in match.candidates
                          for s in (c.before, c.after) if s is not None}
                assert "restricted" in states and "permitted" not in states
    assert checked > 0
    assert "not affected" not in outcomes.values()
    assert "certainly affected" in outcomes.values()


def test_explain_agrees_with_the_report_and_the_engine(sample: Case) -> None:
    report = _report(sample)
    affected = report["affected_accounts"]
    assert isinstance(affected, dict)
    certain = certain_in_log = 0
    for account in sorted(sample.truth):
        explanation = api.explain(sample.incident, account, db_path=sample.db)
        certain += explanation.outcome == "certainly affected"
        certain_in_log += explanation.classes_in_window["caused"] > 0
        for match in explanation.matches:
            union = {s for c in match.candidates for s in c.possible}
            assert investigate.class_of(union) == match.match_class
            if match.identifier_logged:
                assert [c.fingerprint for c in match.candidates] in (
                    [match.identifier_fingerprint], [])
        _check_states(sample, explanation)
    assert 0 < certain_in_log <= affected["lower"]
    # "certainly affected" counts the uploads replay too: the whole window's lower bound
    whole = report["affected_accounts_whole_window"] or affected
    assert certain_in_log <= certain <= whole["lower"]


def test_explain_shows_no_pseudonym_or_key(sample: Case) -> None:
    key = workspace.load_or_create_key(workspace.key_path_for(sample.db), create=False)
    account = min(sample.truth)
    from incidentscope.report import investigate_text as view

    explanation = api.explain(sample.incident, account, db_path=sample.db)
    text = (view.explain_text(explanation) + view.explain_md(explanation)
            + json.dumps(view.to_json(explanation)))
    assert key.hex not in text
    for history in explanation.keys:
        assert len(history.fingerprint) == 8
        assert f"k:{history.fingerprint}" in text


def test_explain_unknown_account(sample: Case) -> None:
    with pytest.raises(MissingInputError, match="not in this workspace"):
        api.explain(sample.incident, 12345, db_path=sample.db)


# --------------------------------------------------------------------- lookup


def _a_contact(case: Case, channel: str) -> tuple[int, str]:
    """(account, raw value) of a restricted contact of a truly affected account."""
    path = sorted((case.data / "contacts").glob("contacts_*.csv"))[-1]
    with path.open() as handle:
        for row in csv.DictReader(handle):
            if (int(row["account_id"]) in case.truth and row["channel"] == channel
                    and ("two_factor" in row["purposes"]
                         or "account_recovery" in row["purposes"])):
                return int(row["account_id"]), row["contact"]
    raise AssertionError("no contact found")


@pytest.mark.parametrize("channel", ["phone", "email"])
def test_lookup_finds_the_account_of_a_generated_contact(generated: Case, channel: str) -> None:
    account, raw = _a_contact(generated, channel)
    country = _countries(generated.data)[account] if channel == "phone" else None
    result = api.lookup(generated.incident, channel, raw, country=country,
                        db_path=generated.db)
    assert result.found
    assert account in {h.account_id for h in result.holdings}
    assert account in {e.account_id for e in result.explanations}
    key = workspace.load_or_create_key(workspace.key_path_for(generated.db), create=False)
    profile = load_incident(generated.incident).normalization
    assert result.fingerprint == _fingerprint(key, contact_sha256(channel, raw, profile,
                                                                   country))
    assert raw not in repr(result)


def test_lookup_phone_in_international_form_needs_no_country(generated: Case) -> None:
    account, raw = _a_contact(generated, "phone")
    country = _countries(generated.data)[account]
    e164 = phonenumbers.format_number(phonenumbers.parse(raw, country),
                                      phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    result = api.lookup(generated.incident, "phone", e164, db_path=generated.db)
    assert account in {h.account_id for h in result.holdings}


def test_lookup_unknown_and_invalid_contacts(sample: Case) -> None:
    result = api.lookup(sample.incident, "email", "nobody.here@example.invalid",
                        db_path=sample.db)
    assert not result.found and result.explanations == ()
    with pytest.raises(UsageError) as info:
        api.lookup(sample.incident, "phone", "12 34", db_path=sample.db)
    assert "12 34" not in str(info.value) and "the contact you gave" in str(info.value)
    with pytest.raises(UsageError) as info:
        api.lookup(sample.incident, "email", "secret-not-an-address", db_path=sample.db)
    assert "secret" not in str(info.value)


def test_lookup_needs_the_key_file(sample: Case, tmp_path: Path) -> None:
    db = tmp_path / "copy.duckdb"
    db.write_bytes(sample.db.read_bytes())
    with pytest.raises(MissingInputError, match="key file not found"):
        api.lookup(sample.incident, "email", "a@example.org", db_path=db)


# --------------------------------------------------------------------- what-if


def _persisted(db: Path) -> tuple[object, ...]:
    con = workspace.connect(db, read_only=True)
    try:
        return tuple(con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                     for t in ("affected_accounts", "runs"))
    finally:
        con.close()


@pytest.mark.parametrize("name", ["sample", "generated"])
def test_what_if_with_the_incidents_own_parameters_reproduces_the_run(
        name: str, request: pytest.FixtureRequest) -> None:
    case: Case = request.getfixturevalue(name)
    incident = load_incident(case.incident)
    before = _persisted(case.db)
    reports = {p: p.read_bytes() for p in case.out.iterdir()}
    variants = [{"window_start": incident.window_start}, {"fix_at": incident.fix_at},
                {"restricted_purposes": incident.restricted_purposes},
                {"audience_types": incident.audience_types}]
    result = api.what_if(case.incident, list(variants), db_path=case.db)
    main = _report(case)
    assert result.baseline.report == main
    for variant in result.variants:
        assert variant.report == main
        assert variant.headline == investigate.headline(main)
    assert _persisted(case.db) == before
    assert {p: p.read_bytes() for p in case.out.iterdir()} == reports


def test_what_if_alternatives_move_the_figures(sample: Case) -> None:
    variants = investigate.variants_from_options(
        window_starts=["2019-06-01"], restricted_purposes=["two_factor"],
        audience_types=["tailored"])
    result = api.what_if(sample.incident, variants, db_path=sample.db)
    base = result.baseline.headline
    later, narrower, tailored = (v.headline for v in result.variants)
    for figures in (later, narrower, tailored):
        assert figures["accounts_upper"] is not None and base["accounts_upper"] is not None
        assert figures["accounts_upper"] <= base["accounts_upper"]
    assert result.variants[0].window_start == "2019-06-01T00:00:00Z"
    assert result.variants[1].restricted_purposes == ("two_factor",)
    assert result.variants[2].audience_types == ("tailored",)


def test_variants_from_options() -> None:
    variants = investigate.variants_from_options(
        window_starts=["2019-02-01", "2019-03-01"], restricted_purposes=["b, a"])
    assert len(variants) == 3
    assert variants[2] == {"restricted_purposes": ("a", "b")}
    combined = investigate.variants_from_options(window_starts=["2019-02-01"],
                                                 fix_ats=["2019-10-01T12:00:00Z"],
                                                 combine=True)
    assert len(combined) == 1 and set(combined[0]) == {"window_start", "fix_at"}
    with pytest.raises(UsageError, match="once"):
        investigate.variants_from_options(fix_ats=["2019-10-01", "2019-11-01"], combine=True)
    with pytest.raises(UsageError, match="at least one"):
        investigate.variants_from_options()
    with pytest.raises(UsageError, match="lookalike"):
        investigate.variants_from_options(audience_types=["lookalike"])
    with pytest.raises(UsageError):
        investigate.variants_from_options(window_starts=["yesterday"])


def test_what_if_rejects_an_empty_window(sample: Case) -> None:
    with pytest.raises(UsageError, match="before fix_at"):
        api.what_if(sample.incident, [{"fix_at": load_incident(sample.incident).window_start}],
                    db_path=sample.db)


# --------------------------------------------------------------------- Art. 15(4), coverage


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Case:
    """The small case, with account 3 holding account 1's security phone number too."""
    from workspace_fixtures import CANARY_PHONE_NORMALIZED, write_small_case

    root = tmp_path_factory.mktemp("shared")
    incident, data = write_small_case(root)
    with (data / "contacts" / "contacts_2019-08-12.csv").open("a") as handle:
        handle.write(f"3,phone,{CANARY_PHONE_NORMALIZED},two_factor\n")
    (data / "accounts.csv").write_text("account_id,country\n1,US\n2,DE\n3,GB\n4,FR\n")
    _load_and_replay(incident, data, root)
    return Case(incident, data, root / "ws.duckdb", root / "out", frozenset())


def test_other_accounts_sharing_a_contact_are_shown_only_when_asked(shared: Case) -> None:
    from incidentscope.report import investigate_text as view
    from workspace_fixtures import CANARY_PHONE

    def look(**options: object) -> results.LookupResult:
        return api.lookup(shared.incident, "phone", CANARY_PHONE, country="US",
                          db_path=shared.db, **options)  # type: ignore[arg-type]

    default = look()
    assert default.found and default.shown == "none"
    assert default.explanations == () and default.holdings == ()
    assert default.other_accounts == 2 and default.logged_matches == 0
    text = view.lookup_text(default)
    assert "2 account(s) held it" in text and "Art. 15(4)" in text
    assert "account 1" not in text and "account 3" not in text
    mine = look(accounts=[3, 42])
    assert mine.shown == "requested" and [e.account_id for e in mine.explanations] == [3]
    assert {h.account_id for h in mine.holdings} == {3} and mine.other_accounts == 1
    assert mine.not_holding == (42,)
    text = view.lookup_text(mine)
    assert "Account 1" not in text and "Account 3 (GB)" in text
    assert "account 42: never held it" in text
    every = look(all_accounts=True)
    assert every.shown == "all" and [e.account_id for e in every.explanations] == [1, 3]
    assert every.other_accounts == 0 and every.logged_matches == 1  # a duplicate row once
    assert "Account 1 (US)" in view.lookup_text(every)


def test_no_match_is_no_evidence_in_the_replayed_data_with_its_coverage(shared: Case) -> None:
    from incidentscope.report import investigate_text as view

    explanation = api.explain(shared.incident, 4, db_path=shared.db)
    assert explanation.outcome == results.NO_EVIDENCE
    assert explanation.coverage is not None
    assert explanation.coverage.rejected_rows == 3  # not-a-time, 2 contacts rows
    assert explanation.coverage.missing_log_days > 200  # the log holds a few August days
    text = view.explain_text(explanation)
    assert "Account 4 (FR): NO EVIDENCE IN THE REPLAYED DATA" in text
    assert "NOT AFFECTED" not in text.upper().replace("NO EVIDENCE", "")
    assert "days of the window without match log" in text
    assert "not ruled out" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    unknown = api.lookup(shared.incident, "email", "nobody@example.invalid", db_path=shared.db)
    text = view.lookup_text(unknown)
    assert "no evidence in the replayed data" in text and "Coverage:" in text
