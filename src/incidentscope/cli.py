"""The command line: parse options, call one library function, pick a renderer.

stdout carries data (reports, JSON); progress and diagnostics go to stderr.
Every error passes through `main`, which prints one line and exits with the
documented code (docs/exit-codes.md; cli_errors.py). The option types and output
helpers are in cli_options.py.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from incidentscope import cli_errors
from incidentscope.cli_options import (
    DataOpt,
    DbOpt,
    EngineName,
    Format,
    FormatOpt,
    IncidentArg,
    MemoryOpt,
    QuietOpt,
    RunDataOpt,
    ThreadsOpt,
    _days,
    _emit_json,
    _file_format,
    _folder,
    _line,
    _local_data,
    _progress,
    _stdout,
    _warn,
)
from incidentscope.errors import ExitCode, ignore_interrupts_from_now

app = typer.Typer(
    name="incidentscope",
    help="Replay an ad-audience matching incident: who was affected, and how we know.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


@app.command()
def load(
    incident: IncidentArg,
    data: DataOpt,
    db: DbOpt = None,
    strict: Annotated[bool, typer.Option(help="Refuse the load on any rejected row.")] = False,
    quiet: QuietOpt = False,
    output: FormatOpt = Format.table,
    threads: ThreadsOpt = None,
    memory_limit: MemoryOpt = None,
) -> None:
    """Load the input files of DATA into the workspace.

    Example: incidentscope load incident.toml --data exports/
    """
    from incidentscope import api
    from incidentscope.report.text import render_load

    result = api.load(incident, _local_data(data), db_path=db, strict=strict,
                      progress=_progress(quiet),
                      threads=threads, memory_limit=memory_limit)
    _warn(result.warnings)
    if output is Format.json:
        _emit_json(render_load(result, as_json=True))
    else:
        sys.stdout.write(str(render_load(result, as_json=False)))


@app.command()
def replay(
    incident: IncidentArg,
    db: DbOpt = None,
    quiet: QuietOpt = False,
    output: FormatOpt = Format.table,
    threads: ThreadsOpt = None,
    memory_limit: MemoryOpt = None,
) -> None:
    """Replay the loaded workspace and print the figures.

    Example: incidentscope replay incident.toml --format json
    """
    from incidentscope import api

    result = api.replay(incident, db_path=db, progress=_progress(quiet), threads=threads,
                        memory_limit=memory_limit)
    _show_result(result, output)


def _show_result(result: Any, output: Format) -> None:
    _warn(result.report["coverage"]["load_warnings"])
    if output is Format.json:
        from incidentscope.report import json_report

        sys.stdout.write(json_report.render(result))
    elif output is Format.md:
        from incidentscope.report import markdown

        sys.stdout.write(markdown.render(result))
    else:
        from incidentscope.report import terminal

        terminal.print_summary(result, _stdout())


@app.command()
def run(
    incident: IncidentArg,
    data: RunDataOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder for the reports.")],
    db: DbOpt = None,
    strict: Annotated[bool, typer.Option(help="Refuse the load on any rejected row.")] = False,
    quiet: QuietOpt = False,
    output: FormatOpt = Format.table,
    threads: ThreadsOpt = None,
    memory_limit: MemoryOpt = None,
    engine: Annotated[EngineName, typer.Option(
        "--engine", help="duckdb (one machine) or spark (docs/spark.md).")] = EngineName.duckdb,
    spark_master: Annotated[str | None, typer.Option(
        "--spark-master", help="Spark master or Spark Connect URL (sc://host:15002); "
        "default local[2].")] = None,
) -> None:
    """Load, replay and write every report into OUT (report.json and more).

    With --engine spark, --data may be a URI that Spark can read (hdfs://, s3a://, ...).

    Example: incidentscope run incident.toml --data exports/ --out report/ --engine spark
    """
    from incidentscope import api
    from incidentscope.errors import UsageError

    if engine is EngineName.spark:
        if threads or memory_limit:
            raise UsageError("--threads and --memory-limit apply to --engine duckdb")
    elif spark_master is not None:
        raise UsageError("--spark-master needs --engine spark")
    # Spark: a local path or a URI (api.run tells them apart); DuckDB: a local folder
    outcome = api.run(incident, data if engine is EngineName.spark else _local_data(data), out,
                      db_path=db, strict=strict, progress=_progress(quiet), threads=threads,
                      memory_limit=memory_limit,
                      engine="spark" if engine is EngineName.spark else "duckdb",
                      spark_master=spark_master)
    ignore_interrupts_from_now()
    _warn([f"{path}: not a file of an input table; not read"
           for path in outcome.load.unknown_files])
    _show_result(outcome.result, output)
    if not quiet:
        for path in outcome.outputs:
            sys.stderr.write(f"wrote {_line(path)}\n")


@app.command()
def status(incident: IncidentArg, db: DbOpt = None, output: FormatOpt = Format.table) -> None:
    """Show what the workspace holds: tables, snapshots, log range, rejects, key fingerprint.

    Example: incidentscope status incident.toml --format json
    """
    from incidentscope import api
    from incidentscope.report.text import render_status

    info = api.status(incident, db_path=db)
    if output is Format.json:
        _emit_json(info)
    else:
        sys.stdout.write(render_status(info))


@app.command()
def generate(
    out: Annotated[Path, typer.Argument(callback=_folder,
                                        help="Folder to write the scenario into.")],
    accounts: Annotated[int, typer.Option(
        min=10, max=100_000_000, help="Number of accounts.")] = 2000,
    snapshot_every: Annotated[str, typer.Option(
        callback=_days, help="Snapshot cadence, 1d to 3650d, e.g. 1d, 7d, 30d.")] = "7d",
    seed: Annotated[int, typer.Option(
        min=0, max=2**63 - 1, help="Random seed; same seed, same files.")] = 1,
    hashed: Annotated[bool, typer.Option(help="Write contact_sha256 instead of raw contacts.")]
    = False,
    file_format: Annotated[str, typer.Option(
        "--file-format", callback=_file_format, help="csv or parquet.")] = "csv",
    identifier_share: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Share of match rows that log channel and identifier.")]
    = 0.7,
    matches_total: Annotated[int | None, typer.Option(
        min=1, max=10**9, help="Target number of match rows (benchmarks).")]
    = None,
    damage: Annotated[bool, typer.Option(help="Lost log days, duplicates, malformed rows.")]
    = True,
    uploads: Annotated[bool, typer.Option(
        help="Write data/uploads: the list entries the matcher processed.")] = True,
    log_start: Annotated[str | None, typer.Option(
        "--log-start", metavar="DATE",
        help="First day of the match log, e.g. 2019-03-01; after the window start, the "
        "log starts late (default: the window start, 2019-01-01).")] = None,
    log_loss: Annotated[float, typer.Option(
        "--log-loss", metavar="SHARE",
        help="Share of match log rows lost at random, in [0, 1).")] = 0.0,
    force: Annotated[bool, typer.Option(
        help="Write into a folder that holds other files than a generated scenario.")] = False,
) -> None:
    """Write a synthetic investigation with known truth (data/, incident.toml, truth.json).

    OUT must be empty, new, or a scenario generated before (unless --force).

    Example: incidentscope generate scenario/ --accounts 10000 --snapshot-every 7d --seed 3
    """
    from datetime import date

    from incidentscope.errors import UsageError
    from incidentscope.generator import ScenarioParams
    from incidentscope.generator import generate as generate_scenario

    if not snapshot_every.endswith("d") or not snapshot_every[:-1].isdigit():
        raise UsageError("--snapshot-every: a number of days such as 7d")
    first_day = None
    if log_start is not None:
        try:
            first_day = date.fromisoformat(log_start)
        except ValueError:
            raise UsageError("--log-start: a date such as 2019-03-01") from None
    if not 0.0 <= log_loss < 1.0:  # also NaN
        raise UsageError("--log-loss: a share in [0, 1) such as 0.05")
    params = ScenarioParams(
        accounts=accounts, seed=seed, snapshot_every_days=int(snapshot_every[:-1]),
        hashed=hashed, file_format=file_format, identifier_share=identifier_share,
        matches_total=matches_total, damage=damage, uploads=uploads, log_start=first_day,
        log_loss_share=log_loss)
    try:
        params.validate()
    except ValueError as exc:
        raise UsageError(f"generate: {exc}") from None
    summary = generate_scenario(out, params, force=force)
    _emit_json({"incident": str(summary.incident_path), "data": str(summary.data_dir),
                "truth": str(summary.truth_path), "rows": dict(summary.row_counts),
                "snapshots": summary.snapshots,
                "truth_affected_accounts": summary.truth_affected_accounts,
                "truth_post_fix_caused": summary.truth_post_fix_caused})


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", callback=_folder,
                                      help="Folder for the demo run.")] = Path(
        "incidentscope-demo"),
) -> None:
    """Run the whole pipeline on the bundled sample data and show where each report is.

    Example: incidentscope demo --out /tmp/demo
    """
    from incidentscope import api
    from incidentscope.samples import prepare_demo

    incident, data, db = prepare_demo(out)
    outcome = api.run(incident, data, out / "report", db_path=db, progress=_progress(False))
    _show_result(outcome.result, Format.table)
    for path in outcome.outputs:
        sys.stdout.write(f"report: {_line(path)}\n")


@app.command()
def verify(
    manifest_path: Annotated[Path, typer.Argument(help="OUT/manifest.json of the run to check.")],
    data: DataOpt,
    incident: Annotated[
        Path | None,
        typer.Option("--incident", help="Incident file (default: the path in the manifest)."),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="Key file (default: beside the incident's workspace)."),
    ] = None,
) -> None:
    """Re-hash the inputs, re-run in a temporary place and compare every output.

    Prints MATCH, or each changed input, output file and figure; exit code 1 on any
    difference.

    Example: incidentscope verify report/manifest.json --data exports/
    """
    from incidentscope import api

    outcome = api.verify(manifest_path, data, incident_path=incident, key_path=key)
    for line in outcome.changed_inputs:
        sys.stdout.write(f"input changed: {_line(line)}\n")
    for line in outcome.output_differences:
        sys.stdout.write(f"output differs: {_line(line)}\n")
    for line in outcome.figure_differences:
        sys.stdout.write(f"figure differs: {_line(line)}\n")
    for line in outcome.notes:
        sys.stderr.write(f"note: {_line(line)}\n")
    if outcome.match:
        sys.stdout.write("MATCH\n")
    else:
        raise typer.Exit(int(ExitCode.DIFFERENCE))


@app.command()
def history(incident: IncidentArg, db: DbOpt = None, output: FormatOpt = Format.table) -> None:
    """List every recorded run of the workspace with its headline figures.

    Example: incidentscope history incident.toml
    """
    from incidentscope import api

    runs = api.history(incident, db_path=db)
    if output is Format.json:
        _emit_json(runs)
        return
    sys.stdout.write(f"{'run':<26} {'started (UTC)':<20} {'lower':>8} {'estimate':>9} "
                     f"{'upper':>8}  manifest\n")
    for run in runs:
        started = str(run["started_at"])[:19]
        manifest_sha = str(run["manifest_sha256"] or "-")[:12]
        sys.stdout.write(f"{run['run_id']!s:<26} {started:<20} {run['affected_lower']:>8,} "
                         f"{run['affected_estimate']:>9,} {run['affected_upper']:>8,}  "
                         f"{manifest_sha}\n")


@app.command()
def explain(
    incident: IncidentArg,
    account_id: Annotated[int, typer.Argument(
        min=-(2**63), max=2**63 - 1, help="The account to explain (its id, a 64-bit integer).")],
    db: DbOpt = None,
    output: FormatOpt = Format.table,
) -> None:
    """Show the evidence for one account: its matches, their classes and the snapshot states.

    Contact keys appear as short fingerprints, never as values.

    Example: incidentscope explain incident.toml 4032367444756589286 --format md
    """
    from incidentscope import api
    from incidentscope.report import investigate_text as view

    result = api.explain(incident, account_id, db_path=db)
    if output is Format.json:
        _emit_json(view.to_json(result))
    else:
        sys.stdout.write((view.explain_md if output is Format.md else view.explain_text)(result))


def _secret_value(value: str) -> str:
    """The value of --email/--phone; '-' reads it from stdin (keeps it out of shell history)."""
    return sys.stdin.readline().strip() if value == "-" else value


@app.command()
def lookup(
    incident: IncidentArg,
    email: Annotated[str | None, typer.Option(
        "--email", help="An email address to look up; '-' reads it from stdin.",
        show_default=False)] = None,
    phone: Annotated[str | None, typer.Option(
        "--phone", help="A phone number to look up; '-' reads it from stdin.",
        show_default=False)] = None,
    country: Annotated[str | None, typer.Option(
        "--country", help="Country (ISO code) for a phone number not in +international form.")]
    = None,
    account: Annotated[list[int] | None, typer.Option(
        "--account", help="The requester's account id; repeatable. Other accounts that held "
        "the contact are not shown (GDPR Art. 15(4)).", show_default=False)] = None,
    all_accounts: Annotated[bool, typer.Option(
        "--all-accounts", help="Show every account that held the contact (the controller's "
        "own investigation, not an answer to a data subject).")] = False,
    db: DbOpt = None,
    output: FormatOpt = Format.table,
) -> None:
    """Find the accounts that held a contact, when, and explain them. The value is never shown.

    When several accounts held it, only those given with --account are shown, or all of
    them with --all-accounts.

    Example: printf '%s\\n' "$ADDRESS" | incidentscope lookup incident.toml --email -
    """
    from incidentscope import api
    from incidentscope.errors import UsageError
    from incidentscope.report import investigate_text as view

    if (email is None) == (phone is None):
        raise UsageError("lookup: give exactly one of --email or --phone")
    channel = "email" if email is not None else "phone"
    result = api.lookup(incident, channel, _secret_value(email or phone or ""),
                        country=country, db_path=db, accounts=account or (),
                        all_accounts=all_accounts)
    if output is Format.json:
        _emit_json(view.to_json(result))
    else:
        sys.stdout.write((view.lookup_md if output is Format.md else view.lookup_text)(result))


@app.command("what-if")
def what_if(
    incident: IncidentArg,
    window_start: Annotated[list[str] | None, typer.Option(
        "--window-start", help="An alternative window start (date or timestamp); repeatable.",
        show_default=False)] = None,
    fix_at: Annotated[list[str] | None, typer.Option(
        "--fix-at", help="An alternative fix time (date or timestamp); repeatable.",
        show_default=False)] = None,
    restricted_purposes: Annotated[list[str] | None, typer.Option(
        "--restricted-purposes", help="Alternative restricted purposes, 'a,b'; repeatable.",
        show_default=False)] = None,
    audience_types: Annotated[list[str] | None, typer.Option(
        "--audience-types", help="Alternative audience types, e.g. 'tailored'; repeatable.",
        show_default=False)] = None,
    min_audience_size: Annotated[list[int] | None, typer.Option(
        "--min-audience-size", min=1, max=10**9,
        help="An alternative smallest targetable audience; repeatable.",
        show_default=False)] = None,
    without_uploads: Annotated[bool, typer.Option(
        "--without-uploads", help="An alternative that replays the log only, not the "
        "uploaded lists.")] = False,
    combine: Annotated[bool, typer.Option(
        "--combine", help="All options form one alternative (default: one per value).")]
    = False,
    db: DbOpt = None,
    output: FormatOpt = Format.table,
) -> None:
    """Replay under alternative parameters, beside the incident file's own run; saves nothing.

    Each value is one alternative run that differs from the incident file in that one
    parameter; with --combine all options together make one alternative.

    Example: incidentscope what-if incident.toml --window-start 2019-03-01 --fix-at 2019-10-01
    """
    from incidentscope import api
    from incidentscope.investigate import variants_from_options
    from incidentscope.report import investigate_text as view

    variants = variants_from_options(
        window_starts=window_start or (), fix_ats=fix_at or (),
        restricted_purposes=restricted_purposes or (), audience_types=audience_types or (),
        min_audience_sizes=min_audience_size or (), without_uploads=without_uploads,
        combine=combine)
    result = api.what_if(incident, variants, db_path=db)
    if output is Format.json:
        _emit_json(view.to_json(result))
    else:
        sys.stdout.write((view.what_if_md if output is Format.md else view.what_if_text)(result))


@app.command()
def report(
    incident: IncidentArg,
    db: DbOpt = None,
    report_format: Annotated[str, typer.Option(
        "--format", help="table, json, md, html, regulator-md, regulator-html or regulator-pdf.",
    )] = "table",
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write to this file (charts of md go beside it); needed for regulator-pdf; "
        "a folder for regulator.",
    )] = None,
    follow_up_of: Annotated[Path | None, typer.Option(
        "--follow-up-of", help="PREVIOUS/manifest.json: the regulator formats become a "
        "follow-up of that run's notification.", show_default=False)] = None,
    quiet: QuietOpt = False,
) -> None:
    """Replay the workspace and render one report format (stdout, or --out FILE).

    --format regulator writes regulator.md, .html, .pdf and .json into the folder --out.

    Example: incidentscope report incident.toml --format regulator --out followup/
    --follow-up-of initial/manifest.json
    """
    from incidentscope import api
    from incidentscope.config import load_incident
    from incidentscope.errors import UsageError
    from incidentscope.outdir import write_outputs
    from incidentscope.report.outputs import (
        BINARY_FORMATS,
        FOLDER_FORMATS,
        FORMATS,
        REGULATOR_FORMATS,
        render_format,
    )

    if report_format not in FORMATS:
        raise UsageError(f"--format: one of {', '.join(FORMATS)}")
    if report_format in (*BINARY_FORMATS, *FOLDER_FORMATS) and out is None:
        raise UsageError(f"--format {report_format}: binary or several files, give --out")
    regulator = (*REGULATOR_FORMATS, *FOLDER_FORMATS)
    if follow_up_of is not None and report_format not in regulator:
        raise UsageError(f"--follow-up-of: with --format {', '.join(regulator)}")
    folder = report_format in FOLDER_FORMATS
    if out is not None:
        api.check_report_out(out, incident, db, folder=folder)
    result = api.replay(incident, db_path=db, progress=_progress(quiet))
    if report_format == "table":
        _show_result(result, Format.table)
        return
    _warn(result.report["coverage"]["load_warnings"])
    follow_up = (None if follow_up_of is None else
                 api.follow_up(incident, follow_up_of, result, db_path=db))
    files = render_format(result, load_incident(incident), report_format,
                          out.name if out is not None and not folder else None, follow_up)
    if out is None:
        sys.stdout.write(next(iter(files.values())).decode("utf-8"))
        return
    for path in write_outputs(out if folder else out.parent, files):
        if not quiet:
            sys.stderr.write(f"wrote {_line(path)}\n")


@app.command()
def evidence(
    incident: IncidentArg,
    out: Annotated[Path, typer.Option("--out", help="Folder for evidence.json and .md.")],
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample.")] = 2019,
    per_stratum: Annotated[int, typer.Option(
        "--per-class", help="Matches sampled per class (caused, uncertain, unexplained).")]
    = 20,
    db: DbOpt = None,
    threads: ThreadsOpt = None,
) -> None:
    """Write the evidence pack for a regulator's follow-up questions: the method and this
    replay's calibration figure, the input hashes, and a seeded stratified sample of
    matches with their explain records. Person-level: account ids.

    Example: incidentscope evidence incident.toml --out evidence/ --seed 7 --per-class 50
    """
    from incidentscope import api
    from incidentscope.errors import UsageError

    if per_stratum < 1:
        raise UsageError("--per-class: a whole number >= 1")
    for path in api.evidence(incident, out, seed=seed, per_stratum=per_stratum, db_path=db,
                             threads=threads):
        sys.stderr.write(f"wrote {path}\n")


@app.command("diff")
def diff_runs(
    manifest_a: Annotated[Path, typer.Argument(help="RUN_A/manifest.json (the earlier run).")],
    manifest_b: Annotated[Path, typer.Argument(help="RUN_B/manifest.json (the later run).")],
    output: FormatOpt = Format.table,
) -> None:
    """Compare two runs: every report.json figure side by side, the input files added,
    removed or changed (by hash), the incident file and the tool version.

    Example: incidentscope diff initial/manifest.json rerun/manifest.json --format md
    """
    from incidentscope import api
    from incidentscope.report import diff_text

    result = api.diff_runs(manifest_a, manifest_b)
    if output is Format.json:
        _emit_json(diff_text.to_json(result))
    else:
        sys.stdout.write((diff_text.to_md if output is Format.md else diff_text.to_text)(result))


def main() -> None:
    """Entry point: every error is one line on stderr and a documented exit code."""
    cli_errors.run(app)
