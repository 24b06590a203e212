"""Cases 1-4: malformed rows, structural CSV damage, empty files, the same file twice."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relhelp import LONG, Figure, csv_data_rows, file_rows, query, table_counts

from incidentscope import api, ingest_read, validate
from incidentscope.errors import BadDataError, IncidentScopeError
from workspace_fixtures import write_small_case

NORMALIZATION = {"not an email address", "not a phone number", "not a possible phone number",
                 "unknown channel"}
ALLOWED_REASONS = ({*validate.REASONS.values(), validate.MISSING, *ingest_read._CSV_ERRORS.values(),
                    "unreadable row"} | NORMALIZATION
                   | {"not a phone number in international form, and no country is known for it"})


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small case, loaded once; each example starts from a copy of it."""
    root = tmp_path_factory.mktemp("base")
    incident, data = write_small_case(root)
    api.load(incident, data)
    return root


def fresh(base: Path, target: Path) -> tuple[Path, Path, Path]:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(base, target)
    return target / "incident.toml", target / "data", target / "incident.duckdb"


# -- case 1: malformed rows ---------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    text: bytes
    reason: str | None  # the expected reason when the cell makes its row invalid


def _csv_field(text: str) -> bytes:
    if any(ch in text for ch in ',"\n\r') or text != text.strip():
        return ('"' + text.replace('"', '""') + '"').encode()
    return text.encode()


ids = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=8)
tricky_ids = st.sampled_from(["a,b", 'say "hi"', "two\nlines", "x\r\ny", "  padded  "])


def valid(kind: str) -> st.SearchStrategy[Cell]:
    if kind == "timestamp":
        moment = st.datetimes(min_value=__import__("datetime").datetime(2019, 1, 1),
                              max_value=__import__("datetime").datetime(2019, 12, 31))
        suffix = st.sampled_from(["Z", "+02:00", "", "-0530", "z"])
        sep = st.sampled_from(["T", " ", "t"])
        return st.builds(lambda m, s, x: Cell(
            _csv_field(m.strftime(f"%Y-%m-%d{s}%H:%M:%S") + x), None), moment, sep, suffix)
    if kind == "int64":
        return st.integers(-(2**63), 2**63 - 1).map(lambda n: Cell(_csv_field(f" {n}"), None))
    if kind == "positive_int":
        return st.integers(1, 2**63 - 1).map(lambda n: Cell(str(n).encode(), None))
    if kind == "text":
        return st.one_of(ids, tricky_ids).map(lambda t: Cell(_csv_field(t), None))
    if kind == "channel":
        return st.sampled_from(["email", "EMAIL", " email "]).map(
            lambda t: Cell(_csv_field(t), None))
    if kind == "hex64":
        return st.text("0123456789abcdefABCDEF", min_size=64, max_size=64).map(
            lambda t: Cell(t.encode(), None))
    if kind == "purposes":
        return st.lists(st.sampled_from(["two_factor", "profile", "signup"]), min_size=1,
                        max_size=3).map(lambda p: Cell("|".join(p).encode(), None))
    if kind == "email":
        return st.integers(0, 10**6).map(lambda n: Cell(f"user{n}@example.com".encode(), None))
    raise AssertionError(kind)


def invalid(kind: str, required: bool) -> st.SearchStrategy[Cell]:
    bad: list[tuple[str, str]] = {
        "timestamp": [(v, validate.REASONS["timestamp"]) for v in (
            "2019-02-30T00:00:00Z", "not-a-time", "2019-01-01T25:00:00", "12345",
            "2019-01-01T00:00:00+25:00", "2019/01/01 10:00")],
        "int64": [(v, validate.REASONS["int64"]) for v in (
            "12a", "1.5", "99999999999999999999", "0x10", "1e3", "--1")],
        "positive_int": [(v, validate.REASONS["positive_int"]) for v in ("0", "-3")]
        + [("abc", validate.REASONS["positive_int"])],
        "channel": [(v, validate.REASONS["channel"]) for v in ("fax", "e-mail", "sms")],
        "hex64": [("a" * 63, validate.REASONS["hex64"]), ("g" * 64, validate.REASONS["hex64"]),
                  ("a" * 65, validate.REASONS["hex64"])],
        "email": [("not-an-email", "not an email address"), ("@example.com", "x")],
        "text": [],
        "purposes": [("|", validate.REASONS["purposes"]), (" | ", validate.REASONS["purposes"])],
    }[kind]
    if required:
        bad += [("", validate.MISSING), ("   ", validate.MISSING)]
    if not bad:
        return st.nothing()
    return st.sampled_from(bad).map(lambda pair: Cell(_csv_field(pair[0]), pair[1]))


TABLES: dict[str, tuple[str, list[tuple[str, str, bool]]]] = {
    "deliveries": ("deliveries/gen.csv", [
        ("served_at", "timestamp", True), ("campaign_id", "text", True),
        ("account_id", "int64", True), ("impressions", "positive_int", False)]),
    "matches": ("matches/gen.csv", [
        ("matched_at", "timestamp", True), ("account_id", "int64", True),
        ("audience_id", "text", True), ("channel", "channel", False),
        ("identifier_sha256", "hex64", False)]),
    "contacts": ("contacts/gen_2019-10-07.csv", [
        ("account_id", "int64", True), ("channel", "channel", True),
        ("contact", "email", True), ("purposes", "purposes", True)]),
}


@st.composite
def table_file(draw: st.DrawFn) -> tuple[str, str, bytes, list[int], list[str]]:
    """A CSV file of one table: (table, path, content, lines of bad rows, header)."""
    table = draw(st.sampled_from(sorted(TABLES)))
    path, columns = TABLES[table]
    header = [name for name, _, _ in columns]
    eol = draw(st.sampled_from([b"\n", b"\r\n"]))
    lines = [",".join(header).encode()]
    line_no = 1
    bad_lines: list[int] = []
    for _ in range(draw(st.integers(0, 12))):
        mutation = draw(st.sampled_from(
            ["none", "none", "none", "cell", "cell", "missing", "extra", "utf8", "blank"]))
        if mutation == "blank":  # a blank line is no row
            lines.append(b"")
            line_no += 1
            continue
        cells = [draw(valid(kind)) for _, kind, _ in columns]
        if mutation == "cell":
            i = draw(st.sampled_from([i for i, (_, k, r) in enumerate(columns)
                                      if k != "text" or r]))
            _, kind, required = columns[i]
            choice = draw(st.one_of(invalid(kind, required), st.just(cells[i])))
            cells[i] = choice
        fields = [c.text for c in cells]
        if mutation == "missing":
            fields = fields[: draw(st.integers(1, len(fields) - 1))]
        elif mutation == "extra":
            fields = fields + [b"x"] * draw(st.integers(1, 3))
        elif mutation == "utf8":
            i = draw(st.integers(0, len(fields) - 1))
            at = 1 if fields[i].startswith(b'"') else 0  # inside the value, quoted or not
            fields[i] = fields[i][:at] + b"\xff\xfe" + fields[i][at:]
        row = b",".join(fields)
        line_no += 1
        if mutation in ("missing", "extra", "utf8") or any(c.reason for c in cells):
            bad_lines.append(line_no)
        line_no += row.count(b"\n")
        lines.append(row)
    content = eol.join(lines) + (eol if draw(st.booleans()) else b"")
    return table, path, content, bad_lines, header


@pytest.mark.case(1)
@settings(max_examples=1000 if LONG else 200, deadline=None, derandomize=not LONG,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(spec=table_file())
def test_malformed_rows_are_rejected_with_place_and_reason(
        spec: tuple[str, str, bytes, list[int], list[str]], base: Path, tmp_path: Path,
        figure: Figure) -> None:
    table, rel, content, bad_lines, header = spec
    incident, data, db = fresh(base, tmp_path / "case")
    target = data / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    before = table_counts(db)
    figure.tried += 1
    try:
        result = api.load(incident, data)
    except IncidentScopeError as exc:
        figure.crashes += 1
        figure.notes.append(f"load refused: {type(exc).__name__}")
        raise
    except Exception as exc:
        figure.crashes += 1
        figure.notes.append(f"crash: {type(exc).__name__}")
        raise
    expected_rows = csv_data_rows(target)
    entry = [f for f in result.files if f.path == rel]
    assert len(entry) == 1
    got = entry[0]
    lost = abs(expected_rows - (got.rows_loaded + got.rows_rejected))
    lost += abs((expected_rows - len(bad_lines)) - got.rows_loaded)
    if table == "deliveries":  # not de-duplicated: every valid row is a stored row
        lost += abs(table_counts(db)["deliveries"] - before["deliveries"] - got.rows_loaded)
    rejects = query(db, f"SELECT line, column_name, reason FROM rejects WHERE path = '{rel}'")
    wrong_place = sorted({int(r[0]) for r in rejects if r[0] is not None}) != bad_lines
    leaky = [r for r in rejects if r[2] not in ALLOWED_REASONS
             or (r[1] is not None and r[1] not in header)]
    if lost or wrong_place or leaky:
        figure.rows_lost += lost
        figure.notes.append(f"{table}: lost {lost}, places {wrong_place}, leaks {len(leaky)}")
    assert lost == 0, (expected_rows, got)
    assert not leaky, leaky
    assert sorted({int(r[0]) for r in rejects}) == bad_lines, (rejects, bad_lines)
    assert file_rows(db)[(table, rel)] == (got.rows_read, got.rows_loaded, got.rows_rejected)


# -- case 2: structural damage -------------------------------------------------------------
GOOD_ROWS = 10
DAMAGED_ROW = 5  # 0-based data row; its line is DAMAGED_ROW + 2


def _rows(eol: bytes = b"\n") -> list[bytes]:
    return [f"2019-0{1 + i % 9}-01T00:00:00Z,d{i},{i + 1},{i + 1}".encode()
            for i in range(GOOD_ROWS)]


def damaged(kind: str) -> bytes:
    header = b"served_at,campaign_id,account_id,impressions"
    rows = _rows()
    if kind == "unterminated quote":
        rows[DAMAGED_ROW] = rows[DAMAGED_ROW].replace(b",d5,", b',"d5,')
        return b"\n".join([header, *rows]) + b"\n"
    if kind == "stray quote":
        rows[DAMAGED_ROW] = rows[DAMAGED_ROW].replace(b",d5,", b',d"5,')
        return b"\n".join([header, *rows]) + b"\n"
    if kind == "mixed line endings":
        return b"".join(line + (b"\r\n" if i % 2 else b"\n")
                        for i, line in enumerate([header, *rows]))
    if kind == "bare CR":
        return b"\r".join([header, *rows]) + b"\r"
    if kind == "bare CR in one row":
        rows[DAMAGED_ROW] = rows[DAMAGED_ROW] + b"\r" + rows[DAMAGED_ROW].replace(b"d5", b"d5b")
        return b"\n".join([header, *rows]) + b"\n"
    if kind == "NUL byte":
        rows[DAMAGED_ROW] = rows[DAMAGED_ROW].replace(b",d5,", b",d\x005,")
        return b"\n".join([header, *rows]) + b"\n"
    if kind == "NUL in a number":
        rows[DAMAGED_ROW] = rows[DAMAGED_ROW].replace(b",6,6", b",6\x00,6")
        return b"\n".join([header, *rows]) + b"\n"
    if kind == "BOM":
        return b"\xef\xbb\xbf" + b"\n".join([header, *rows]) + b"\n"
    if kind == "BOM and CRLF":
        return b"\xef\xbb\xbf" + b"\r\n".join([header, *rows]) + b"\r\n"
    if kind == "truncated last line":
        return b"\n".join([header, *rows])[:-6]
    if kind == "truncated inside a quote":
        rows[-1] = rows[-1].replace(b",d9,", b',"d9,')
        return b"\n".join([header, *rows])[:-3]
    if kind == "no final newline":
        return b"\n".join([header, *rows])
    raise AssertionError(kind)


DAMAGE = ["unterminated quote", "stray quote", "mixed line endings", "bare CR",
          "bare CR in one row", "NUL byte", "NUL in a number", "BOM", "BOM and CRLF",
          "truncated last line", "truncated inside a quote", "no final newline"]


@pytest.mark.case(2)
@pytest.mark.parametrize("kind", DAMAGE)
def test_structural_damage_loads_cleanly_or_refuses_the_file(
        kind: str, base: Path, tmp_path: Path, figure: Figure) -> None:
    incident, data, db = fresh(base, tmp_path / "case")
    (data / "deliveries").mkdir()
    target = data / "deliveries" / "damaged.csv"
    target.write_bytes(damaged(kind))
    before = table_counts(db)
    figure.tried += 1
    try:
        result = api.load(incident, data)
    except BadDataError as exc:  # a whole-file rejection: the workspace is unchanged
        figure.notes.append(f"{kind}: whole file refused")
        assert "damaged.csv" in str(exc)
        if table_counts(db) != before:
            figure.rows_lost += 1
        assert table_counts(db) == before
        return
    except Exception as exc:
        figure.crashes += 1
        figure.notes.append(f"{kind}: crash {type(exc).__name__}")
        raise
    got = next(f for f in result.files if f.path == "deliveries/damaged.csv")
    # a NUL byte inside a text value is kept as it is: the row is loaded, not lost
    loaded = {str(r[0]).replace("\x00", "").replace("\"", "") for r in query(
        db, "SELECT campaign_id FROM deliveries WHERE campaign_id NOT IN ('c1', 'c2')")}
    reject_lines = {int(str(r[0])) for r in query(
        db, "SELECT line FROM rejects WHERE path = 'deliveries/damaged.csv'")}
    swallowed = []
    for i in range(GOOD_ROWS):
        touched = i == DAMAGED_ROW or (i == GOOD_ROWS - 1 and "truncated" in kind)
        if f"d{i}" in loaded:
            continue
        if touched and reject_lines:
            continue
        if not touched and (i + 2) in reject_lines and kind in ("bare CR",):
            continue
        swallowed.append(i)
    garbage = {c for c in loaded if c not in {f"d{i}" for i in range(GOOD_ROWS)} | {"d5b"}}
    figure.notes.append(f"{kind}: {got.rows_loaded} loaded, {got.rows_rejected} rejected")
    if swallowed or garbage:
        figure.rows_lost += len(swallowed) + len(garbage)
        figure.notes.append(f"{kind}: swallowed rows {swallowed}, garbage {sorted(garbage)}")
    assert not swallowed and not garbage, (swallowed, garbage, got, reject_lines)
    assert got.rows_loaded + got.rows_rejected == got.rows_read


# -- case 3: empty and header-only files ---------------------------------------------------
@pytest.mark.case(3)
@pytest.mark.parametrize(("content", "status"), [
    (b"", "empty"),
    (b"served_at,campaign_id,account_id,impressions\n", "header only"),
    (b"served_at,campaign_id,account_id,impressions", "header only"),
    (b"\xef\xbb\xbfserved_at,campaign_id,account_id,impressions\r\n", "header only"),
], ids=["empty", "header", "header-no-newline", "header-bom-crlf"])
def test_empty_and_header_only_files_are_reported(
        content: bytes, status: str, base: Path, tmp_path: Path, figure: Figure) -> None:
    incident, data, db = fresh(base, tmp_path / "case")
    (data / "deliveries").mkdir()
    (data / "deliveries" / "thin.csv").write_bytes(content)
    figure.tried += 1
    result = api.load(incident, data)
    got = next(f for f in result.files if f.path == "deliveries/thin.csv")
    assert got.status == status
    assert any(w.startswith("deliveries/thin.csv: ") and status in w for w in result.warnings)
    assert file_rows(db)[("deliveries", "deliveries/thin.csv")] == (0, 0, 0)


@pytest.mark.case(3)
def test_empty_file_warning_reaches_the_user(tmp_path: Path, figure: Figure) -> None:
    from relhelp import cli

    incident, data = write_small_case(tmp_path)
    (data / "deliveries.csv").write_bytes(b"")
    figure.tried += 1
    done = cli("load", str(incident), "--data", str(data), "-q")
    assert done.returncode == 0, done.stderr
    assert b"warning: deliveries.csv: empty, no rows loaded" in done.stdout + done.stderr


# -- case 4: the same file twice, and a renamed copy ---------------------------------------
@pytest.mark.case(4)
def test_same_files_again_and_renamed_copies_change_nothing(
        base: Path, tmp_path: Path, figure: Figure) -> None:
    incident, data, db = fresh(base, tmp_path / "case")
    before = table_counts(db)
    report_before = query(db, "SELECT count(*), sum(copies) FROM matches")
    figure.tried += 1
    again = api.load(incident, data)
    assert {f.status for f in again.files} == {"already loaded"}
    (data / "matches").mkdir()
    shutil.copy(data / "matches.csv", data / "matches" / "copy-of-matches.csv")
    shutil.copy(data / "deliveries.csv", data / "deliveries_renamed.csv")
    (data / "deliveries").mkdir()
    shutil.copy(data / "deliveries.csv", data / "deliveries" / "again.csv")
    shutil.copy(data / "contacts" / "contacts_2019-08-05.csv",
                data / "contacts" / "export-copy_2019-08-05.csv")
    figure.tried += 1
    renamed = api.load(incident, data)
    assert {f.status for f in renamed.files} == {"already loaded"}
    after = table_counts(db)
    if after != before:
        figure.rows_lost += sum(abs(after[k] - before[k]) for k in before)
    assert after == before
    assert query(db, "SELECT count(*), sum(copies) FROM matches") == report_before
    figure.tried += 1
    out1, out2 = tmp_path / "o1", tmp_path / "o2"
    api.run(incident, data, out1)
    api.run(incident, data, out2)
    assert (out1 / "report.json").read_bytes() == (out2 / "report.json").read_bytes()
